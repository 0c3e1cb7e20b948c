"""Hook implementations of the file drop plugin (the ``tether.plugins`` entry point).

Written only against tether's public hooks, as a third party would write it.
"""

from __future__ import annotations

from tether.core.connectors import ConnectorSpec
from tether.core.contracts import JobSpec
from tether.core.hookspecs import hookimpl

from . import models  # noqa: F401  (registers the plugin's tables)
from .config import PLUGIN, FileDropSettings, problems

JOB_NAME = "filedrop_import"


def _open_connector(tenant):
    from .connector import FileDropConnector

    return FileDropConnector.for_tenant(tenant)


@hookimpl
def tether_connectors(tenant) -> list[ConnectorSpec]:
    return [ConnectorSpec(name=PLUGIN, plugin=PLUGIN, factory=_open_connector,
                          description="CSV and Parquet files dropped in a folder, one sub-folder per object")]


@hookimpl
def tether_validate_config(tenant, plugin: str, config: dict) -> list[str]:
    return problems(config) if plugin == PLUGIN else []


@hookimpl
def tether_health_measures(tenant):
    from .measures import health_measures

    return health_measures(tenant)


@hookimpl
def tether_timeline_activities(tenant, query):
    from .timeline import activities

    return activities(tenant, query)


@hookimpl
def tether_records_changed(tenant, changes) -> None:
    """Companies that just appeared pick up the usage and events waiting for them."""
    if changes.entity != "company" or not (changes.created or changes.updated):
        return
    from .rows import link_companies

    settings = FileDropSettings.from_config(tenant.config_for(PLUGIN))
    with tenant.transaction() as session:
        link_companies(session, settings, tenant.id, [*changes.created, *changes.updated])


@hookimpl
def tether_scheduled_jobs(tenant) -> list[JobSpec]:
    from .importer import run_import

    every = int(tenant.config_for(PLUGIN).get("import_every_seconds") or 900)
    return [JobSpec(name=JOB_NAME, run=run_import, every=every, plugin=PLUGIN, lock_key=JOB_NAME)]


@hookimpl
def tether_cli_commands(cli) -> None:
    from .cli import filedrop

    cli.add_command(filedrop)
