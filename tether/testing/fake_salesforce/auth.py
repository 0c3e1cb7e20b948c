"""Authentication: SOAP ``login()``, the OAuth 2.0 token endpoint, sessions that expire.

Grants: ``password``, ``refresh_token``, ``urn:ietf:params:oauth:grant-type:jwt-bearer``
(RS256 signature verified against the connected app's certificate) and
``client_credentials``.  Sessions expire after ``session_timeout_seconds`` of inactivity
on the org clock, as Salesforce's session timeout does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Mapping
from xml.sax.saxutils import escape

from defusedxml import ElementTree

from .clock import FakeClock
from .errors import SalesforceError

PARTNER_NS = "urn:partner.soap.sforce.com"
_TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._"
_INVALID_LOGIN = "Invalid username, password, security token; or user locked out."


@dataclass
class UserCredentials:
    user_id: str
    username: str
    password: str
    security_token: str
    full_name: str = ""
    email: str = ""


@dataclass
class ConnectedApp:
    """A connected app: consumer key/secret, optional JWT certificate and client-credentials user."""

    name: str
    consumer_key: str
    consumer_secret: str
    certificate_pem: bytes | None = None
    run_as_user_id: str | None = None


@dataclass
class Session:
    token: str
    user_id: str
    issued_ms: int
    last_used_ms: int
    client: str


class AuthService:
    """Credentials, connected apps and live sessions of one org."""

    def __init__(self, org_id: str, clock: FakeClock, session_timeout_seconds: int = 7200) -> None:
        self.org_id = org_id
        self.clock = clock
        self.session_timeout_ms = session_timeout_seconds * 1000
        self.users: dict[str, UserCredentials] = {}
        self.apps: dict[str, ConnectedApp] = {}
        self.sessions: dict[str, Session] = {}
        self.refresh_tokens: dict[str, tuple[str, str]] = {}  # token → (user_id, consumer_key)
        self._lock = threading.Lock()

    # -------------------------------------------------------------- setup
    def add_user(self, credentials: UserCredentials) -> None:
        self.users[credentials.username.lower()] = credentials

    def add_connected_app(self, app: ConnectedApp) -> ConnectedApp:
        self.apps[app.consumer_key] = app
        return app

    def user_by_id(self, user_id: str) -> UserCredentials | None:
        return next((u for u in self.users.values() if u.user_id == user_id), None)

    # -------------------------------------------------------------- sessions
    def issue_session(self, user_id: str, client: str = "api") -> str:
        """A new session id in Salesforce's shape: ``<15-char org id>!<opaque>``."""
        token = f"{self.org_id[:15]}!AR" + "".join(secrets.choice(_TOKEN_CHARS) for _ in range(94))
        now = self.clock.now_ms()
        with self._lock:
            self.sessions[token] = Session(token, user_id, now, now, client)
        return token

    def validate(self, token: str | None) -> Session:
        """The live session for a bearer token; raises 401 INVALID_SESSION_ID otherwise."""
        now = self.clock.now_ms()
        with self._lock:
            session = self.sessions.get(token or "")
            if session is None or now - session.last_used_ms > self.session_timeout_ms:
                if session is not None:
                    del self.sessions[session.token]
                raise SalesforceError("INVALID_SESSION_ID", "Session expired or invalid", include_fields=False)
            session.last_used_ms = now
            return session

    def expire(self, token: str) -> None:
        with self._lock:
            self.sessions.pop(token, None)

    def expire_all(self) -> None:
        with self._lock:
            self.sessions.clear()

    def issue_refresh_token(self, user_id: str, consumer_key: str) -> str:
        """A refresh token for a user and app (as a web-server or user-agent flow would have left)."""
        token = "5Aep" + "".join(secrets.choice(_TOKEN_CHARS[:-2]) for _ in range(83))
        self.refresh_tokens[token] = (user_id, consumer_key)
        return token

    # -------------------------------------------------------------- SOAP login
    def soap_login(self, body: bytes, instance_url: str, version: str) -> tuple[int, bytes]:
        """Answer a partner ``login()`` call: (HTTP status, SOAP envelope)."""
        try:
            root = ElementTree.fromstring(body)
        except Exception:  # noqa: BLE001 - any parse failure is a client fault
            return 500, _soap_fault("soapenv:Client", "INVALID_REQUEST", "Unable to parse the request")
        username = _find_text(root, "username")
        password = _find_text(root, "password") or ""
        ip_filtered = root.find(f".//{{{PARTNER_NS}}}LoginScopeHeader") is not None
        user = self.users.get((username or "").lower())
        if user is None or not (password == user.password + user.security_token
                                or (ip_filtered and password == user.password)):
            return 500, _soap_fault("sf:INVALID_LOGIN", "INVALID_LOGIN", _INVALID_LOGIN)
        session_id = self.issue_session(user.user_id, "soap")
        org15 = self.org_id[:15]
        seconds_valid = self.session_timeout_ms // 1000
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>'
            f"<metadataServerUrl>{instance_url}/services/Soap/m/{version}/{org15}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
            f"<serverUrl>{instance_url}/services/Soap/u/{version}/{org15}</serverUrl>"
            f"<sessionId>{session_id}</sessionId><userId>{user.user_id}</userId><userInfo>"
            "<accessibilityMode>false</accessibilityMode><currencySymbol>$</currencySymbol>"
            f"<orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit><orgDefaultCurrencyIsoCode>USD"
            f"</orgDefaultCurrencyIsoCode><orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments>"
            f"<orgHasPersonAccounts>false</orgHasPersonAccounts><organizationId>{self.org_id}</organizationId>"
            "<organizationMultiCurrency>false</organizationMultiCurrency><organizationName>Tether Fake Org"
            f"</organizationName><profileId>00e8d000001AbCdAAK</profileId><roleId xsi:nil=\"true\"/>"
            f"<sessionSecondsValid>{seconds_valid}</sessionSecondsValid><userDefaultCurrencyIsoCode xsi:nil=\"true\"/>"
            f"<userEmail>{escape(user.email)}</userEmail><userFullName>{escape(user.full_name)}</userFullName>"
            f"<userId>{user.user_id}</userId><userLanguage>en_US</userLanguage><userLocale>en_US</userLocale>"
            f"<userName>{escape(user.username)}</userName><userTimeZone>GMT</userTimeZone><userType>Standard"
            "</userType><userUiSkin>Theme3</userUiSkin></userInfo></result></loginResponse></soapenv:Body>"
            "</soapenv:Envelope>"
        )
        return 200, xml.encode()

    # -------------------------------------------------------------- OAuth
    def oauth_token(self, form: Mapping[str, str], authorization: str | None, instance_url: str,
                    login_url: str) -> tuple[int, dict[str, Any]]:
        """Answer ``POST /services/oauth2/token``: (HTTP status, JSON body)."""
        grant = form.get("grant_type", "")
        if grant == "password":
            return self._password_grant(form, instance_url, login_url)
        if grant == "refresh_token":
            return self._refresh_grant(form, instance_url, login_url)
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt_grant(form, instance_url, login_url)
        if grant == "client_credentials":
            return self._client_credentials_grant(form, authorization, instance_url, login_url)
        return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}

    def _token_response(self, user_id: str, app: ConnectedApp, instance_url: str, login_url: str,
                        refresh: bool = False) -> tuple[int, dict[str, Any]]:
        access_token = self.issue_session(user_id, f"oauth:{app.name}")
        identity = f"{login_url}/id/{self.org_id}/{user_id}"
        issued_at = str(self.clock.now_ms())
        signature = base64.b64encode(hmac.new(app.consumer_secret.encode(), (identity + issued_at).encode(),
                                              hashlib.sha256).digest()).decode()
        body: dict[str, Any] = {"access_token": access_token, "instance_url": instance_url, "id": identity,
                                "token_type": "Bearer", "issued_at": issued_at, "signature": signature}
        if refresh:
            body["refresh_token"] = self.issue_refresh_token(user_id, app.consumer_key)
            body["scope"] = "refresh_token api"
        return 200, body

    def _client(self, form: Mapping[str, str], require_secret: bool = True) -> ConnectedApp | tuple[int, dict]:
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return 400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
        if require_secret and not hmac.compare_digest(form.get("client_secret", ""), app.consumer_secret):
            return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
        return app

    def _password_grant(self, form: Mapping[str, str], instance_url: str, login_url: str) -> tuple[int, dict]:
        app = self._client(form)
        if not isinstance(app, ConnectedApp):
            return app
        user = self.users.get(form.get("username", "").lower())
        password = form.get("password", "")
        if user is None or password not in (user.password + user.security_token,):
            return 400, {"error": "invalid_grant", "error_description": "authentication failure"}
        return self._token_response(user.user_id, app, instance_url, login_url)

    def _refresh_grant(self, form: Mapping[str, str], instance_url: str, login_url: str) -> tuple[int, dict]:
        app = self._client(form, require_secret="client_secret" in form)
        if not isinstance(app, ConnectedApp):
            return app
        owner = self.refresh_tokens.get(form.get("refresh_token", ""))
        if owner is None or owner[1] != app.consumer_key:
            return 400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
        return self._token_response(owner[0], app, instance_url, login_url)

    def _jwt_grant(self, form: Mapping[str, str], instance_url: str, login_url: str) -> tuple[int, dict]:
        import jwt  # PyJWT, a simple-salesforce dependency

        assertion = form.get("assertion", "")
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return 400, {"error": "invalid_grant", "error_description": "invalid assertion"}
        app = self.apps.get(str(claims.get("iss", "")))
        if app is None:
            return 400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
        if app.certificate_pem is None:
            return 400, {"error": "invalid_grant", "error_description": "invalid assertion"}
        try:
            jwt.decode(assertion, _public_key(app.certificate_pem), algorithms=["RS256"],
                       options={"verify_aud": False, "verify_exp": False})
        except jwt.PyJWTError:
            return 400, {"error": "invalid_grant", "error_description": "invalid assertion"}
        audience = str(claims.get("aud", "")).rstrip("/")
        if audience not in ("https://login.salesforce.com", "https://test.salesforce.com", instance_url.rstrip("/")):
            return 400, {"error": "invalid_grant", "error_description": "audience is invalid"}
        if float(claims.get("exp", 0)) * 1000 < self.clock.now_ms():
            return 400, {"error": "invalid_grant", "error_description": "expired authorization code"}
        user = self.users.get(str(claims.get("sub", "")).lower())
        if user is None:
            return 400, {"error": "invalid_grant", "error_description": "user hasn't approved this consumer"}
        return self._token_response(user.user_id, app, instance_url, login_url)

    def _client_credentials_grant(self, form: Mapping[str, str], authorization: str | None, instance_url: str,
                                  login_url: str) -> tuple[int, dict]:
        credentials = dict(form)
        if authorization and authorization.lower().startswith("basic "):
            key, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            credentials.update(client_id=key, client_secret=secret)
        app = self._client(credentials)
        if not isinstance(app, ConnectedApp):
            return app
        if app.run_as_user_id is None:
            return 400, {"error": "invalid_grant", "error_description": "no client credentials user enabled"}
        return self._token_response(app.run_as_user_id, app, instance_url, login_url)


def _public_key(pem: bytes) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    if b"BEGIN CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem).public_key()
    return load_pem_public_key(pem)


def _find_text(root: Any, local_name: str) -> str | None:
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] == local_name:
            return element.text
    return None


def _soap_fault(faultcode: str, exception_code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>{faultcode}</faultcode><faultstring>{exception_code}: {escape(message)}</faultstring><detail>"
        f'<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{exception_code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()
