"""How the fake org's Outbound Message sender reaches an endpoint.

:class:`HttpTransport` makes a real HTTP(S) POST with ``http.client`` — deliberately not
``requests``, so it still reaches a live receiver while ``responses`` intercepts the
test's own Salesforce calls.  :class:`WsgiTransport` hands the request straight to a WSGI
app (e.g. a Flask receiver) for fully in-process tests.
"""

from __future__ import annotations

import http.client
import ssl
from typing import Any, Callable, Mapping, Protocol
from urllib.parse import urlsplit


class Transport(Protocol):
    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
        """POST ``body`` to ``url``; return (status, response body)."""


class HttpTransport:
    """A real POST over HTTP or HTTPS (``ca_file`` to trust a test CA; ``verify=False`` to skip checks)."""

    def __init__(self, *, ca_file: str | None = None, verify: bool = True) -> None:
        self.ca_file = ca_file
        self.verify = verify

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
        parts = urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=self.ca_file)
            if not self.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout, context=context)
        elif parts.scheme == "http":
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        else:
            raise ValueError(f"unsupported endpoint scheme: {url}")
        try:
            # Salesforce sends User-Agent "Jakarta Commons-HttpClient/3.1" style agents; any fixed value will do.
            connection.request("POST", path, body=body,
                               headers={**headers, "User-Agent": "Salesforce Outbound Message (tether fake org)"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


class WsgiTransport:
    """Deliver into a WSGI application without a socket (``url`` supplies the path and host)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
        from werkzeug.test import Client

        parts = urlsplit(url)
        client = Client(self.app)
        response = client.post(parts.path or "/", query_string=parts.query, data=body, headers=dict(headers),
                               base_url=f"{parts.scheme}://{parts.netloc}")
        return response.status_code, response.get_data()


class CallableTransport:
    """Deliver to a plain function ``handler(url, body, headers) -> (status, body)``."""

    def __init__(self, handler: Callable[[str, bytes, Mapping[str, str]], tuple[int, bytes]]) -> None:
        self.handler = handler

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
        return self.handler(url, body, headers)
