"""The reconcile job: what an incremental sync by ``SystemModstamp`` cannot see.

1. **Hard deletes.** A record purged from the source's recycle bin (or deleted longer
   ago than ``queryAll`` remembers) never shows up as deleted. Reconcile reads the
   source's full id set and marks every live local row the source no longer has as
   deleted (plugins hear of it; nothing is captured for pushing back). Rows written locally since the read began are left for the
   next reconcile, and a run that would delete more than ``max_delete_share`` of the
   rows stops instead: an empty id set usually means the integration user lost access,
   not that the customer base vanished.
2. **Formula fields.** A formula field's value changes without moving the record's
   ``SystemModstamp``, so the incremental sync skips it. Reconcile runs a full reload
   of the object through the sync engine, which rewrites records whose stamp is unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from ..connectors import ReadRequest
from ..contracts import ChangeSet
from ..errors import JobError, PluginHookError
from ..store.types import utcnow

if TYPE_CHECKING:
    from ..plugins import TenantContext

log = logging.getLogger(__name__)

ID_PAGE_SIZE = 10_000
# Deletions below this count never trip the share guard (small tables churn a lot).
GUARD_FLOOR = 10
# Rows changed locally this close to the id read are not judged (clock skew, late commits).
SETTLE = dt.timedelta(minutes=5)


@dataclasses.dataclass
class ReconcileResult:
    status: str
    records_read: int = 0
    records_applied: int = 0
    records_deleted: int = 0
    api_calls: int = 0
    error: str | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


def reconcile_object(tenant: "TenantContext", connector: str, object_name: str, *, refresh: bool = True,
                     max_delete_share: float = 0.5) -> ReconcileResult:
    """Mark hard-deleted records deleted, then refresh every record (see the module docstring)."""
    from ..sync.mappings import resolve_mappings

    mappings = resolve_mappings(tenant)
    mapping = mappings.for_object(connector, object_name)
    spec = mappings.connectors.get(connector)
    if mapping is None or spec is None:
        raise JobError(f"tenant {tenant.id!r} does not sync {connector} {object_name}",
                       hint="reconcile runs for the objects in the tenant's mappings")
    result = ReconcileResult("success")
    _detect_hard_deletes(tenant, spec, connector, mapping, result, max_delete_share)
    if refresh:
        from ..sync.engine import sync_object

        reload = sync_object(tenant, connector, mapping.object_name, full=True)
        result.records_read += reload.records_read
        result.records_applied += reload.records_applied
        result.records_deleted += reload.records_deleted
        result.api_calls += reload.api_calls
        result.details.update(refresh_run_id=reload.run_id, refresh_status=reload.status)
        if reload.status != "success":
            result.status, result.error = reload.status, reload.error
    return result


def _detect_hard_deletes(tenant: "TenantContext", spec, connector_name: str, mapping, result: ReconcileResult,
                         max_delete_share: float) -> None:
    from ..sync.outbox import APPLYING_SYNC
    from ..sync.plan import build_plan
    from ..sync.quota import DEFAULT_PER_RUN, DEFAULT_TOTAL, QuotaGuard

    connector = spec.factory(tenant)
    try:
        plan = build_plan(tenant, connector_name, mapping, connector.discover())
        guard = QuotaGuard(per_run=getattr(connector, "quota_share_per_run", DEFAULT_PER_RUN),
                           total=getattr(connector, "quota_share_total", DEFAULT_TOTAL))
        guard.check(connector.api_usage(), connector=connector_name)
        pk = plan.schema.primary_key
        read_started = utcnow()
        source_ids: set[str] = set()
        request = ReadRequest(object_name=plan.object_name, fields=(pk,), cursor=None, include_deleted=False,
                              page_size=ID_PAGE_SIZE)
        for page in connector.read(request):
            gone = set(page.deleted_ids)
            source_ids.update(str(r[pk]) for r in page.records if r[pk] not in gone)
            result.api_calls += page.api_calls
            guard.spent(page.api_calls)
            guard.check(connector.api_usage(), connector=connector_name)
        usage = connector.api_usage()
    finally:
        connector.close()

    model = plan.applier_class.model
    with tenant.session() as session:
        local = session.execute(select(model.external_id, model.updated_at).where(
            model.external_source == connector_name, model.is_deleted.is_(False),
            model.external_id.is_not(None))).all()
    settled_before = read_started - SETTLE
    missing = [external_id for external_id, updated_at in local
               if external_id not in source_ids and (updated_at is None or updated_at < settled_before)]
    result.records_read += len(source_ids)
    result.details.update(source_ids=len(source_ids), local_ids=len(local), hard_deletes_found=len(missing))
    if usage is not None:
        result.details["api_usage"] = list(usage)
    if len(missing) > GUARD_FLOOR and len(missing) > max_delete_share * len(local):
        raise JobError(
            f"reconcile of {connector_name} {plan.object_name} would mark {len(missing)} of {len(local)} records "
            f"deleted (the source returned {len(source_ids)} ids); nothing was changed",
            hint="check the integration user's access to the object; if the deletions are real, run "
                 f"`tether jobs run {tenant.id} reconcile --object {plan.object_name} --arg max_delete_share=1`")
    if not missing:
        return
    # One guarded UPDATE per chunk: the row must still be live and still unchanged since the read.
    table = model.__table__
    now = utcnow()
    deleted: list[int] = []
    for start in range(0, len(missing), 900):
        chunk = missing[start:start + 900]
        with tenant.transaction() as session:
            session.info[APPLYING_SYNC] = True
            deleted += session.connection().execute(
                update(table).where(table.c.tenant_id == tenant.id, table.c.external_source == connector_name,
                                    table.c.external_id.in_(chunk), table.c.is_deleted.is_(False),
                                    table.c.updated_at < settled_before)
                .values(is_deleted=True, deleted_at=now, updated_at=now).returning(table.c.id)).scalars().all()
    result.records_deleted += len(deleted)
    log.info("reconcile %s %s %s: %d hard-deleted record(s) marked deleted", tenant.id, connector_name,
             plan.object_name, len(deleted))
    if deleted:
        try:
            tenant.hooks.tether_records_changed(changes=ChangeSet(entity=plan.entity, deleted=deleted, origin="sync",
                                                                  connector=connector_name))
        except PluginHookError as exc:  # the deletions are committed; report, do not undo
            result.details["hook_error"] = exc.one_line()
            log.error("after reconcile deletions: %s", exc.one_line())
