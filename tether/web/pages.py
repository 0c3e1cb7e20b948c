"""The pages blueprint: sign-in, role-gated page views, rendering, headers, errors.

Every page names the API endpoint it is built on (``@page("GET", "/renewals/forecast")``)
and takes that endpoint's roles: a page is open to exactly the roles that may call its
API, and the navigation shows a link only to those roles. Data comes from
:class:`tether.web.internal_api.PageApi` (the API's own endpoints, in process).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for

from tether.core.api.registry import Endpoint
from tether.core.runtime import Runtime

from . import formatting, session
from .internal_api import EndpointIndex, PageApi, PageApiError

STATIC = Path(__file__).parent / "static"
EXTENSION = "tether.pages"

blueprint = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/assets")

ROLE_NAMES = {"admin": "Admin", "user": "User", "viewer_analytics": "Viewer+Analytics"}

# (label, page endpoint, API endpoint that gates it, section key)
NAV = (
    ("Forecast", "pages.forecast", ("GET", "/renewals/forecast"), "forecast"),
    ("Analyze", "pages.analyze", ("GET", "/renewals/views"), "analyze"),
    ("Companies", "pages.companies", ("GET", "/companies"), "companies"),
    ("Cockpit", "pages.cockpit", ("GET", "/cockpit/ctas"), "cockpit"),
    ("Admin", "pages.admin", ("GET", "/plugins"), "admin"),
)


@dataclasses.dataclass
class PagesState:
    runtime: Runtime
    index: EndpointIndex
    asset_version: str


def state() -> PagesState:
    return current_app.extensions[EXTENSION]


def install(app, runtime: Runtime, endpoints: list[Endpoint]) -> None:
    """Register the pages on ``app`` (called by the app factory)."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.glob("*")):
        digest.update(path.read_bytes())
    app.extensions[EXTENSION] = PagesState(runtime, EndpointIndex(endpoints), digest.hexdigest()[:12])
    formatting.register(app)
    # The routes live in their own modules; importing them attaches them to the blueprint.
    from . import pages_admin, pages_analyze, pages_cockpit, pages_customers, pages_renewals, pages_signin  # noqa: F401

    app.register_blueprint(blueprint)


# -- the page decorator ------------------------------------------------------------------


