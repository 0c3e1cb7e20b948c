"""What the Admin pages show about sync and write-back, a page at a time.

Sync status is ``tether status``'s own report (:func:`tether.core.jobs.status.tenant_status`).
Failed records, the conflict queue and the outbox are read in id order with a cursor,
never whole; retrying and resolving go through the write-back functions the CLI uses
(``tether sync retry``, ``tether sync conflicts``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from sqlalchemy import select

from tether.core import secrets
from tether.core.errors import TetherError
from tether.core.plugins import TenantContext
from tether.core.store.models import OutboxEntry
from tether.core.sync.mappings import cached_mappings
from tether.core.sync.writeback_models import SyncConflict

PAGE_SIZE = 25
ENTITY_PAGES = {"company": ("pages.company", "company_id"), "opportunity": ("pages.opportunity", "opportunity_id"),
                "relationship": ("pages.relationship", "relationship_id")}


class WritebackMissing(TetherError):
    """The write-back functions are not part of this build."""


@dataclasses.dataclass
class Page:
    rows: list[Any]
    next_cursor: int | None


def _entity_of(tenant: TenantContext, connector: str, object_name: str) -> str | None:
    mapping = cached_mappings(tenant).for_object(connector, object_name)
    return mapping.entity if mapping is not None else None


def outbox_page(tenant: TenantContext, status: str, after_id: int | None, limit: int = PAGE_SIZE) -> Page:
    """Outbox entries of one status (``failed``, ``pending``) in id order, a page at a time."""
    query = select(OutboxEntry).where(OutboxEntry.status == status)
    if after_id is not None:
        query = query.where(OutboxEntry.id > after_id)
    with tenant.session() as session:
        rows = list(session.scalars(query.order_by(OutboxEntry.id).limit(limit + 1)))
        entities = {(r.connector, r.object_name): _entity_of(tenant, r.connector, r.object_name) for r in rows}
        items = [{"id": r.id, "connector": r.connector, "object_name": r.object_name, "local_id": r.local_id,
                  "external_id": r.external_id, "operation": r.operation, "changes": dict(r.changes or {}),
                  "created_at": r.created_at, "attempts": r.attempts, "next_attempt_at": r.next_attempt_at,
                  "last_error": r.last_error, "entity": entities[(r.connector, r.object_name)]}
                 for r in rows[:limit]]
    return Page(items, items[-1]["id"] if len(rows) > limit else None)


def conflicts_page(tenant: TenantContext, after_id: int | None, limit: int = PAGE_SIZE) -> Page:
    """Open conflicts waiting for a person, oldest first, a page at a time."""
    query = select(SyncConflict).where(SyncConflict.status == "open")
    if after_id is not None:
        query = query.where(SyncConflict.id > after_id)
    with tenant.session() as session:
        rows = list(session.scalars(query.order_by(SyncConflict.id).limit(limit + 1)))
        items = [{"id": c.id, "connector": c.connector, "object_name": c.object_name, "entity": c.entity,
                  "local_id": c.local_id, "external_id": c.external_id, "field": c.field,
                  "source_field": c.source_field, "policy": c.policy, "values": dict(c.values or {}),
                  "created_at": c.created_at, "remote_modstamp": c.remote_modstamp} for c in rows[:limit]]
    return Page(items, items[-1]["id"] if len(rows) > limit else None)


def retry(tenant: TenantContext, ids: Sequence[int] | None) -> int:
    """Queue failed records again (the named ones, or every one); how many were queued."""
    try:
        from tether.core.sync.push import retry_failed
    except ImportError as exc:  # pragma: no cover - a build without write-back
        raise WritebackMissing("retrying failed records needs tether.core.sync.push, missing here") from exc
    return retry_failed(tenant, ids=list(ids) if ids else None)


def resolve(tenant: TenantContext, conflict_id: int, keep: str, value: Any, by: str) -> Any:
    try:
        from tether.core.sync.conflicts import resolve_conflict
    except ImportError as exc:  # pragma: no cover - a build without write-back
        raise WritebackMissing("resolving conflicts needs tether.core.sync.conflicts, missing here") from exc
    return resolve_conflict(tenant, conflict_id, keep=keep, value=value, by=by)


def webhook_endpoints(tenant: TenantContext, base_url: str) -> list[dict[str, Any]]:
    """The receivers of the tenant's enabled plugins: the URL to paste and how it is authenticated."""
    found = []
    for receivers in tenant.host.call_global("tether_webhook_receivers") or []:
        for receiver in receivers or []:
            if not tenant.is_enabled(receiver.plugin):
                continue
            config = tenant.config_for(receiver.plugin) or {}
            reference = config.get("webhook_secret")
            if reference is None:
                secret = None
            elif secrets.is_reference(reference):
                secret = _describe_reference(reference)
            else:
                secret = "the webhook_secret in the tenant manifest"
            found.append({"plugin": receiver.plugin, "path": receiver.path, "methods": list(receiver.methods),
                          "url": f"{base_url.rstrip('/')}/webhooks/{tenant.id}/{receiver.plugin}/{receiver.path}",
                          "secret": secret})
    return found


def _describe_reference(reference: Any) -> str:
    if isinstance(reference, dict):
        if "$env" in reference:
            return f"the value of the environment variable {reference['$env']} on the server"
        if "$file" in reference:
            return f"the contents of the file {reference['$file']} on the server"
    return "the webhook_secret reference in the tenant manifest"
