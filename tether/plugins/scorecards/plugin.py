"""Hook implementations of the Scorecards plugin (the ``tether.plugins`` entry point).

Written only against tether's public hooks and store, as a third party could write it.
"""

from __future__ import annotations

from tether.core.hookspecs import hookimpl

from . import health, jobs, measures
from . import models  # noqa: F401  (registers the plugin's tables)
from .api import routes
from .definitions import PLUGIN, validate_config
from .runner import run_scoring
from .writes import forget

# Changes to at most this many entities are scored at once; bigger batches (a sync) wait for the scheduled run.
RESCORE_NOW_LIMIT = 100


@hookimpl
def tether_health_measures(tenant):
    return measures.built_in_measures(tenant)


@hookimpl
def tether_entity_health(tenant, entity, ids):
    return health.entity_health(tenant, entity, ids)


@hookimpl
def tether_renewal_features(tenant, opportunity_ids):
    from tether.core.contracts import RenewalFeatures

    return RenewalFeatures(opportunity_ids=list(opportunity_ids),
                           columns=health.renewal_health(tenant, opportunity_ids),
                           labels={"health_score": "current health score (relationship, else company)"})


@hookimpl
def tether_validate_config(tenant, plugin, config):
    if plugin != PLUGIN:
        return []
    errors = validate_config(config)
    return [f"{path}: {message}" for path, messages in sorted(errors.items()) for message in messages]


@hookimpl
def tether_records_changed(tenant, changes):
    if changes.entity not in ("company", "relationship"):
        return
    if changes.deleted:
        forget(tenant, changes.entity, list(changes.deleted))
    if changes.origin != "local":
        return
    changed = list(changes.created) + list(changes.updated)
    if changed and len(changed) <= RESCORE_NOW_LIMIT:
        run_scoring(tenant, trigger="change", only={changes.entity: changed})


@hookimpl
def tether_scheduled_jobs(tenant):
    return jobs.job_specs()


@hookimpl
def tether_api_routes():
    return routes()


@hookimpl
def tether_cli_commands(cli):
    from .cli import scores

    cli.add_command(scores)