def page(method: str, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page under ``/t/<tenant>/...`` open to the roles of API endpoint ``method rule``."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(tenant: str, **kwargs: Any) -> Any:
            current = state()
            principal = session.principal_of(current.runtime.store, request)
            if principal is None:
                target = request.full_path if request.method == "GET" else None
                return redirect(url_for("pages.signin", next=target.rstrip("?") if target else None))
            api = PageApi(current.runtime, principal, current.index)
            g.page_api = api
            if principal.tenant_id != tenant:
                return error_page(404, "Not found", f"There is no tenant {tenant!r} for your sign-in.",
                                  hint="Use the links in the navigation, or sign in with a token of that tenant.")
            if request.method not in session.SAFE_METHODS and not session.csrf_ok(
                    request, request.form.get(session.CSRF_FIELD)):
                return error_page(403, "Form expired",
                                  "This form was not sent from this session, so nothing was changed.",
                                  hint="Go back, reload the page and send the form again.")
            if not api.allowed(method, rule):
                return forbidden(api)
            try:
                return view(api, **kwargs)
            except PageApiError as exc:
                return api_error_page(exc)

        return wrapped

    return decorate


def forbidden(api: PageApi) -> Response:
    role = ROLE_NAMES.get(api.role, api.role)
    home = first_page(api)
    return error_page(403, "Not available to your role",
                      f"Your role ({role}) cannot open this page; the API refuses its data to your role too.",
                      hint="Ask an admin if you need it.", link=(home[0], home[1]) if home else None)


def api_error_page(exc: PageApiError) -> Response:
    titles = {401: "Sign-in needed", 403: "Not available to your role", 404: "Not found", 422: "Not accepted",
              502: "A plugin failed", 503: "Temporarily unavailable"}
    return error_page(exc.status, titles.get(exc.status, "Something went wrong"), exc.message, hint=exc.hint,
                      details=exc.field_messages())


def error_page(status: int, title: str, message: str, *, hint: str | None = None,
               details: list[str] | None = None, link: tuple[str, str] | None = None) -> Response:
    body = render("error.html", title=title, message=message, hint=hint, details=details or [], link=link,
                  status=status)
    response = current_app.make_response(body)
    response.status_code = status
    return response


# -- rendering ---------------------------------------------------------------------------


def nav_for(api: PageApi | None) -> list[dict[str, Any]]:
    if api is None:
        return []
    return [{"label": label, "url": url_for(endpoint, tenant=api.tenant_id), "key": key}
            for label, endpoint, (method, rule), key in NAV if api.allowed(method, rule) and _served(api, method, rule)]


def _served(api: PageApi, method: str, rule: str) -> bool:
    """A plugin's page is linked only for tenants that enabled the plugin."""
    endpoint = api.index.find(method, rule)
    if endpoint is None or not endpoint.plugin:
        return endpoint is not None
    return api.runtime.context(api.tenant_id).is_enabled(endpoint.plugin)


def first_page(api: PageApi) -> tuple[str, str] | None:
    items = nav_for(api)
    return (items[0]["label"], items[0]["url"]) if items else None


def render(template: str, **context: Any) -> str:
    api: PageApi | None = g.get("page_api")
    notice = session.take_flash(request)
    if notice:
        g.clear_flash = True
    return render_template(
        f"tether_web/{template}", api=api, tenant=api.tenant_id if api else None, user=api.principal if api else None,
        role_name=ROLE_NAMES.get(api.role, api.role) if api else None, nav=nav_for(api),
        csrf=session.csrf_token(session.token_of(request)) if api else "", notice=notice,
        asset_version=state().asset_version, **context)


def url_with(**changes: Any) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    query = urlencode(args, doseq=True)
    return request.path + (f"?{query}" if query else "")


def back_to(default: str) -> str:
    return session.safe_next(request.form.get("next"), default)


def done(target: str, message: str) -> Response:
    return session.flash(redirect(target, code=303), request, message)


@blueprint.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"url_with": url_with, "CSRF_FIELD": session.CSRF_FIELD}


# -- headers and the API's cookie CSRF rule ------------------------------------------------

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@blueprint.after_app_request
def _headers(response: Response) -> Response:
    if request.blueprint == "pages":
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.endpoint != "pages.static":
            response.headers.setdefault("Cache-Control", "no-store")
        if g.get("clear_flash"):
            response.delete_cookie(session.FLASH_COOKIE, path="/")
    return response


@blueprint.before_app_request
def _api_cookie_csrf() -> Response | None:
    """An API call that changes something on the strength of the cookie alone must carry
    the session's CSRF token in ``X-CSRF-Token`` (a bearer token needs no such proof)."""
    if request.method in session.SAFE_METHODS or not request.path.startswith("/api/"):
        return None
    if request.headers.get("Authorization") or not session.token_of(request):
        return None
    if session.csrf_ok(request, request.headers.get(session.CSRF_HEADER)):
        return None
    from tether.core.api.app import error_response

    return error_response(403, "csrf", "a change made with the sign-in cookie must send the page's CSRF token",
                          hint=f"send the {session.CSRF_HEADER} header, or use 'Authorization: Bearer <token>'")


@blueprint.route("/")
def home() -> Response:
    current = state()
    principal = session.principal_of(current.runtime.store, request)
    if principal is None:
        return redirect(url_for("pages.signin"))
    return redirect(url_for("pages.tenant_home", tenant=principal.tenant_id))


@blueprint.route("/t/<tenant>/")
def tenant_home(tenant: str) -> Response:
    current = state()
    principal = session.principal_of(current.runtime.store, request)
    if principal is None:
        return redirect(url_for("pages.signin"))
    api = PageApi(current.runtime, principal, current.index)
    g.page_api = api
    target = first_page(api)
    if principal.tenant_id != tenant or target is None:
        return forbidden(api)
    return redirect(target[1])
