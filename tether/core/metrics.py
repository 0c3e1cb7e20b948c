"""Prometheus metrics: job runs, records, API calls, queue depths and job latency.

Counters and histograms live in this process (each ``tether serve`` and ``tether worker``
exposes its own); the depth gauges (inbox, outbox, job queue) are read from the database
when scraped, so every process reports the same, current figure. No metric carries a
tenant label: a thousand tenants would make a thousand series per metric; per-tenant
figures are what ``tether status`` is for.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

JOB_RUNS = Counter("tether_job_runs", "Job executions by job and outcome (success, throttled, failed, retry).",
                   ["job", "status"], registry=REGISTRY)
SYNC_RECORDS = Counter("tether_sync_records", "Records handled by jobs: read, applied or deleted.",
                       ["job", "kind"], registry=REGISTRY)
API_CALLS = Counter("tether_api_calls", "Calls to external APIs made by jobs.", ["job"], registry=REGISTRY)
JOB_START_DELAY = Histogram(
    "tether_job_start_delay_seconds", "From when a job was due (schedule fire time or enqueue) to its start.",
    ["engine"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900), registry=REGISTRY)
JOB_DURATION = Histogram(
    "tether_job_duration_seconds", "How long job executions take.", ["job"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800), registry=REGISTRY)


class DepthCollector(Collector):
    """Inbox, outbox and job-queue depths, counted in the database at scrape time."""

    def __init__(self) -> None:
        self._store: "weakref.ReferenceType[Store] | None" = None
        self._lock = threading.Lock()

    def bind(self, store: "Store") -> None:
        with self._lock:
            self._store = weakref.ref(store)

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        store = self._store() if self._store else None
        if store is None:
            return
        try:
            depths = _depths(store)
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("queue depths unavailable: %s", exc)
            up = GaugeMetricFamily("tether_store_up", "1 when the database answered the last scrape.")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("tether_store_up", "1 when the database answered the last scrape.")
        up.add_metric([], 1)
        yield up
        inbox = GaugeMetricFamily("tether_inbox_depth", "Stored webhook notifications not yet applied.")
        inbox.add_metric([], depths["inbox"])
        yield inbox
        outbox = GaugeMetricFamily("tether_outbox_depth", "Local changes waiting to be pushed.")
        outbox.add_metric([], depths["outbox"])
        yield outbox
        queue = GaugeMetricFamily("tether_job_queue_depth", "Jobs waiting (todo) and running (doing), by engine.",
                                  labels=["engine", "state"])
        for (engine, state), count in sorted(depths["queue"].items()):
            queue.add_metric([engine, state], count)
        yield queue


def _depths(store: "Store") -> dict:
    from sqlalchemy import func, select, text

    from .jobs.models import QueuedJob
    from .store.models import InboxMessage, OutboxEntry

    queue = {(engine, state): 0 for engine in ("embedded", "procrastinate") for state in ("todo", "doing")}
    with store.admin_session() as session:
        inbox = session.scalar(select(func.count()).select_from(InboxMessage).where(InboxMessage.status == "pending"))
        outbox = session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.status == "pending"))
        for state, count in session.execute(select(QueuedJob.status, func.count()).where(
                QueuedJob.status.in_(("todo", "doing"))).group_by(QueuedJob.status)):
            queue[("embedded", state)] = count
        if store.dialect == "postgresql" and session.scalar(text("SELECT to_regclass('procrastinate_jobs')")):
            for state, count in session.execute(text(
                    "SELECT status::text, count(*) FROM procrastinate_jobs WHERE task_name = 'tether.run_job' "
                    "AND status IN ('todo', 'doing') GROUP BY status")):
                queue[("procrastinate", state)] = count
    return {"inbox": inbox or 0, "outbox": outbox or 0, "queue": queue}


DEPTHS = DepthCollector()
REGISTRY.register(DEPTHS)


def bind_store(store: "Store") -> None:
    """Count depths in ``store`` (the process's database) from now on."""
    DEPTHS.bind(store)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def start_http_server(port: int, addr: str = "0.0.0.0") -> None:
    """Serve ``/metrics`` on its own port (for ``tether worker``, which has no web app)."""
    from prometheus_client import start_http_server as _start

    _start(port, addr=addr, registry=REGISTRY)
