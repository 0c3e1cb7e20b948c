"""Applying stored webhook notifications (Outbound Messages) with latest-state semantics.

The receiver stored each notification before acknowledging it (:mod:`tether.core.inbox`);
:func:`process_inbox` applies them in batches, per object, through the same plan, merge
(:mod:`.incoming`) and applier as the poll, so the same rules hold: a version older
than the stored one (by ``SystemModstamp``) changes nothing, which makes duplicates and
out-of-order delivery harmless, and our own pushes coming back change nothing either.

A notification that does not carry every mapped field (a deleted record's carries only
its ``Id``; a rule may send fewer fields), or names a record tether has never seen, is
completed by reading the record by id, one call per 200 ids (the connector's optional
``fetch``): a record in the recycle bin is stored deleted, so a notification older than
the delete, arriving later, cannot bring it back; one the source no longer has at all
is a delete. A mapped field missing from a notification is known to be null
when another notification of the same Outbound Message action carries it, or when the
connector plugin's ``outbound_message_fields`` lists it.

Each notification ends ``applied``, ``stale`` (an older or repeated version),
``echo`` (nothing new: our own push coming back), ``ignored`` (an object the tenant does
not sync inbound) or ``failed`` (with the error), in the transaction that applied it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import bindparam, select, update

from ..connectors import Catalog, FieldSchema, ObjectSchema, Page
from ..contracts import ChangeSet, ObjectMapping
from ..errors import ConnectorError, PluginHookError, QuotaExceeded, TetherError, TransientConnectorError
from ..store.models import InboxMessage
from ..store.types import utcnow
from .coerce import to_datetime
from .incoming import reconcile_incoming
from .mappings import TenantMappings, cached_mappings, inbound_fields
from .outbox import APPLYING_SYNC
from .plan import ObjectPlan, build_plan, page_rows

if TYPE_CHECKING:
    from ..plugins import TenantContext

log = logging.getLogger(__name__)

DEFAULT_PRIMARY_KEY = "Id"
DEFAULT_STAMP_FIELD = "SystemModstamp"
BATCH_SIZE = 2000
MAX_WARNINGS = 50


@dataclasses.dataclass
class InboxResult:
    tenant_id: str
    status: str = "success"
    error: str | None = None
    records_read: int = 0  # notifications taken
    records_applied: int = 0  # records created or updated
    records_deleted: int = 0
    stale: int = 0
    echoes: int = 0
    ignored: int = 0
    failed: int = 0
    fetched: int = 0  # records read by id at the source
    api_calls: int = 0
    # What the domain's rules refused while applying (a parent making a cycle...).
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def details(self) -> dict[str, Any]:
        details = {"inbox_stale": self.stale, "inbox_echoes": self.echoes, "inbox_ignored": self.ignored,
                   "inbox_failed": self.failed, "inbox_fetched": self.fetched}
        if self.warnings:
            details["warnings"] = list(self.warnings)
        return details


class _Stop(Exception):
    def __init__(self, status: str, error: TetherError) -> None:
        self.status = status
        self.error = error


def process_inbox(tenant: "TenantContext", *, limit: int | None = None, batch_size: int = BATCH_SIZE) -> InboxResult:
    """Apply the tenant's pending notifications (at most ``limit``), oldest first."""
    result = InboxResult(tenant.id)
    processor = _Processor(tenant, cached_mappings(tenant), result)
    after_id = 0
    try:
        while limit is None or result.records_read < limit:
            size = batch_size if limit is None else min(batch_size, limit - result.records_read)
            with tenant.session() as session:
                messages = list(session.scalars(
                    select(InboxMessage).where(InboxMessage.status == "pending", InboxMessage.id > after_id)
                    .order_by(InboxMessage.id).limit(size)))
            if not messages:
                break
            after_id = messages[-1].id
            result.records_read += len(messages)
            groups: dict[tuple[str, str], list[InboxMessage]] = {}
            for message in messages:
                groups.setdefault((message.connector, message.object_name or ""), []).append(message)
            for (connector, object_name), group in groups.items():
                processor.group(connector, object_name, group)
    except _Stop as stop:
        result.status, result.error = stop.status, stop.error.one_line()
        log.warning("inbox %s %s: %s", tenant.id, stop.status, result.error)
    finally:
        processor.close()
    return result


