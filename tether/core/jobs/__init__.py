"""Jobs: everything tether does on a schedule or after a webhook.

The interface (:mod:`tether.core.jobs.base`) is small: a :class:`JobRequest` names a
tenant, a job and maybe an object, with a lock key (one running) and a dedupe key (one
waiting); an engine's ``enqueue`` queues it. Two engines implement it:

- ``embedded`` (default): APScheduler 3 and worker threads inside ``tether serve``, the
  queue in the same database (:mod:`tether.core.jobs.embedded`);
- ``procrastinate``: any number of ``tether worker`` processes on PostgreSQL
  (:mod:`tether.core.jobs.pg`).

``TETHER_JOB_ENGINE`` selects one. Code that only needs to queue work (a webhook
receiver, a plugin, the CLI) calls :func:`enqueue`::

    from tether.core.jobs import enqueue
    enqueue(tenant, "sync", object_name="Opportunity")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from .base import EnqueueResult, JobEngine, JobRequest, QueueSummary, dedupe_key_for, lock_key_for

if TYPE_CHECKING:
    from ..plugins import TenantContext
    from ..runtime import Runtime

__all__ = ["EnqueueResult", "JobEngine", "JobRequest", "QueueSummary", "dedupe_key_for", "enqueue", "engine_for",
           "lock_key_for", "open_engine"]


def open_engine(runtime: "Runtime") -> JobEngine:
    """A new engine of the configured kind for ``runtime`` (not started)."""
    from .config import engine_options

    options = engine_options(runtime.settings)
    if runtime.settings.job_engine == "procrastinate":
        from .pg import ProcrastinateEngine

        return ProcrastinateEngine(runtime, tick_seconds=options.tick_seconds, stall_seconds=options.stall_seconds,
                                   heartbeat_seconds=options.heartbeat_seconds, max_attempts=options.max_attempts)
    from .embedded import EmbeddedEngine

    return EmbeddedEngine(runtime, threads=options.threads, poll_seconds=options.poll_seconds,
                          heartbeat_seconds=options.heartbeat_seconds, stall_seconds=options.stall_seconds,
                          max_attempts=options.max_attempts)


def engine_for(runtime: "Runtime") -> JobEngine:
    """The runtime's engine: the one running in this process, else a client of it (cached)."""
    engine = runtime.__dict__.get("_job_engine")
    if engine is None:
        engine = open_engine(runtime)
        runtime.__dict__["_job_engine"] = engine
    return engine


def use_engine(runtime: "Runtime", engine: JobEngine) -> None:
    """Make ``engine`` the one :func:`engine_for` returns (``tether serve`` and workers do)."""
    runtime.__dict__["_job_engine"] = engine


def enqueue(target: "TenantContext | Runtime", job: str, *, tenant_id: str | None = None,
            object_name: str | None = None, connector: str | None = None, args: Mapping[str, Any] | None = None,
            origin: str = "manual", runtime: "Runtime | None" = None) -> EnqueueResult:
    """Queue ``job`` for a tenant, deduplicated against one already waiting.

    ``target`` is the tenant's context (from a hook or a receiver) or a runtime (then pass
    ``tenant_id``). Per-object jobs lock on (tenant, object).
    """
    from ..runtime import Runtime

    if isinstance(target, Runtime):
        runtime = target
        if not tenant_id:
            raise ValueError("enqueue(runtime, ...) needs tenant_id")
    else:
        tenant_id = target.id
        if runtime is None:
            runtime = _runtime_of(target)
    request = JobRequest(tenant_id=tenant_id, job=job, object_name=object_name, connector=connector,
                         args=dict(args or {}), origin=origin)  # type: ignore[arg-type]
    return engine_for(runtime).enqueue(request)


def _runtime_of(tenant: "TenantContext") -> "Runtime":
    """A runtime for a tenant context that came without one (settings from the environment)."""
    from ..runtime import Runtime

    store = tenant.store
    cache = _RUNTIMES.get(id(store))
    if cache is None or cache[0] is not store:
        cache = (store, Runtime(host=tenant.host, store=store))
        _RUNTIMES[id(store)] = cache
    return cache[1]


_RUNTIMES: dict[int, tuple[Any, "Runtime"]] = {}
