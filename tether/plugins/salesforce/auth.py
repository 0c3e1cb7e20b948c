"""Getting a Salesforce session from the tenant's config.

- ``password``: username + password + security token, through simple-salesforce's
  ``SalesforceLogin`` (SOAP login; OAuth username-password flow when a consumer key and
  secret are configured);
- ``jwt``: OAuth 2.0 JWT bearer flow (connected app certificate; RS256 assertion);
- ``refresh_token``: OAuth 2.0 refresh-token flow;
- ``session``: a session id given as a secret (cannot be refreshed).

Every flow except ``session`` can log in again when Salesforce answers
``INVALID_SESSION_ID``. Session ids are never logged.

A session is kept in this process between runs (:data:`SESSIONS`, see ``kept.py``), keyed
by a digest of the tenant's login settings. A kept session that has expired gets
``INVALID_SESSION_ID`` on first use, and the connector logs in again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from urllib.parse import urlsplit

import jwt
import requests
from simple_salesforce import SalesforceLogin

from tether.core.errors import PermanentConnectorError

from .config import SalesforceSettings
from .errors import classify
from .kept import Kept


@dataclasses.dataclass(frozen=True)
class SalesforceSession:
    session_id: str
    instance_url: str

    def __repr__(self) -> str:  # never show the session id
        return f"<SalesforceSession {self.instance_url}>"


SESSIONS: Kept[SalesforceSession] = Kept()


def login_key(settings: SalesforceSettings) -> str:
    """Who logs in where: every setting a login depends on, secrets included, as a digest
    (a changed password or org gets a new session, and no secret is kept as a key)."""
    parts = (settings.auth, settings.login_url, settings.instance_url, settings.api_version, settings.username,
             settings.password, settings.security_token, settings.consumer_key, settings.consumer_secret,
             settings.refresh_token, settings.private_key)
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


class Authenticator:
    def __init__(self, settings: SalesforceSettings, http: requests.Session,
                 sessions: Kept[SalesforceSession] | None = None) -> None:
        self.settings = settings
        self.http = http
        self._sessions = sessions
        self._logins = 0

    @property
    def can_refresh(self) -> bool:
        return self.settings.auth != "session"

    def login(self) -> SalesforceSession:
        """A session: the kept one on this authenticator's first login, else a new one (a
        second login means the session in use expired)."""
        self._logins += 1
        if self.settings.auth == "session":
            return self._session()
        sessions = SESSIONS if self._sessions is None else self._sessions
        key = login_key(self.settings)
        if self._logins == 1:
            kept = sessions.get(key)
            if kept is not None:
                return kept
        session = self._login()
        sessions.put(key, session)
        return session

    def _login(self) -> SalesforceSession:
        method = {"password": self._password, "jwt": self._jwt, "refresh_token": self._refresh_token,
                  "session": self._session}.get(self.settings.auth)
        if method is None:
            raise PermanentConnectorError(f"unknown salesforce auth {self.settings.auth!r}",
                                          hint="use password, jwt, refresh_token or session")
        try:
            return method()
        except PermanentConnectorError:
            raise
        except Exception as exc:
            raise classify(exc, doing=f"logging in ({self.settings.auth})") from None

    # -- flows ------------------------------------------------------------------------------

    def _session(self) -> SalesforceSession:
        return SalesforceSession(self.settings.session_id or "", self.settings.instance_url.rstrip("/"))

    def _password(self) -> SalesforceSession:
        s = self.settings
        options = {}
        if s.consumer_key and s.consumer_secret:
            options = {"consumer_key": s.consumer_key, "consumer_secret": s.consumer_secret}
        session_id, host = SalesforceLogin(username=s.username, password=s.password,
                                           security_token=s.security_token or "", sf_version=s.api_version,
                                           session=self.http, domain=login_domain(s.login_url), **options)
        return SalesforceSession(session_id, self._instance_from(host))

    def _jwt(self) -> SalesforceSession:
        s = self.settings
        audience = s.login_url.rstrip("/")
        claims = {"iss": s.consumer_key, "sub": s.username, "aud": audience, "exp": int(time.time()) + 180}
        try:
            assertion = jwt.encode(claims, s.private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise PermanentConnectorError(f"the salesforce private_key cannot sign an RS256 JWT: {type(exc).__name__}",
                                          hint="give the PEM RSA private key of the connected app's certificate") from None
        return self._token({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion})

    def _refresh_token(self) -> SalesforceSession:
        s = self.settings
        form = {"grant_type": "refresh_token", "refresh_token": s.refresh_token, "client_id": s.consumer_key}
        if s.consumer_secret:
            form["client_secret"] = s.consumer_secret
        return self._token(form)

    def _token(self, form: dict[str, str | None]) -> SalesforceSession:
        url = f"{self.settings.login_url.rstrip('/')}/services/oauth2/token"
        response = self.http.post(url, data=form, headers={"Accept": "application/json"})
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            error = body.get("error") or f"HTTP {response.status_code}"
            raise PermanentConnectorError(
                f"Salesforce refused the {self.settings.auth} login: {error}: {body.get('error_description', '')}".rstrip(": "),
                code=str(error), status=response.status_code,
                hint="check the connected app, user and credentials in the tenant manifest")
        return SalesforceSession(body["access_token"], (body.get("instance_url") or self.settings.instance_url).rstrip("/"))

    def _instance_from(self, host: str) -> str:
        configured = self.settings.instance_url.rstrip("/")
        if not host or urlsplit(configured).netloc == host:
            return configured
        return f"https://{host}"


def login_domain(login_url: str) -> str:
    """simple-salesforce's ``domain``: it logs in at ``https://{domain}.salesforce.com``.

    ``https://login.salesforce.com`` → ``login``; a My Domain → ``acme.my``; any other
    host (a proxy, a fake org on loopback) → ``host:port/login``, which yields
    ``https://host:port/login.salesforce.com/...``.
    """
    netloc = urlsplit(login_url).netloc
    if netloc.endswith(".salesforce.com"):
        return netloc[: -len(".salesforce.com")]
    return f"{netloc}/login"
