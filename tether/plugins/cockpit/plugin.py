"""Hook implementations of the Cockpit plugin (the ``tether.plugins`` entry point).

Written only against tether's public hooks and store, as a third party could write it:
its own conditions arrive through ``tether_cta_conditions`` like any plugin's, closing a
CTA logs its activity through ``tether_log_activities``, health comes through
``tether_entity_health`` and activity recency through the Timeline's health measure.
"""

from __future__ import annotations

from tether.core.hookspecs import hookimpl

from . import jobs, tasks_sync
from . import models  # noqa: F401  (registers the plugin's tables)
from .api import routes
from .conditions import built_in_conditions
from .config import PLUGIN
from .validation import validate_config


@hookimpl
def tether_cta_conditions(tenant):
    return built_in_conditions()


@hookimpl
def tether_connectors(tenant):
    return tasks_sync.connector_specs(tenant)


@hookimpl
def tether_object_mappings(tenant, connector):
    return tasks_sync.object_mappings(tenant, connector)


@hookimpl
def tether_validate_config(tenant, plugin, config):
    if plugin != PLUGIN:
        return []
    errors = validate_config(tenant, config)
    return [f"{path}: {message}" for path, messages in sorted(errors.items()) for message in messages]


@hookimpl
def tether_scheduled_jobs(tenant):
    return jobs.job_specs(tenant)


@hookimpl
def tether_api_routes():
    return routes()


@hookimpl
def tether_cli_commands(cli):
    from .cli import cockpit

    cli.add_command(cockpit)
