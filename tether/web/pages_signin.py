"""Signing in with an API token, and out."""

from __future__ import annotations

import secrets

from flask import Response, current_app, g, redirect, request, url_for

from tether.core.api.tokens import authenticate

from . import session
from .internal_api import PageApi
from .pages import blueprint, done, first_page, render, state


def signin_url(base_url: str, token: str) -> str:
    """A link that signs a browser in with ``token``.

    The token rides in the URL *fragment*, which browsers never send to a server, so it
    stays out of access logs and proxies; the sign-in page's script posts it.
    """
    return f"{base_url.rstrip('/')}/signin#token={token}"


def issue_signin_link(store, tenant_id: str, username: str, base_url: str = "http://127.0.0.1:8000", *,
                      name: str = "web sign-in") -> str:
    """Issue an API token for the user and return the link that signs a browser in with it
    (what ``tether demo`` prints). The token is shown only in this link."""
    from tether.core.api.tokens import issue_token

    return signin_url(base_url, issue_token(store, tenant_id, username, name=name))


def _form(status: int = 200, *, error: str | None = None, hint: str | None = None) -> Response:
    nonce = request.cookies.get(session.SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    current = state()
    principal = session.principal_of(current.runtime.store, request)
    if principal is not None:
        g.page_api = PageApi(current.runtime, principal, current.index)
    body = render("signin.html", nonce=nonce, error=error, hint=hint, next=request.values.get("next", ""),
                  signed_in=principal)
    response = current_app.make_response(body)
    response.status_code = status
    session.set_signin_cookie(response, request, nonce)
    return response


@blueprint.get("/signin")
def signin() -> Response:
    return _form()


@blueprint.post("/signin")
def signin_post() -> Response:
    if not session.signin_nonce_ok(request, request.form.get("nonce")):
        return _form(400, error="The sign-in form expired before it was sent.", hint="Send it again.")
    token = (request.form.get("token") or "").strip()
    if not token:
        return _form(422, error="Paste your API token to sign in.",
                     hint="An admin creates one with `tether users token TENANT USER`.")
    principal = authenticate(state().runtime.store, token)
    if principal is None:
        return _form(401, error="That token is unknown, revoked, or its user is disabled.",
                     hint="Check you copied all of it (it starts with tth_), or ask an admin for a new one.")
    g.page_api = api = PageApi(state().runtime, principal, state().index)
    home = first_page(api)
    default = home[1] if home else url_for("pages.signin")
    target = session.safe_next(request.form.get("next"), default)
    if not target.startswith(f"/t/{principal.tenant_id}/"):
        target = default
    response = redirect(target, code=303)
    session.set_session(response, request, token)
    return response


@blueprint.post("/signout")
def signout() -> Response:
    if session.token_of(request) and not session.csrf_ok(request, request.form.get(session.CSRF_FIELD)):
        return redirect(url_for("pages.signin"), code=303)
    response = done(url_for("pages.signin"), "Signed out. Your API token still works until an admin revokes it.")
    session.clear_session(response)
    return response
