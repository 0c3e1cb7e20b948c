"""Pushing local changes to their source: coalesced, ordered, idempotent, recorded per record.

:func:`push_outbox` takes the tenant's waiting outbox entries in id order and, per record:

1. **coalesces** them (later values of a field win; a delete ends the record's segment,
   changes after it wait for the next run, so each record's changes keep their order);
2. leaves out fields held by an open manual conflict, and fields whose value is already
   what the source holds (the shadow's base): an update that changes nothing is skipped;
3. writes through the connector: updates by the source's id; records tether creates are
   upserted by the mapping's ``external_id_field`` (a key tether chose), so a create
   retried after a lost answer finds the record it made instead of making another;
4. records each record's result: success stores the source id and the pushed values as
   the new base (how the change is recognised when it comes back: see :mod:`.incoming`);
   a permanent error (validation) parks the entries as ``failed`` with the source's
   message (``tether sync failures``, ``tether sync retry``); a transient error (locks,
   timeouts) retries with backoff, then parks.

Calls are sliced so progress is recorded as it goes; a connector that writes large
batches in bulk says so with ``bulk_write_threshold`` and then gets them whole.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import distinct, select

from ..connectors import WriteOperation, WriteResult
from ..errors import ConnectorError, PermanentConnectorError, QuotaExceeded, TetherError, TransientConnectorError
from ..store.models import OutboxEntry
from ..store.types import utcnow
from .mappings import TenantMappings, cached_mappings
from .push_plan import PlannedRecord, plan_records
from .push_results import record_results
from .quota import DEFAULT_PER_RUN, DEFAULT_TOTAL, QuotaGuard
from .retry import Backoff

if TYPE_CHECKING:
    from ..plugins import TenantContext

log = logging.getLogger(__name__)


@dataclasses.dataclass
class PushOptions:
    # Entries read per round (one planning read, the writes, one recording transaction).
    round_entries: int = 20_000
    # Operations per connector.write() call, below the connector's bulk threshold.
    write_slice: int = 2000
    # Retries of a whole call (timeouts, 5xx) within the run, sleeping between them.
    call_backoff: Backoff = dataclasses.field(default_factory=lambda: Backoff(base=0.5, cap=20.0, max_attempts=4))
    # A record's transient failures before it is parked as failed; delays between runs.
    max_attempts: int = 8
    retry_base_seconds: float = 10.0
    retry_cap_seconds: float = 3600.0
    # At most this many records per run (None: everything due).
    limit: int | None = None


@dataclasses.dataclass
class PushResult:
    tenant_id: str
    status: str = "success"
    error: str | None = None
    records_read: int = 0  # outbox entries taken
    records_applied: int = 0  # records created or updated at the source
    records_deleted: int = 0
    failed: int = 0
    retrying: int = 0
    skipped: int = 0  # nothing left to change at the source
    cancelled: int = 0
    held: int = 0  # waiting on a manual conflict
    api_calls: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def details(self) -> dict[str, Any]:
        return {"push_failed": self.failed, "push_retrying": self.retrying, "push_skipped": self.skipped,
                "push_cancelled": self.cancelled, "push_held": self.held}


class _Stop(Exception):
    def __init__(self, status: str, error: TetherError) -> None:
        self.status = status
        self.error = error


def push_outbox(tenant: "TenantContext", *, connector: str | None = None,
                options: PushOptions | None = None) -> PushResult:
    """Push every due outbox entry of the tenant (or of one connector)."""
    options = options or PushOptions()
    result = PushResult(tenant.id)
    mappings = cached_mappings(tenant)
    with tenant.session() as session:
        query = select(distinct(OutboxEntry.connector)).where(OutboxEntry.status == "pending")
        names = sorted(session.scalars(query))
    if connector is not None:
        names = [n for n in names if n == connector]
    for name in names:
        spec = mappings.connectors.get(name)
        if spec is None:
            result.status = "failed"
            result.error = f"outbox entries wait for connector {name!r}, which tenant {tenant.id!r} has not enabled"
            log.error("tenant %s: %s", tenant.id, result.error)
            continue
        try:
            _ConnectorPush(tenant, name, spec, mappings, options, result).run()
        except _Stop as stop:
            result.status = stop.status
            result.error = stop.error.one_line()
            log.warning("push %s %s %s: %s", tenant.id, name, stop.status, result.error)
            if stop.status == "throttled":
                break
    return result


class _ConnectorPush:
    def __init__(self, tenant: "TenantContext", name: str, spec: Any, mappings: TenantMappings, options: PushOptions,
                 result: PushResult) -> None:
        self.tenant = tenant
        self.name = name
        self.spec = spec
        self.mappings = mappings
        self.options = options
        self.result = result
        self.connector: Any = None
        self.guard: QuotaGuard | None = None
        self._calls_seen = 0
        self.pushed_records = 0

    def run(self) -> None:
        after_id = 0
        blocked: set[tuple[str, Any]] = set()
        try:
            while True:
                entries = self._load(after_id)
                if not entries:
                    return
                after_id = entries[-1].id
                records = self._plan(entries, blocked)
                if records:
                    self._push(records)
                if self.options.limit is not None and self.pushed_records >= self.options.limit:
                    return
        finally:
            self._account_calls()
            if self.connector is not None:
                self.connector.close()

    # -- reading and planning -------------------------------------------------------------

    def _load(self, after_id: int) -> list[OutboxEntry]:
        with self.tenant.session() as session:
            return list(session.scalars(
                select(OutboxEntry).where(OutboxEntry.connector == self.name, OutboxEntry.status == "pending",
                                          OutboxEntry.id > after_id)
                .order_by(OutboxEntry.id).limit(self.options.round_entries)))

    def _plan(self, entries: list[OutboxEntry], blocked: set[tuple[str, Any]]) -> list[PlannedRecord]:
        now = utcnow()
        self.result.records_read += len(entries)
        with self.tenant.session() as session:
            records = plan_records(self.tenant, session, self.name, self.mappings, entries, blocked=blocked, now=now,
                                   limit=None if self.options.limit is None else self.options.limit - self.pushed_records)
        self.result.held += sum(1 for r in records if r.held_only)
        ready = [r for r in records if r.operation is not None]
        settled = [r for r in records if r.operation is None and r.outcome is not None]
        if settled:
            with self.tenant.transaction() as session:
                record_results(self.tenant, session, self.name, settled, [None] * len(settled), now=now,
                               options=self.options, result=self.result)
        return ready

    # -- writing --------------------------------------------------------------------------

    def _open(self) -> Any:
        if self.connector is None:
            self.connector = self.spec.factory(self.tenant)
            self.guard = QuotaGuard(per_run=getattr(self.connector, "quota_share_per_run", DEFAULT_PER_RUN),
                                    total=getattr(self.connector, "quota_share_total", DEFAULT_TOTAL))
            made = getattr(self.connector, "api_calls_made", None)
            self._calls_seen = made if isinstance(made, int) else 0
        return self.connector

    def _push(self, records: list[PlannedRecord]) -> None:
        connector = self._open()
        threshold = getattr(connector, "bulk_write_threshold", None)
        if isinstance(threshold, int) and len(records) > threshold:
            slices = [records]
        else:
            step = max(1, self.options.write_slice)
            slices = [records[i:i + step] for i in range(0, len(records), step)]
        for part in slices:
            results = self._write(connector, part)
            with self.tenant.transaction() as session:
                record_results(self.tenant, session, self.name, part, results, now=utcnow(), options=self.options,
                               result=self.result)
            self.pushed_records += len(part)

    def _write(self, connector: Any, records: Sequence[PlannedRecord]) -> list[WriteResult]:
        operations: list[WriteOperation] = [r.operation for r in records]  # type: ignore[misc]
        attempt = 0
        while True:
            assert self.guard is not None
            try:
                self.guard.check(connector.api_usage(), connector=self.name)
                results = connector.write(operations)
            except QuotaExceeded as exc:
                self._account_calls()
                raise _Stop("throttled", exc) from None
            except TransientConnectorError as exc:
                self._account_calls()
                attempt += 1
                if attempt < self.options.call_backoff.max_attempts:
                    log.warning("push %s %s: %s; retry %d", self.tenant.id, self.name, exc.one_line(), attempt)
                    self.options.call_backoff.wait(attempt)
                    continue
                self._park_after_call_error(records, exc)
                raise _Stop("failed", exc) from None
            except PermanentConnectorError as exc:
                self._account_calls()
                if exc.status in (401, 403) or exc.code in ("INVALID_SESSION_ID", "INVALID_LOGIN"):
                    raise _Stop("failed", exc) from None  # nothing wrong with the records: they wait
                return [WriteResult(local_id=op.local_id, success=False, external_id=op.external_id,
                                    error_kind="permanent", error_code=exc.code, error_message=exc.message)
                        for op in operations]
            self._account_calls()
            if len(results) != len(operations):
                raise _Stop("failed", ConnectorError(
                    f"connector {self.name!r} returned {len(results)} results for {len(operations)} writes",
                    hint="a connector's write() must answer every operation, in order"))
            return results

    def _park_after_call_error(self, records: Sequence[PlannedRecord], exc: TransientConnectorError) -> None:
        """The call kept failing: the records wait for the next run (with backoff). A plain
        create whose request may have been processed is parked instead: retrying it could
        make a second record."""
        results = []
        for record in records:
            op = record.operation
            unsafe = op is not None and op.operation == "upsert" and not op.external_id and not op.external_id_field \
                and exc.code in ("TIMEOUT", "CONNECTION")
            results.append(WriteResult(
                local_id=op.local_id if op else None, success=False, external_id=None,
                error_kind="permanent" if unsafe else "transient", error_code=exc.code,
                error_message=(f"the outcome of this create is unknown ({exc.message}); check {self.name} for the "
                               f"record, then retry or cancel it" if unsafe else exc.message)))
        with self.tenant.transaction() as session:
            record_results(self.tenant, session, self.name, records, results, now=utcnow(), options=self.options,
                           result=self.result)

    def _account_calls(self) -> None:
        if self.connector is None:
            return
        made = getattr(self.connector, "api_calls_made", None)
        if not isinstance(made, int):
            return
        calls = made - self._calls_seen
        self._calls_seen = made
        if calls:
            self.result.api_calls += calls
            if self.guard is not None:
                self.guard.spent(calls)


# -- failures: list and retry -------------------------------------------------------------

def failed_entries(tenant: "TenantContext", *, limit: int = 500) -> list[OutboxEntry]:
    with tenant.session() as session:
        return list(session.scalars(select(OutboxEntry).where(OutboxEntry.status == "failed")
                                    .order_by(OutboxEntry.id).limit(limit)))


def retry_failed(tenant: "TenantContext", *, ids: Sequence[int] | None = None) -> int:
    """Queue failed entries again (all, or the ones named); returns how many."""
    from sqlalchemy import update

    with tenant.transaction() as session:
        query = update(OutboxEntry).where(OutboxEntry.status == "failed")
        if ids:
            query = query.where(OutboxEntry.id.in_(list(ids)))
        done = session.execute(query.values(status="pending", attempts=0, next_attempt_at=None)
                               .execution_options(synchronize_session=False))
        return done.rowcount or 0


__all__ = ["PushOptions", "PushResult", "push_outbox", "failed_entries", "retry_failed"]
