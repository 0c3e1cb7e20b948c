"""Test plugins for the job layer: a tiny in-memory source, and jobs that record their runs.

``JobsProbe`` is one plugin with two parts:

- a connector ``mem`` over :data:`SOURCES` (one :class:`Source` per tenant) mapping the
  object ``Org`` to companies, so ``sync`` and ``reconcile`` have something to do;
- plugin jobs (``tether_scheduled_jobs``) that record when they ran: ``probe`` and
  ``probe_b`` share the lock ``Shared`` (per tenant), ``flaky`` fails transiently once,
  ``broken`` fails permanently, ``slow`` blocks the first time (for crash tests), and
  ``manual`` has no timing.

The worker subprocesses of the PostgreSQL tests register the same plugin, so runs are
also recorded where every process can see them: in ``job_runs``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from tether.core.connectors import Catalog, ConnectorSpec, FieldSchema, ObjectSchema, Page, ReadRequest, WriteResult
from tether.core.contracts import FieldMapping, JobSpec, ObjectMapping
from tether.core.errors import PermanentConnectorError, TransientConnectorError
from tether.core.hookspecs import hookimpl

UTC = dt.timezone.utc
SOURCES: dict[str, "Source"] = {}
RUNS: list[tuple[str, str, float, float, int]] = []  # (tenant, job, start, end, thread id)
_RUNS_LOCK = threading.Lock()


@dataclasses.dataclass
class Source:
    """Records of the object ``Org`` by Id; ``now`` moves the source's clock."""

    now: dt.datetime = dt.datetime(2025, 1, 1, tzinfo=UTC)
    records: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    calls: int = 0

    def put(self, record_id: str, **fields: Any) -> None:
        self.now += dt.timedelta(seconds=1)
        record = self.records.setdefault(record_id, {"Id": record_id, "IsDeleted": False})
        record.update(fields)
        record["Modstamp"] = self.now.isoformat()

    def purge(self, record_id: str) -> None:
        """A hard delete: the record is gone, with no deleted trace to read."""
        del self.records[record_id]


class MemConnector:
    name = "mem"

    def __init__(self, source: Source) -> None:
        self.source = source

    @property
    def api_calls_made(self) -> int:
        return self.source.calls

    def discover(self) -> Catalog:
        self.source.calls += 1
        return Catalog((ObjectSchema("Org", tuple(FieldSchema(f, "datetime" if f == "Modstamp" else "string")
                                                for f in ("Id", "Modstamp", "IsDeleted", "Name", "Industry")),
                                     cursor_field="Modstamp", supports_deletes=True),))

    def _selected(self, request: ReadRequest) -> list[dict[str, Any]]:
        rows = sorted(self.source.records.values(), key=lambda r: (r["Modstamp"], r["Id"]))
        if request.cursor:
            rows = [r for r in rows if (r["Modstamp"], r["Id"]) > tuple(request.cursor.split("|"))]
        if not request.include_deleted:
            rows = [r for r in rows if not r["IsDeleted"]]
        return rows

    def count(self, request: ReadRequest) -> int:
        self.source.calls += 1
        return len(self._selected(request))

    def read(self, request: ReadRequest) -> Iterator[Page]:
        rows = self._selected(request)
        for start in range(0, len(rows), request.page_size):
            self.source.calls += 1
            chunk = rows[start:start + request.page_size]
            yield Page(records=[{k: r.get(k) for k in request.fields} for r in chunk],
                       cursor=f"{chunk[-1]['Modstamp']}|{chunk[-1]['Id']}",
                       deleted_ids=[r["Id"] for r in chunk if r["IsDeleted"]], api_calls=1)

    def write(self, operations: Sequence[Any]) -> list[WriteResult]:
        raise PermanentConnectorError("the test source is read-only")

    def api_usage(self) -> tuple[int, int]:
        return (self.source.calls, 1_000_000)

    def close(self) -> None:
        pass


ORG = ObjectMapping(connector="mem", object_name="Org", entity="company",
                    fields=(FieldMapping("Name", "name"), FieldMapping("Industry", "industry", direction="inbound")))


def record_run(tenant_id: str, job: str, start: float, end: float) -> None:
    with _RUNS_LOCK:
        RUNS.append((tenant_id, job, start, end, threading.get_ident()))


class JobsProbe:
    TETHER_MANIFEST = {
        "name": "probe", "version": "1.0.0", "description": "job-layer test plugin",
        "hooks": ["tether_connectors", "tether_object_mappings", "tether_scheduled_jobs"],
        "config": {
            "every": {"type": "integer", "default": 60},
            "sleep": {"type": "number", "default": 0},
            "marker_dir": {"type": "string"},
        },
    }

    def __init__(self) -> None:
        self.flaky_failures: dict[str, int] = {}

    @hookimpl
    def tether_connectors(self, tenant) -> list[ConnectorSpec]:
        def factory(context):
            source = SOURCES.get(context.id)
            if source is None:
                raise PermanentConnectorError(f"no test source for tenant {context.id}")
            return MemConnector(source)
        return [ConnectorSpec(name="mem", plugin="probe", factory=factory, objects=("Org",))]

    @hookimpl
    def tether_object_mappings(self, tenant, connector: str) -> list[ObjectMapping]:
        return [ORG] if connector == "mem" else []

    @hookimpl
    def tether_scheduled_jobs(self, tenant) -> list[JobSpec]:
        config = tenant.config_for("probe")
        every = int(config.get("every") or 60)
        return [
            JobSpec(name="probe", run=self._probe("probe"), every=every, plugin="probe", lock_key="Shared"),
            JobSpec(name="probe_b", run=self._probe("probe_b"), every=every, plugin="probe", lock_key="Shared"),
            JobSpec(name="flaky", run=self._flaky, plugin="probe"),
            JobSpec(name="broken", run=self._broken, plugin="probe"),
            JobSpec(name="slow", run=self._slow, plugin="probe"),
            JobSpec(name="manual", run=self._probe("manual"), plugin="probe"),
        ]

    def _probe(self, name: str):
        def run(tenant) -> None:
            """Record the run (and sleep a little when configured to)."""
            start = time.monotonic()
            pause = float(tenant.config_for("probe").get("sleep") or 0)
            if pause:
                time.sleep(pause)
            record_run(tenant.id, name, start, time.monotonic())
        return run

    def _flaky(self, tenant) -> None:
        failures = self.flaky_failures.get(tenant.id, 0)
        if failures < 1:
            self.flaky_failures[tenant.id] = failures + 1
            raise TransientConnectorError("the source timed out", code="TIMEOUT")
        record_run(tenant.id, "flaky", time.monotonic(), time.monotonic())

    def _broken(self, tenant) -> None:
        raise PermanentConnectorError("INVALID_FIELD: No such column 'Foo__c'", code="INVALID_FIELD")

    def _slow(self, tenant) -> None:
        """The first run anywhere writes a marker with its pid and blocks; later runs finish at once."""
        marker = Path(tenant.config_for("probe")["marker_dir"]) / f"{tenant.id}.slow"
        if not marker.exists():
            partial = marker.with_suffix(".partial")
            partial.write_text(str(os.getpid()))
            partial.rename(marker)  # appears with its content, never empty
            time.sleep(120)
        record_run(tenant.id, "slow", time.monotonic(), time.monotonic())


def overlaps(intervals: list[tuple[float, float]]) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    ordered = sorted(intervals)
    return [(a, b) for a, b in zip(ordered, ordered[1:]) if b[0] < a[1]]
