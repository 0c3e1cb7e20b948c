"""Inbound sync runs: read pages from a connector, apply them, move the cursor with them.

For each mapped object (companies before opportunities, so references mostly resolve at
once) one run:

1. opens a ``JobRun`` (closing runs whose process died);
2. checks the mapping against the connector's catalog;
3. reads pages from the stored cursor: initial load (never completed), incremental, or
   a full reload (``full=True``);
4. applies each page and stores the page's cursor **in the same transaction**, so a run
   killed at any point re-reads at most the page it was on;
5. tells plugins after each commit (``tether_records_changed``); what the domain's rules
   refused (a parent link making a cycle, an unknown relationship type) is recorded on
   the run as warnings, never failing it;
6. checks the quota guard before the next page; retries transient errors with
   backoff, resuming from the last committed cursor;
7. finishes the run as ``success``, ``throttled`` (quota) or ``failed`` (with the
   source's message).

The engine knows connectors only through :mod:`tether.core.connectors`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

from ..connectors import Catalog, Connector, ReadRequest
from ..contracts import ChangeSet, ObjectMapping
from ..errors import ConnectorError, PluginHookError, QuotaExceeded, TetherError, TransientConnectorError
from .apply import ENTITY_ORDER
from .cursors import load_cursor, save_cursor
from .incoming import reconcile_incoming
from .mappings import inbound_fields, resolve_mappings
from .outbox import APPLYING_SYNC
from .plan import ObjectPlan, build_plan, page_rows
from .prefetch import Prefetcher
from .quota import DEFAULT_PER_RUN, DEFAULT_TOTAL, QuotaGuard
from .retry import Backoff
from .runs import RunCounters, finish_run, record_progress, start_run

if TYPE_CHECKING:
    from ..plugins import TenantContext

log = logging.getLogger(__name__)
T = TypeVar("T")

MODES = ("initial", "incremental", "full")
PREFETCH_DEPTH = 2
# Warnings kept in a run's details (``warning_count`` counts them all).
MAX_RUN_WARNINGS = 50
# SQLite page cache (KiB) of a connection applying sync pages. An upsert maintains every
# index of the table (eight on opportunities, two of them wide and keyed in no useful
# order), so a page touches leaf pages all over each index; with SQLite's default 2 MB
# cache most of them are read again and spilled mid-transaction. The setting stays with
# the pooled connection (the next page finds its cache warm) and bounds what it may hold.
SQLITE_SYNC_CACHE_KIB = 128 * 1024


@dataclasses.dataclass(frozen=True)
class SyncProgress:
    """What a progress display needs after each page (and at start and end)."""

    connector: str
    object_name: str
    mode: str
    total: int | None
    read: int
    applied: int
    deleted: int
    unchanged: int
    api_calls: int
    elapsed: float
    done: bool = False
    status: str = "running"


@dataclasses.dataclass
class SyncOptions:
    page_size: int = 2000
    backoff: Backoff = dataclasses.field(default_factory=Backoff)
    progress: Callable[[SyncProgress], None] | None = None
    # Stop after this many pages (for tests and careful first runs); None reads everything.
    max_pages: int | None = None
    # Read the next page in a thread while this one is applied (at most two pages ahead).
    prefetch: bool = True


@dataclasses.dataclass(frozen=True)
class SyncResult:
    run_id: int | None
    tenant_id: str
    connector: str
    object_name: str
    entity: str
    mode: str
    status: str
    records_read: int
    records_applied: int
    records_deleted: int
    records_unchanged: int
    api_calls: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"


class SyncSetupError(TetherError):
    pass


def sync_tenant(tenant: "TenantContext", *, connector: str | None = None, objects: Sequence[str] | None = None,
                full: bool = False, options: SyncOptions | None = None) -> list[SyncResult]:
    """Sync every inbound-mapped object of the tenant's connectors (or the ones named)."""
    options = options or SyncOptions()
    mappings = resolve_mappings(tenant)
    names = [connector] if connector else sorted(mappings.connectors)
    if connector and connector not in mappings.connectors:
        raise SyncSetupError(f"tenant {tenant.id!r} has no connector {connector!r}",
                             hint=f"its connectors: {', '.join(sorted(mappings.connectors)) or 'none'}")
    results: list[SyncResult] = []
    for name in names:
        inbound = [m for m in mappings.for_connector(name) if inbound_fields(m)]
        if objects:
            wanted = {o.lower() for o in objects}
            unknown = wanted - {m.object_name.lower() for m in inbound}
            if unknown:
                raise SyncSetupError(
                    f"{name} has no inbound mapping for {', '.join(sorted(unknown))} in tenant {tenant.id!r}",
                    hint=f"objects synced inbound: {', '.join(m.object_name for m in inbound) or 'none'}")
            inbound = [m for m in inbound if m.object_name.lower() in wanted]
        inbound.sort(key=lambda m: ENTITY_ORDER.get(m.entity, 99))
        if inbound:
            results += _sync_connector(tenant, mappings.connectors[name], inbound, full=full, options=options)
    return results


