"""The ``filedrop_import`` job: new usage and event files into the plugin's tables.

It drives the connector exactly as the sync engine does, with the engine's cursor and
run records: read pages from the stored cursor, store each page and its cursor in one
transaction (a run killed at any point re-reads at most that page), retry transient
errors with backoff from the last stored cursor, and finish the run as ``success`` or
``failed`` with the message. An object whose folder does not exist is skipped.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any, Callable

from tether.core.connectors import ReadRequest
from tether.core.errors import PermanentConnectorError, TetherError, TransientConnectorError
from tether.core.sync.cursors import load_cursor, save_cursor
from tether.core.sync.retry import Backoff
from tether.core.sync.runs import RunCounters, finish_run, record_progress, start_run

from . import rows
from .config import PLUGIN
from .connector import CURSOR_FIELD, PRIMARY_KEY, FileDropConnector, cursor_of
from .models import ProductEvent, UsageValue

if TYPE_CHECKING:
    from tether.core.plugins import TenantContext

log = logging.getLogger(__name__)
PAGE_SIZE = 2000


@dataclasses.dataclass(frozen=True)
class ImportResult:
    object_name: str
    status: str  # success | failed | skipped
    rows_read: int = 0
    rows_stored: int = 0
    error: str | None = None
    run_id: int | None = None


@dataclasses.dataclass(frozen=True)
class _Kind:
    model: type
    columns: tuple[str, ...]
    convert: Callable[..., list[dict[str, Any]]]


def _kinds(connector: FileDropConnector) -> dict[str, _Kind]:
    settings = connector.settings
    return {settings.usage_object: _Kind(UsageValue, rows.USAGE_COLUMNS, rows.usage_rows),
            settings.events_object: _Kind(ProductEvent, rows.EVENT_COLUMNS, rows.event_rows)}


def import_drop(tenant: "TenantContext", *, objects: tuple[str, ...] | None = None, backoff: Backoff | None = None,
                page_size: int = PAGE_SIZE) -> list[ImportResult]:
    """Import new usage and event rows of ``tenant``'s drop (or only the named objects)."""
    connector = FileDropConnector.for_tenant(tenant)
    try:
        kinds = _kinds(connector)
        unknown = set(objects or ()) - set(kinds)
        if unknown:
            raise TetherError(f"filedrop imports {', '.join(sorted(kinds))}, not {', '.join(sorted(unknown))}",
                              hint="other objects are synced by the engine through the tenant manifest's mappings")
        present = set(connector.drop.objects())
        results = []
        for object_name, kind in kinds.items():
            if objects and object_name not in objects:
                continue
            if object_name not in present:
                results.append(ImportResult(object_name, "skipped", error=f"no {object_name}/ folder in the drop"))
                continue
            results.append(_import_object(tenant, connector, object_name, kind, backoff or Backoff(), page_size))
        return results
    finally:
        connector.close()


def _import_object(tenant: "TenantContext", connector: FileDropConnector, object_name: str, kind: _Kind,
                   backoff: Backoff, page_size: int) -> ImportResult:
    store = tenant.store
    with tenant.session() as session:
        cursor = load_cursor(session, PLUGIN, object_name)
    mode = "incremental" if cursor.initial_load_done else "initial"
    run_id = start_run(store, tenant.id, connector=PLUGIN, object_name=object_name, mode=mode)
    counters = RunCounters()
    details: dict[str, Any] = {"retries": 0, "cursor_start": cursor.value}
    position = cursor.value
    failures = 0
    status, error = "success", None
    try:
        while True:
            request = ReadRequest(object_name, (PRIMARY_KEY, CURSOR_FIELD, "_file", "_row", *kind.columns),
                                  cursor=position, page_size=page_size)
            try:
                for page in connector.read(request):
                    bad: rows.BadRow | None = None
                    records, page_cursor = page.records, page.cursor
                    try:
                        converted = kind.convert(records, tenant.id)
                    except rows.BadRow as error:
                        # Keep the good rows before it; the cursor stops just before the bad row.
                        bad, records = error, records[:error.index]
                        converted = kind.convert(records, tenant.id)
                        page_cursor = cursor_of(records[-1]) if records else None
                    with tenant.transaction() as session:
                        stored = rows.store_page(session, connector.settings, kind.model, converted)
                        position = page_cursor or position
                        save_cursor(session, PLUGIN, object_name, value=position, state=cursor.state)
                        counters.pages += 1
                        counters.records_read += len(records)
                        counters.records_applied += stored
                        record_progress(session, tenant.id, run_id, counters, {**details, "cursor": position})
                    if bad is not None:
                        raise bad
                    failures = 0
                break
            except TransientConnectorError as exc:
                failures += 1
                if failures >= backoff.max_attempts:
                    raise
                details["retries"] += 1
                log.warning("filedrop import %s %s: %s; retrying from the last stored page", tenant.id, object_name,
                            exc.one_line())
                backoff.wait(failures)
        with tenant.transaction() as session:
            save_cursor(session, PLUGIN, object_name, value=position, state=cursor.state,
                        full_load_completed=True if mode == "initial" else None)
    except TetherError as exc:
        status, error = "failed", exc.one_line()
        log.error("filedrop import %s %s failed: %s", tenant.id, object_name, error)
    except BaseException as exc:
        finish_run(store, tenant.id, run_id, status="failed", counters=counters, details=details,
                   error=f"{type(exc).__name__}: {exc}")
        raise
    finish_run(store, tenant.id, run_id, status=status, counters=counters, details={**details, "cursor_end": position},
               error=error)
    return ImportResult(object_name, status, counters.records_read, counters.records_applied, error, run_id)


def run_import(tenant: "TenantContext") -> list[ImportResult]:
    """Import new usage and event files of the tenant's drop folder."""
    results = import_drop(tenant)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise PermanentConnectorError("; ".join(f"{r.object_name}: {r.error}" for r in failed))
    return results
