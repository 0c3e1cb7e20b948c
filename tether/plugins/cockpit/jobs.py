"""The Cockpit's scheduled jobs: the rules run (hourly) and, with task sync on, the task
status poll (every five minutes). A tenant manifest's ``schedules`` change either by name."""

from __future__ import annotations

from typing import Any

from tether.core.contracts import JobSpec
from tether.core.plugins import TenantContext

from .config import PLUGIN, settings_of
from .rule_runs import run_rules
from .tasks_sync import poll_task_status

RULES_JOB = "cockpit_rules"
TASK_STATUS_JOB = "cockpit_task_status"


def cockpit_rules(tenant: TenantContext) -> dict[str, Any]:
    """Run the Cockpit rules: open CTAs for new condition occurrences."""
    return run_rules(tenant)


def cockpit_task_status(tenant: TenantContext) -> dict[str, Any]:
    """Complete CTA tasks whose Salesforce Task was completed."""
    return poll_task_status(tenant)


def job_specs(tenant: TenantContext) -> list[JobSpec]:
    specs = [JobSpec(name=RULES_JOB, run=cockpit_rules, every=3600, plugin=PLUGIN, lock_key=RULES_JOB)]
    if settings_of(tenant).task_sync:
        specs.append(JobSpec(name=TASK_STATUS_JOB, run=cockpit_task_status, every=300, plugin=PLUGIN,
                             lock_key=TASK_STATUS_JOB))
    return specs
