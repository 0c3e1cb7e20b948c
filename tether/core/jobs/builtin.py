"""The core's job kinds, calling into the sync engine.

The sync engine owns what the jobs do (``tether.core.sync``); this module only names
the entry points and adapts their results. An entry point this build of the engine does
not have (the inbox processor or the outbox pusher, while they are being built) makes its
job unavailable: it is not scheduled, and running it by hand says why.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any, Callable

from ..errors import JobError
from .kinds import DEFAULT_INBOX_EVERY, DEFAULT_OUTBOX_EVERY, DEFAULT_SYNC_EVERY, JobCall, JobKind
from .timing import default_nightly_cron

if TYPE_CHECKING:
    from ..plugins import TenantContext

log = logging.getLogger(__name__)

# job name → (module, function) in the sync engine; looked up when the job runs.
ENTRY_POINTS: dict[str, tuple[str, str]] = {
    "sync": ("tether.core.sync.engine", "sync_object"),
    "inbox": ("tether.core.sync.inbox", "process_inbox"),
    "outbox": ("tether.core.sync.push", "push_outbox"),
}


def entry_point(job: str) -> Callable[..., Any] | None:
    module_name, function = ENTRY_POINTS[job]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    return getattr(module, function, None)


def _require(job: str) -> Callable[..., Any]:
    found = entry_point(job)
    if found is None:
        module_name, function = ENTRY_POINTS[job]
        raise JobError(f"job {job!r} is not available: the sync engine has no {module_name}.{function}",
                       hint="upgrade tether; until then this job is not scheduled")
    return found


def run_sync(call: JobCall) -> Any:
    request = call.request
    if not request.object_name or not request.connector:
        raise JobError(f"a sync job needs a connector and an object ({request.describe()})",
                       hint="run it as `tether jobs run TENANT sync --object OBJECT`")
    return _require("sync")(call.tenant, request.connector, request.object_name,
                            full=bool(request.args.get("full", False)))


def run_reconcile(call: JobCall) -> Any:
    from .reconcile import reconcile_object

    request = call.request
    if not request.object_name or not request.connector:
        raise JobError(f"a reconcile job needs a connector and an object ({request.describe()})")
    return reconcile_object(call.tenant, request.connector, request.object_name,
                            refresh=bool(request.args.get("refresh", True)),
                            max_delete_share=float(request.args.get("max_delete_share", 0.5)))


def run_inbox(call: JobCall) -> Any:
    return _require("inbox")(call.tenant)


def run_outbox(call: JobCall) -> Any:
    return _require("outbox")(call.tenant)


# Core areas that offer JobSpecs the way plugins do (module:function taking the tenant).
CORE_JOB_PROVIDERS: tuple[str, ...] = ("tether.core.renewals.jobs:renewal_jobs",)


def core_area_specs(tenant: "TenantContext") -> list[Any]:
    specs: list[Any] = []
    for provider in CORE_JOB_PROVIDERS:
        module_name, _, function = provider.partition(":")
        specs += getattr(importlib.import_module(module_name), function)(tenant) or []
    return specs


def core_kinds(tenant: "TenantContext") -> list[JobKind]:
    kinds = [
        JobKind("sync", run_sync, per_object=True, every_seconds=DEFAULT_SYNC_EVERY, records_own_run=True,
                description="incremental inbound sync of one object"),
        JobKind("reconcile", run_reconcile, per_object=True, cron="nightly",
                description="hard deletes by id-set comparison, and a formula-field refresh"),
    ]
    from .kinds import synced_objects

    objects = synced_objects(tenant)  # a tenant without a connector has nothing to receive or push
    if objects and entry_point("inbox") is not None:
        kinds.append(JobKind("inbox", run_inbox, every_seconds=DEFAULT_INBOX_EVERY,
                             description="apply stored webhook notifications"))
    if any(o.outbound for o in objects) and entry_point("outbox") is not None:
        kinds.append(JobKind("outbox", run_outbox, every_seconds=DEFAULT_OUTBOX_EVERY,
                             description="push local changes to the source"))
    return kinds


def nightly_cron(tenant_id: str, job: str, object_name: str | None) -> str:
    return default_nightly_cron(f"{tenant_id}|{job}|{object_name or ''}")