def _sync_connector(tenant: "TenantContext", spec: Any, mappings: list[ObjectMapping], *, full: bool,
                    options: SyncOptions) -> list[SyncResult]:
    results: list[SyncResult] = []
    try:
        connector: Connector = spec.factory(tenant)
    except TetherError as exc:  # a bad or incomplete config, a secret not set, a refused login
        return [_record_setup_failure(tenant, spec.name, m, exc, full) for m in mappings]
    try:
        try:
            catalog = _retrying(connector.discover, options.backoff)
        except ConnectorError as exc:
            return [_record_setup_failure(tenant, spec.name, m, exc, full) for m in mappings]
        guard = QuotaGuard(per_run=getattr(connector, "quota_share_per_run", DEFAULT_PER_RUN),
                           total=getattr(connector, "quota_share_total", DEFAULT_TOTAL))
        throttled: QuotaExceeded | None = None
        for mapping in mappings:
            if throttled is not None:
                results.append(_record_setup_failure(tenant, spec.name, mapping, throttled, full))
                continue
            result = ObjectSync(tenant, connector, spec.name, mapping, catalog, guard, full=full, options=options).run()
            results.append(result)
            if result.status == "throttled":
                throttled = QuotaExceeded(result.error or "quota guard stopped the run")
    finally:
        connector.close()
    return results


def _record_setup_failure(tenant: "TenantContext", connector: str, mapping: ObjectMapping, exc: TetherError,
                          full: bool) -> SyncResult:
    status = "throttled" if isinstance(exc, QuotaExceeded) else "failed"
    mode = "full" if full else "incremental"
    run_id = start_run(tenant.store, tenant.id, connector=connector, object_name=mapping.object_name, mode=mode)
    finish_run(tenant.store, tenant.id, run_id, status=status, counters=RunCounters(), details={},
               error=exc.one_line())
    return SyncResult(run_id, tenant.id, connector, mapping.object_name, mapping.entity, mode, status, 0, 0, 0, 0, 0,
                      exc.one_line())


def _retrying(call: Callable[[], T], backoff: Backoff, on_retry: Callable[[TransientConnectorError], None] | None = None
              ) -> T:
    attempt = 0
    while True:
        try:
            return call()
        except TransientConnectorError as exc:
            attempt += 1
            if attempt >= backoff.max_attempts:
                raise
            log.warning("transient error, retry %d of %d: %s", attempt, backoff.max_attempts - 1, exc.one_line())
            if on_retry is not None:
                on_retry(exc)
            backoff.wait(attempt)


