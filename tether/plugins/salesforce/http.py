"""The one HTTP session a connector uses: TLS trust, timeouts, call counting, API usage.

simple-salesforce takes the session directly; salesforce-bulk calls the module-level
``requests`` functions, so :mod:`.bulk` routes those through the same session. Either
way every response passes :meth:`ApiMeter.on_response`, which counts API calls and reads
``Sforce-Limit-Info`` (``api-usage=used/limit``).
"""

from __future__ import annotations

import re
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter

_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


class ApiMeter:
    """API calls made through one connector, and the org's usage as last reported."""

    def __init__(self) -> None:
        self.calls = 0
        self.used: int | None = None
        self.limit: int | None = None
        self._lock = threading.Lock()

    def on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        url = response.url or ""
        if "/services/data" in url or "/services/async" in url:
            with self._lock:
                self.calls += 1
                match = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
                if match:
                    self.used, self.limit = int(match.group(1)), int(match.group(2))
        return response

    def usage(self) -> tuple[int, int] | None:
        if self.used is None or self.limit is None:
            return None
        return (self.used, self.limit)


class _TimeoutAdapter(HTTPAdapter):
    """Applies a default timeout: neither simple-salesforce nor salesforce-bulk sets one."""

    def __init__(self, timeout: float, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(**kwargs)

    def send(self, request, **kwargs):  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def make_session(*, ca_bundle: str | None, timeout: float, meter: ApiMeter) -> requests.Session:
    session = requests.Session()
    adapter = _TimeoutAdapter(timeout, pool_connections=4, pool_maxsize=8)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if ca_bundle:
        session.verify = ca_bundle
        # Otherwise a REQUESTS_CA_BUNDLE in the environment would override the tenant's bundle.
        session.trust_env = False
    session.hooks["response"].append(meter.on_response)
    session.headers["User-Agent"] = "tether-salesforce"
    return session
