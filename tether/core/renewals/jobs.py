"""The Renewal Center's scheduled job: retrain the risk model and rescore open renewals.

The job engine lists a tenant's jobs from ``JobSpec``s; :func:`renewal_jobs` offers this
one with the tenant's ``retrain_cron`` (weekly by default), one run per tenant at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..contracts import JobSpec
from .config import load_config
from .scoring import train_and_score

if TYPE_CHECKING:
    from ..plugins import TenantContext

RETRAIN_JOB = "renewals.retrain"


def retrain(tenant: "TenantContext") -> dict[str, Any]:
    """Retrain the renewal risk model and rescore open renewals."""
    result = train_and_score(tenant)
    version = result["version"]
    return {"version": version["version"], "status": version["status"], "message": version["message"],
            "metrics": {k: version["metrics"].get(k) for k in ("roc_auc", "pr_auc", "brier")},
            "scored": result["scored"]["scored"]}


def renewal_jobs(tenant: "TenantContext") -> list[JobSpec]:
    config = load_config(tenant)
    return [JobSpec(name=RETRAIN_JOB, run=retrain, cron=config.retrain_cron, plugin="",
                    lock_key=f"{RETRAIN_JOB}:{tenant.id}")]
