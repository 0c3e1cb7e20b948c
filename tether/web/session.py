"""Who is signed in: the API token in an HttpOnly cookie, and CSRF protection.

Signing in stores the user's API token in the ``tether_token`` cookie (HttpOnly, so no
script reads it; SameSite=Strict, so no other site's page sends it; Secure when served
over HTTPS). The API accepts the same cookie, so the pages' scripts could call it too.

CSRF: every form that changes something carries a token derived from the session's API
token (an HMAC, so it changes with the session and cannot be computed without the
token); every API call authenticated by the cookie rather than a bearer header must send
the same value in ``X-CSRF-Token`` when it changes something. The sign-in form, which
has no session yet, uses a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import Request, Response

from tether.core.api.tokens import Principal, authenticate
from tether.core.store import Store

TOKEN_COOKIE = "tether_token"
SIGNIN_COOKIE = "tether_signin"
FLASH_COOKIE = "tether_notice"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_SECONDS = 12 * 3600


def csrf_token(api_token: str) -> str:
    """The per-session CSRF token of a signed-in browser."""
    return hmac.new(api_token.encode(), b"tether-web-csrf", hashlib.sha256).hexdigest()


def token_of(request: Request) -> str:
    return request.cookies.get(TOKEN_COOKIE, "")


def principal_of(store: Store, request: Request) -> Principal | None:
    token = token_of(request)
    return authenticate(store, token) if token else None


def csrf_ok(request: Request, presented: str | None) -> bool:
    token = token_of(request)
    return bool(token and presented) and hmac.compare_digest(csrf_token(token), str(presented))


def set_session(response: Response, request: Request, api_token: str) -> None:
    response.set_cookie(TOKEN_COOKIE, api_token, max_age=SESSION_SECONDS, httponly=True, samesite="Strict",
                        secure=request.is_secure, path="/")
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")


def clear_session(response: Response) -> None:
    response.delete_cookie(TOKEN_COOKIE, path="/", httponly=True, samesite="Strict")


def set_signin_cookie(response: Response, request: Request, nonce: str) -> None:
    response.set_cookie(SIGNIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="Strict",
                        secure=request.is_secure, path="/signin")


def signin_nonce_ok(request: Request, presented: str | None) -> bool:
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    return bool(cookie and presented) and hmac.compare_digest(cookie, str(presented))


def flash(response: Response, request: Request, message: str) -> Response:
    """A one-line notice the next page shows once (kept in a short-lived cookie)."""
    response.set_cookie(FLASH_COOKIE, message[:600], max_age=60, httponly=True, samesite="Strict",
                        secure=request.is_secure, path="/")
    return response


def take_flash(request: Request) -> str | None:
    return request.cookies.get(FLASH_COOKIE) or None


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
