"""Admin: installed plugins (secrets masked), webhook URLs, sync status per object, failed
records with retry, the conflict queue with resolve actions, and the outbox."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request, url_for

from tether.core.errors import TetherError
from tether.core.jobs.status import tenant_status

from . import admin_data
from .internal_api import PageApi
from .pages import blueprint, done, page, render, url_with

# The Admin pages are open to the roles of the API's plugin listing: admins.
GATE = ("GET", "/plugins")
TABS = (("Overview", "pages.admin"), ("Failed records", "pages.admin_failures"),
        ("Conflicts", "pages.admin_conflicts"), ("Outbox", "pages.admin_outbox"))


def _cursor() -> int | None:
    value = request.args.get("cursor", "")
    return int(value) if value.isdigit() else None


def _tabs(api: PageApi, current: str) -> list[dict[str, Any]]:
    return [{"label": label, "url": url_for(endpoint, tenant=api.tenant_id), "current": endpoint == current}
            for label, endpoint in TABS]


@blueprint.get("/t/<tenant>/admin")
@page(*GATE)
def admin(api: PageApi) -> Any:
    tenant = api.runtime.context(api.tenant_id)
    plugins = api.get("/plugins")
    status = tenant_status(api.runtime.store, api.tenant_id)
    return render("admin_overview.html", section="admin", tabs=_tabs(api, "pages.admin"), plugins=plugins,
                  status=status, webhooks=admin_data.webhook_endpoints(tenant, request.host_url),
                  config_text={p["plugin"]: json.dumps(p["config"], indent=2, sort_keys=True, default=str)
                               for p in plugins})


@blueprint.get("/t/<tenant>/admin/failures")
@page(*GATE)
def admin_failures(api: PageApi) -> Any:
    tenant = api.runtime.context(api.tenant_id)
    listing = admin_data.outbox_page(tenant, "failed", _cursor())
    return render("admin_failures.html", section="admin", tabs=_tabs(api, "pages.admin_failures"),
                  rows=listing.rows, next_url=url_with(cursor=listing.next_cursor) if listing.next_cursor else None,
                  first_url=url_with(cursor=None) if _cursor() else None)


@blueprint.post("/t/<tenant>/admin/failures/retry")
@page(*GATE)
def admin_retry(api: PageApi) -> Response:
    tenant = api.runtime.context(api.tenant_id)
    target = url_for("pages.admin_failures", tenant=api.tenant_id)
    ids = [int(v) for v in request.form.getlist("id") if v.isdigit()]
    if not ids and request.form.get("all") != "1":
        return done(target, "Nothing retried: tick the records to retry, or use “Retry every failed record”.")
    try:
        queued = admin_data.retry(tenant, ids or None)
    except TetherError as exc:
        return done(target, f"Nothing retried: {exc.one_line()}")
    return done(target, f"Queued {queued} record{'s' if queued != 1 else ''} again; the next push sends "
                        f"{'them' if queued != 1 else 'it'} to Salesforce.")


@blueprint.get("/t/<tenant>/admin/conflicts")
@page(*GATE)
def admin_conflicts(api: PageApi) -> Any:
    tenant = api.runtime.context(api.tenant_id)
    listing = admin_data.conflicts_page(tenant, _cursor())
    return render("admin_conflicts.html", section="admin", tabs=_tabs(api, "pages.admin_conflicts"),
                  rows=listing.rows, next_url=url_with(cursor=listing.next_cursor) if listing.next_cursor else None,
                  first_url=url_with(cursor=None) if _cursor() else None)


@blueprint.post("/t/<tenant>/admin/conflicts/<int:conflict_id>/resolve")
@page(*GATE)
def admin_resolve(api: PageApi, conflict_id: int) -> Response:
    tenant = api.runtime.context(api.tenant_id)
    target = url_for("pages.admin_conflicts", tenant=api.tenant_id)
    keep = request.form.get("keep", "")
    value = request.form.get("value")
    if keep == "value" and not (value or "").strip():
        return done(target, f"Conflict {conflict_id} not resolved: type the value to keep.")
    try:
        conflict = admin_data.resolve(tenant, conflict_id, keep, value, by=api.principal.username)
    except TetherError as exc:
        return done(target, f"Conflict {conflict_id} not resolved: {exc.one_line()}")
    kept = {"local": "tether's value", "remote": "Salesforce's value", "value": "the value you typed"}[keep]
    return done(target, f"Conflict {conflict.id} on {conflict.field} resolved: kept {kept}.")


@blueprint.get("/t/<tenant>/admin/outbox")
@page(*GATE)
def admin_outbox(api: PageApi) -> Any:
    tenant = api.runtime.context(api.tenant_id)
    listing = admin_data.outbox_page(tenant, "pending", _cursor())
    return render("admin_outbox.html", section="admin", tabs=_tabs(api, "pages.admin_outbox"), rows=listing.rows,
                  next_url=url_with(cursor=listing.next_cursor) if listing.next_cursor else None,
                  first_url=url_with(cursor=None) if _cursor() else None)