class _Processor:
    def __init__(self, tenant: "TenantContext", mappings: TenantMappings, result: InboxResult) -> None:
        self.tenant = tenant
        self.mappings = mappings
        self.result = result
        self.connectors: dict[str, Any] = {}
        self.plans: dict[tuple[str, str], ObjectPlan] = {}
        self._calls: dict[str, int] = {}

    def close(self) -> None:
        for name, connector in self.connectors.items():
            self._account(name)
            connector.close()

    # -- per object -----------------------------------------------------------------------

    def group(self, connector: str, object_name: str, messages: list[InboxMessage]) -> None:
        mapping = self.mappings.for_object(connector, object_name)
        if connector not in self.mappings.connectors or mapping is None or not inbound_fields(mapping):
            self._finish(messages, "ignored", f"tenant {self.tenant.id!r} does not sync {connector} {object_name} inbound")
            self.result.ignored += len(messages)
            return
        try:
            self._apply(connector, mapping, messages)
        except (QuotaExceeded, TransientConnectorError) as exc:
            raise _Stop("throttled" if isinstance(exc, QuotaExceeded) else "failed", exc) from None
        except (TetherError, ValueError) as exc:
            if len(messages) > 1:  # find the notification at fault; the others apply
                for message in messages:
                    self.group(connector, object_name, [message])
                return
            error = exc.one_line() if isinstance(exc, TetherError) else str(exc)
            log.error("inbox %s: notification %s failed: %s", self.tenant.id, messages[0].notification_id, error)
            self._finish(messages, "failed", error)
            self.result.failed += 1

    def _plan(self, connector: str, mapping: ObjectMapping, payload: dict[str, Any]) -> ObjectPlan:
        # A receiver may name its source's id and stamp fields in the payload; Salesforce's
        # are the defaults.
        primary_key = payload.get("id_field") or DEFAULT_PRIMARY_KEY
        stamp = payload.get("stamp_field") or DEFAULT_STAMP_FIELD
        key = (connector, mapping.object_name, primary_key, stamp)
        if key not in self.plans:
            # Built from the mapping: no describe call per batch (the poll checks the
            # mapping against the source's describe; notifications carry the same fields).
            fields = [FieldSchema(primary_key, "id"), FieldSchema(stamp, "datetime")]
            fields += [FieldSchema(f.source, f.type) for f in inbound_fields(mapping)]
            schema = ObjectSchema(mapping.object_name, tuple(fields), primary_key=primary_key, cursor_field=stamp,
                                  supports_deletes=True)
            self.plans[key] = build_plan(self.tenant, connector, mapping, Catalog((schema,)))
        return self.plans[key]

    def _apply(self, connector: str, mapping: ObjectMapping, messages: list[InboxMessage]) -> None:
        plan = self._plan(connector, mapping, messages[0].payload or {})
        pk, stamp_field = plan.schema.primary_key, plan.schema.cursor_field or DEFAULT_STAMP_FIELD
        applier = plan.applier_class(self.tenant.store.dialect, self.tenant.id, connector, plan.targets,
                                     tenant=self.tenant)
        model = applier.model
        ids = list(dict.fromkeys(m.record_external_id or "" for m in messages))
        with self.tenant.session() as session:
            known = set(self._stored_stamps(session, model, connector, ids))
        records, incomplete = self._records(connector, plan, messages, known)
        deleted: list[str] = []
        tombstones: list[dict[str, Any]] = []
        if incomplete:
            fetched = self._fetch(connector, plan, incomplete)
            found = {r[pk]: r for r in fetched}
            for record_id in incomplete:
                record = found.get(record_id) or found.get(record_id[:15])
                if record is None:
                    deleted.append(record_id)  # purged at the source
                elif str(record.get("IsDeleted")).lower() == "true":
                    records.append(record)
                    deleted.append(record[pk])
                    if record[pk] not in known:
                        tombstones.append(dict(record))
                else:
                    records.append(record)
        rows = page_rows(self.tenant, plan, Page(records=records, cursor=None, deleted_ids=deleted))
        # A record deleted before tether first saw it is stored deleted (from the recycle
        # bin's copy), so an older notification arriving later cannot bring it back.
        graves = page_rows(self.tenant, plan, Page(records=tombstones, cursor=None)) if tombstones else []
        for grave in graves:
            grave.modstamp = None
        stamps: dict[str, dt.datetime | None] = {}
        for row in rows:  # the newest version of each record in the batch
            known = stamps.get(row.external_id)
            if row.external_id not in stamps or (row.modstamp is not None and (known is None or row.modstamp > known)):
                stamps[row.external_id] = row.modstamp
        with self.tenant.transaction() as session:
            session.info[APPLYING_SYNC] = True
            stored = self._stored_stamps(session, model, connector, list(stamps))
            if graves:
                applier.apply(session, graves)
            incoming = reconcile_incoming(session, self.tenant, connector, mapping, rows)
            outcome = applier.apply(session, incoming.rows)
            echoes, kept = set(incoming.echoes), set(incoming.kept_deleted)
            statuses = []
            for message in messages:
                record_id = message.record_external_id or ""
                sent = _stamp_of(message, stamp_field)
                current = stamps.get(record_id)
                if record_id in echoes:
                    status, note = "echo", None
                elif record_id in kept:
                    status, note = "stale", "a local delete of this record waits to be pushed"
                elif record_id in stored and stored[record_id] is not None and current is not None \
                        and current <= stored[record_id]:
                    status, note = "stale", None
                elif sent is not None and current is not None and sent < current:
                    status, note = "stale", None  # a later version of the record was applied
                else:
                    status, note = "applied", None
                statuses.append((message, status, note))
            self._finish_in(session, statuses)
        for warning in outcome.warnings:
            log.warning("inbox %s %s %s: %s", self.tenant.id, connector, mapping.object_name, warning)
            if len(self.result.warnings) < MAX_WARNINGS:
                self.result.warnings.append(warning)
        self.result.records_applied += len(outcome.created) + len(outcome.updated)
        self.result.records_deleted += len(outcome.deleted)
        for _, status, _ in statuses:
            if status == "stale":
                self.result.stale += 1
            elif status == "echo":
                self.result.echoes += 1
        if outcome.applied:
            try:
                self.tenant.hooks.tether_records_changed(changes=ChangeSet(
                    entity=plan.entity, created=outcome.created, updated=outcome.updated, deleted=outcome.deleted,
                    origin="sync", connector=connector))
            except PluginHookError as exc:  # committed: report, do not undo
                log.error("after applying notifications: %s", exc.one_line())

    def _records(self, connector: str, plan: ObjectPlan, messages: Sequence[InboxMessage], known: set[str]
                 ) -> tuple[list[dict[str, Any]], list[str]]:
        """Complete records from the notifications, and the ids to read at the source:
        incomplete notifications, and records tether has never seen (one deleted since
        is then stored deleted, so no late notification can bring it back)."""
        pk, stamp_field = plan.schema.primary_key, plan.schema.cursor_field or DEFAULT_STAMP_FIELD
        needed = set(plan.source_fields())
        declared = self._declared_fields(connector, plan.object_name)
        seen: dict[str, set[str]] = {}
        for message in messages:
            action = (message.payload or {}).get("action_id") or ""
            seen.setdefault(action, set()).update(((message.payload or {}).get("fields") or {}).keys())
        records: list[dict[str, Any]] = []
        incomplete: list[str] = []
        for message in messages:
            fields = dict((message.payload or {}).get("fields") or {})
            record_id = fields.get(pk) or message.record_external_id
            if not record_id:
                raise ValueError(f"notification {message.notification_id} names no record")
            fields[pk] = record_id
            sent = set(fields) | declared | seen.get((message.payload or {}).get("action_id") or "", set())
            if record_id not in known or len(fields) <= 1 or stamp_field not in fields or not needed <= sent:
                incomplete.append(record_id)
                continue
            for name in needed - set(fields):
                fields[name] = None  # sent by the rule, so absent means null
            records.append(fields)
        return records, list(dict.fromkeys(incomplete))

    def _declared_fields(self, connector: str, object_name: str) -> set[str]:
        spec = self.mappings.connectors.get(connector)
        if spec is None or not self.tenant.is_enabled(spec.plugin):
            return set()
        declared = self.tenant.config_for(spec.plugin).get("outbound_message_fields") or {}
        for name, fields in declared.items():
            if str(name).lower() == object_name.lower():
                return {str(f) for f in fields or ()}
        return set()

    def _fetch(self, connector: str, plan: ObjectPlan, ids: list[str]) -> list[dict[str, Any]]:
        source = self._connector(connector)
        fetch = getattr(source, "fetch", None)
        if fetch is None:
            raise ConnectorError(f"connector {connector!r} cannot read records by id, so notifications without "
                                 f"every mapped field cannot be applied",
                                 hint="the next poll brings these records; have the Outbound Message send every "
                                      "mapped field")
        try:
            records = fetch(plan.object_name, ids, plan.source_fields())
        finally:
            self._account(connector)
        self.result.fetched += len(ids)
        return records

    def _connector(self, name: str) -> Any:
        if name not in self.connectors:
            connector = self.mappings.connectors[name].factory(self.tenant)
            self.connectors[name] = connector
            made = getattr(connector, "api_calls_made", None)
            self._calls[name] = made if isinstance(made, int) else 0
        return self.connectors[name]

    def _account(self, name: str) -> None:
        made = getattr(self.connectors.get(name), "api_calls_made", None)
        if isinstance(made, int):
            self.result.api_calls += made - self._calls.get(name, 0)
            self._calls[name] = made

    # -- statuses ---------------------------------------------------------------------------

    @staticmethod
    def _stored_stamps(session, model: Any, connector: str, external_ids: list[str]) -> dict[str, dt.datetime | None]:
        if model is None:
            return {}  # a plugin entity stored elsewhere: every notification is read and applied
        table = model.__table__
        tenant_id = session.info.get("tenant_id")
        found: dict[str, dt.datetime | None] = {}
        for start in range(0, len(external_ids), 900):
            found.update(session.execute(select(table.c.external_id, table.c.source_modstamp).where(
                table.c.tenant_id == tenant_id, table.c.external_source == connector,
                table.c.external_id.in_(external_ids[start:start + 900]))).all())
        return found

    def _finish(self, messages: Sequence[InboxMessage], status: str, error: str | None) -> None:
        with self.tenant.transaction() as session:
            self._finish_in(session, [(m, status, error) for m in messages])

    @staticmethod
    def _finish_in(session, statuses: Sequence[tuple[InboxMessage, str, str | None]]) -> None:
        if not statuses:
            return
        table = InboxMessage.__table__
        now = utcnow()
        tenant_id = session.info.get("tenant_id")
        session.connection().execute(
            update(table).where(table.c.id == bindparam("mid"), table.c.tenant_id == tenant_id)
            .values(status=bindparam("st"), error=bindparam("err"), processed_at=now, attempts=table.c.attempts + 1),
            [{"mid": m.id, "st": status, "err": error} for m, status, error in statuses])


def _stamp_of(message: InboxMessage, stamp_field: str) -> dt.datetime | None:
    value = ((message.payload or {}).get("fields") or {}).get(stamp_field)
    try:
        return to_datetime(value)
    except (TypeError, ValueError):
        return None


def pending_notifications(tenant: "TenantContext") -> int:
    from ..inbox import pending_count

    with tenant.session() as session:
        return pending_count(session)


__all__ = ["InboxResult", "process_inbox", "pending_notifications"]
