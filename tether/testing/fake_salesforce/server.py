"""The fake org as a real HTTPS server on loopback.

A trustme CA issues a certificate for ``127.0.0.1``/``localhost`` at start; its PEM bundle is
written to a temp file (``ca_bundle_path``) for ``requests`` to verify against, so
simple-salesforce's hard-coded ``https://`` URLs work unmodified.  A background thread
delivers due Outbound Messages over real HTTP(S).
"""

from __future__ import annotations

import contextlib
import io
import os
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .clock import FakeClock
from .org import DEFAULT_API_VERSION, FakeOrg


class _Body(io.RawIOBase):
    """A request body read from the connection, never past its Content-Length: what the app
    leaves unread is drained afterwards, so the next request on the connection starts clean."""

    def __init__(self, stream: Any, length: int) -> None:
        self.stream = stream
        self.remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.remaining <= 0:
            return 0
        data = self.stream.read(min(len(buffer), self.remaining))
        buffer[:len(data)] = data
        self.remaining -= len(data)
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        limit = self.remaining if size is None or size < 0 else min(size, self.remaining)
        line = self.stream.readline(limit) if limit > 0 else b""
        self.remaining -= len(line)
        return line

    def drain(self) -> bool:
        while self.remaining > 0:
            data = self.stream.read(min(65536, self.remaining))
            if not data:
                return False
            self.remaining -= len(data)
        return True


class _QuietHandler(WSGIRequestHandler):
    """No per-request logging (URLs and headers may carry session ids); drops hung
    connections; keeps connections alive as Salesforce does.

    werkzeug's development server answers every request with ``Connection: close`` because
    ``http.server`` cannot drain an unread body; this handler bounds the body to its
    Content-Length and drains it, so a client (requests' pool) reuses its TLS connection
    instead of paying a handshake per API call. Chunked request bodies still close.
    """

    timeout = 30  # an idle kept-alive connection is dropped after this long

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        self.close_connection = True

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and getattr(self, "_keep_alive", False):
            return
        super().send_header(keyword, value)

    def run_wsgi(self) -> None:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length, chunked = 0, True
        self._keep_alive = (not chunked and self.request_version == "HTTP/1.1"
                            and self.headers.get("Connection", "").lower() != "close")
        if not self._keep_alive:
            super().run_wsgi()
            return
        body = _Body(self.rfile, length)
        connection, self.rfile = self.rfile, io.BufferedReader(body)  # type: ignore[assignment]
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection
        if not body.drain():
            self.close_connection = True


class FakeOrgServer:
    """Serve a FakeOrg over HTTPS on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, org: FakeOrg | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 deliver_outbound_every: float | None = 0.5) -> None:
        self.org = org or FakeOrg(clock=FakeClock(realtime=True))
        self.host = host
        self.requested_port = port
        self.deliver_outbound_every = deliver_outbound_every
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self.ca_bundle_path: str = ""
        self.port = 0

    # -------------------------------------------------------------- lifecycle
    def start(self) -> "FakeOrgServer":
        import trustme

        ca = trustme.CA(organization_name="tether fake org CA")
        certificate = ca.issue_cert("127.0.0.1", "localhost", "::1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        self._tempdir = tempfile.TemporaryDirectory(prefix="tether-fake-org-")
        bundle = Path(self._tempdir.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        self.ca_bundle_path = str(bundle)
        # Bind first with a placeholder app: the real one needs the chosen port in its URL.
        self._server = make_server(self.host, self.requested_port, app=lambda e, s: [], threaded=True,
                                   ssl_context=context, request_handler=_QuietHandler)
        self.port = self._server.server_port
        self.org.instance_url = self.instance_url
        self._server.app = self.org.app(self.instance_url, in_process=False)
        # A short poll interval keeps stop() quick (tests start and stop many servers).
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                 name="fake-org-https", daemon=True)
        serve.start()
        self._threads.append(serve)
        if self.deliver_outbound_every:
            deliver = threading.Thread(target=self._deliver_loop, name="fake-org-outbound", daemon=True)
            deliver.start()
            self._threads.append(deliver)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.org.faults.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> "FakeOrgServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _deliver_loop(self) -> None:
        while not self._stop.wait(self.deliver_outbound_every):
            try:
                self.org.outbound.deliver_due()
            except Exception:  # noqa: BLE001 - a bad rule must not kill the delivery thread
                continue

    # -------------------------------------------------------------- addresses and clients
    @property
    def instance_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def login_domain(self) -> str:
        """The ``domain=`` value that points simple-salesforce's login at this server
        (``https://{domain}.salesforce.com/...`` becomes a path the server strips)."""
        return f"{self.host}:{self.port}/login"

    def requests_session(self) -> Any:
        """A ``requests.Session`` that trusts the server's CA.

        ``trust_env`` is off because requests lets a REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE in the
        environment override ``session.verify``."""
        import requests
        session = requests.Session()
        session.trust_env = False
        session.verify = self.ca_bundle_path
        return session

    def client(self, *, version: str = DEFAULT_API_VERSION, user_id: str | None = None, **kwargs: Any) -> Any:
        """``simple_salesforce.Salesforce`` with a fresh session against this server."""
        from simple_salesforce import Salesforce
        return Salesforce(instance_url=self.instance_url, session_id=self.org.login(user_id), version=version,
                          session=kwargs.pop("session", None) or self.requests_session(), **kwargs)

    def bulk_client(self, *, version: str = DEFAULT_API_VERSION, user_id: str | None = None) -> Any:
        """``salesforce_bulk.SalesforceBulk`` against this server.  It uses module-level
        ``requests`` calls, so wrap its use in :meth:`trust_ca` (or set REQUESTS_CA_BUNDLE)."""
        from salesforce_bulk import SalesforceBulk
        return SalesforceBulk(sessionId=self.org.login(user_id), host=self.instance_url, API_version=version)

    @contextlib.contextmanager
    def trust_ca(self) -> Iterator[str]:
        """Point ``REQUESTS_CA_BUNDLE`` at the server's CA inside the block (for salesforce-bulk)."""
        previous = os.environ.get("REQUESTS_CA_BUNDLE")
        os.environ["REQUESTS_CA_BUNDLE"] = self.ca_bundle_path
        try:
            yield self.ca_bundle_path
        finally:
            if previous is None:
                os.environ.pop("REQUESTS_CA_BUNDLE", None)
            else:
                os.environ["REQUESTS_CA_BUNDLE"] = previous
