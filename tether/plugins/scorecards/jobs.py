"""The scheduled scoring run (hourly by default; a tenant manifest's ``schedules`` can change it)."""

from __future__ import annotations

import dataclasses
from typing import Any

from tether.core.contracts import JobSpec
from tether.core.plugins import TenantContext

from .definitions import PLUGIN
from .runner import run_scoring

JOB_NAME = "score_health"


def score_health(tenant: TenantContext) -> dict[str, Any]:
    """Score every company and relationship with its scorecard."""
    return dataclasses.asdict(run_scoring(tenant, trigger="scheduled"))


def job_specs() -> list[JobSpec]:
    return [JobSpec(name=JOB_NAME, run=score_health, every=3600, plugin=PLUGIN)]