class ObjectSync:
    """One run of one object."""

    def __init__(self, tenant: "TenantContext", connector: Connector, connector_name: str, mapping: ObjectMapping,
                 catalog: Catalog, guard: QuotaGuard, *, full: bool, options: SyncOptions) -> None:
        self.tenant = tenant
        self.connector = connector
        self.name = connector_name
        self.mapping = mapping
        self.catalog = catalog
        self.guard = guard
        self.full = full
        self.options = options
        self.counters = RunCounters()
        self.details: dict[str, Any] = {"retries": 0}
        self.total: int | None = None
        self.mode = "full" if full else "incremental"
        self.started = time.monotonic()
        self._calls_seen = self._calls_made()
        self._calls_at_start = self._calls_seen

    @property
    def object_name(self) -> str:
        return self.mapping.object_name

    def run(self) -> SyncResult:
        tenant = self.tenant
        with tenant.session() as session:
            cursor = load_cursor(session, self.name, self.object_name)
        reloading = self.full or bool(cursor.state.get("full_reload"))
        self.mode = "full" if reloading else ("incremental" if cursor.initial_load_done else "initial")
        run_id = start_run(tenant.store, tenant.id, connector=self.name, object_name=self.object_name, mode=self.mode)
        status, error = "success", None
        try:
            self._read_all(run_id, cursor, reloading)
        except QuotaExceeded as exc:
            status, error = "throttled", exc.one_line()
            log.warning("sync %s %s %s throttled: %s", tenant.id, self.name, self.object_name, error)
        except TetherError as exc:
            status, error = "failed", exc.one_line()
            log.error("sync %s %s %s failed: %s", tenant.id, self.name, self.object_name, error)
        except BaseException as exc:
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            self._account_calls()
            finish_run(tenant.store, tenant.id, run_id, status=status, counters=self.counters,
                       details=self.details, error=error)
            raise
        self._account_calls()
        finish_run(tenant.store, tenant.id, run_id, status=status, counters=self.counters, details=self.details,
                   error=error)
        self._report(done=True, status=status)
        c = self.counters
        return SyncResult(run_id, tenant.id, self.name, self.object_name, self.mapping.entity, self.mode, status,
                          c.records_read, c.records_applied, c.records_deleted, c.records_unchanged, c.api_calls, error)

    # -- reading --------------------------------------------------------------------------

    def _read_all(self, run_id: int, cursor, reloading: bool) -> None:
        tenant = self.tenant
        plan = build_plan(tenant, self.name, self.mapping, self.catalog)
        state = dict(cursor.state)
        position = cursor.value
        if self.full and not cursor.state.get("full_reload"):
            position, state = None, {**state, "full_reload": True}
            with tenant.transaction() as session:
                save_cursor(session, self.name, self.object_name, value=None, state=state)
        self.details.update(cursor_start=position, entity=plan.entity)
        request = ReadRequest(object_name=plan.object_name, fields=plan.source_fields(), cursor=position,
                              include_deleted=self.mode != "initial", page_size=self.options.page_size)
        self.guard.check(self.connector.api_usage(), connector=self.name)
        self.total = _retrying(lambda: self.connector.count(request), self.options.backoff, self._note_retry)
        self.details["count"] = self.total
        self._account_calls()
        self.guard.check(self.connector.api_usage(), connector=self.name)
        self._report()
        applier = plan.applier_class(tenant.store.dialect, tenant.id, self.name, plan.targets, full_reload=reloading,
                                     tenant=tenant)
        failures = 0
        pages = 0
        while True:
            source = self.connector.read(dataclasses.replace(request, cursor=position))
            reader = Prefetcher(source, depth=PREFETCH_DEPTH, gate=self._quota_gate) if self.options.prefetch else None
            try:
                for page in reader or source:
                    position = self._apply_page(run_id, plan, applier, page, position, state)
                    failures = 0
                    pages += 1
                    if self.options.max_pages is not None and pages >= self.options.max_pages:
                        self.details["stopped_after_pages"] = pages
                        return
                    self.guard.check(self.connector.api_usage(), connector=self.name, run_calls=self._run_calls())
                break
            except TransientConnectorError as exc:
                if reader is not None:
                    reader.close()
                failures += 1
                if failures >= self.options.backoff.max_attempts:
                    raise
                self._note_retry(exc)
                log.warning("sync %s %s: transient error, resuming from the last committed page (retry %d): %s",
                            self.name, self.object_name, failures, exc.one_line())
                self.options.backoff.wait(failures)
            finally:
                if reader is not None:
                    reader.close()
        state.pop("full_reload", None)
        with tenant.transaction() as session:
            save_cursor(session, self.name, self.object_name, value=position, state=state,
                        full_load_completed=True if self.mode in ("initial", "full") else None)
        self.details["cursor_end"] = position

    def _apply_page(self, run_id: int, plan: ObjectPlan, applier, page, position: str | None,
                    state: dict[str, Any]) -> str | None:
        tenant = self.tenant
        rows = page_rows(tenant, plan, page)
        new_position = page.cursor if page.cursor is not None else position
        counters = self.counters
        with tenant.transaction() as session:
            session.info[APPLYING_SYNC] = True
            if tenant.store.dialect == "sqlite":
                session.connection().exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_SYNC_CACHE_KIB}")
            # Records tether changed: our own pushes coming back, merges, conflicts.
            incoming = reconcile_incoming(session, tenant, self.name, plan.mapping, rows, full_reload=applier.full_reload)
            outcome = applier.apply(session, incoming.rows)
            counters.pages += 1
            counters.records_read += len(rows)
            counters.records_applied += len(outcome.created) + len(outcome.updated)
            counters.records_deleted += len(outcome.deleted)
            counters.records_unchanged += outcome.unchanged + len(incoming.echoes) + len(incoming.kept_deleted)
            if outcome.warnings:
                self._warn(outcome.warnings)
            self._account_calls(page.api_calls)
            save_cursor(session, self.name, self.object_name, value=new_position, state=state)
            record_progress(session, tenant.id, run_id, counters, {**self.details, "cursor": new_position})
        if outcome.applied:
            self._notify(ChangeSet(entity=plan.entity, created=outcome.created, updated=outcome.updated,
                                   deleted=outcome.deleted, origin="sync", connector=self.name))
        self._report()
        return new_position

    def _run_calls(self) -> int | None:
        made = self._calls_made()
        return None if made is None or self._calls_at_start is None else made - self._calls_at_start

    def _quota_gate(self) -> QuotaExceeded | None:
        """Asked by the reading thread before each fetch (it reads ahead of the applied pages)."""
        try:
            self.guard.check(self.connector.api_usage(), connector=self.name, run_calls=self._run_calls())
        except QuotaExceeded as exc:
            return exc
        return None

    def _note_retry(self, exc: TransientConnectorError) -> None:
        self.details["retries"] += 1
        self.details["last_retry"] = exc.one_line()

    def _warn(self, warnings: Sequence[str]) -> None:
        """Keep what the domain's rules refused on the run (the first ones, and a count)."""
        kept = self.details.setdefault("warnings", [])
        self.details["warning_count"] = self.details.get("warning_count", 0) + len(warnings)
        for warning in warnings:
            log.warning("sync %s %s %s: %s", self.tenant.id, self.name, self.object_name, warning)
            if len(kept) < MAX_RUN_WARNINGS:
                kept.append(warning)

    def _notify(self, changes: ChangeSet) -> None:
        # The page is committed: a failing plugin is reported on the run, not allowed to undo it.
        try:
            self.tenant.hooks.tether_records_changed(changes=changes)
        except PluginHookError as exc:
            errors = self.details.setdefault("hook_errors", [])
            if len(errors) < 10:
                errors.append(exc.one_line())
            log.error("after a sync page: %s", exc.one_line())

    # -- accounting -------------------------------------------------------------------------

    def _calls_made(self) -> int | None:
        made = getattr(self.connector, "api_calls_made", None)
        return made if isinstance(made, int) else None

    def _account_calls(self, page_calls: int = 0) -> None:
        """Count API calls: from the connector's running total when it keeps one, else per page."""
        made = self._calls_made()
        if made is None or self._calls_seen is None:
            calls = page_calls
        else:
            calls = made - self._calls_seen
            self._calls_seen = made
        if calls:
            self.counters.api_calls += calls
            self.guard.spent(calls)

    def _report(self, *, done: bool = False, status: str = "running") -> None:
        if self.options.progress is None:
            return
        c = self.counters
        self.options.progress(SyncProgress(
            connector=self.name, object_name=self.object_name, mode=self.mode, total=self.total,
            read=c.records_read, applied=c.records_applied, deleted=c.records_deleted, unchanged=c.records_unchanged,
            api_calls=c.api_calls, elapsed=time.monotonic() - self.started, done=done, status=status))


def sync_object(tenant: "TenantContext", connector: str, object_name: str, *, full: bool = False,
                options: SyncOptions | None = None) -> SyncResult:
    """Sync one object of one connector."""
    [result] = sync_tenant(tenant, connector=connector, objects=[object_name], full=full, options=options)
    return result


__all__ = ["SyncOptions", "SyncProgress", "SyncResult", "sync_object", "sync_tenant", "MODES"]
