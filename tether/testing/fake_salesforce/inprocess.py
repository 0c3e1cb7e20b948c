"""In-process mode: ``responses`` intercepts the client's HTTPS calls and feeds them to the
same WSGI app the server uses.

Intercepted: the org's instance host plus ``login.salesforce.com`` and
``test.salesforce.com`` (SOAP login, OAuth token endpoint).  Loopback URLs pass through, so
a test can mix in a real local receiver or the HTTPS server.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator
from urllib.parse import urlsplit

import requests
import responses
from werkzeug.test import EnvironBuilder, run_wsgi_app

from .errors import HangRequested
from .org import FakeOrg

LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
PASSTHROUGH = (re.compile(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/"),)
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        return body.read()
    return b"".join(part if isinstance(part, bytes) else str(part).encode() for part in body)


class ResponsesBridge:
    """A ``responses`` callback that runs one request through the org's WSGI app."""

    def __init__(self, org: FakeOrg) -> None:
        self.org = org
        self.app = org.app(in_process=True)

    def __call__(self, request: requests.PreparedRequest) -> Any:
        parts = urlsplit(request.url)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        builder = EnvironBuilder(method=request.method, base_url=f"{parts.scheme}://{parts.netloc}",
                                 path=parts.path, query_string=parts.query, headers=headers,
                                 data=_body_bytes(request.body))
        environ = builder.get_environ()
        try:
            app_iter, status, response_headers = run_wsgi_app(self.app, environ, buffered=True)
        except HangRequested:
            return requests.exceptions.ReadTimeout(f"fake org: {request.method} {parts.path} never answered")
        body = b"".join(app_iter)
        pairs = [(key, value) for key, value in response_headers.items() if key.lower() != "content-length"]
        return int(status.split(" ", 1)[0]), pairs, body


@contextlib.contextmanager
def fake_org_responses(org: FakeOrg | None = None, *, mock: responses.RequestsMock | None = None,
                       passthrough: tuple[Any, ...] = PASSTHROUGH) -> Iterator[FakeOrg]:
    """Serve ``org`` (a new FakeOrg if None) to every ``requests`` call inside the block.

    Pass ``mock`` to register on an existing ``responses.RequestsMock`` instead of starting one.
    """
    org = org or FakeOrg()
    _forget_what_the_connector_kept()
    bridge = ResponsesBridge(org)
    hosts = "|".join(re.escape(host) for host in (org.instance_host, *LOGIN_HOSTS))
    pattern = re.compile(rf"^https://({hosts})/.*")
    own_mock = mock is None
    active = mock or responses.RequestsMock(assert_all_requests_are_fired=False)
    for method in _METHODS:
        active.add_callback(method, pattern, callback=bridge, content_type=None)
    for prefix in passthrough:
        active.add_passthru(prefix)
    if own_mock:
        with active:
            yield org
    else:
        yield org


def _forget_what_the_connector_kept() -> None:
    """In-process orgs all answer at the same instance URL: a session or schema the
    connector kept from an earlier org is not this org's."""
    try:
        from tether.plugins.salesforce.auth import SESSIONS
        from tether.plugins.salesforce.connector import CATALOGS, STAGES
    except ImportError:  # the kit without the Salesforce plugin
        return
    SESSIONS.clear()
    CATALOGS.clear()
    STAGES.clear()
