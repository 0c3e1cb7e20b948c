"""Hook implementations of the Timeline plugin (the ``tether.plugins`` entry point).

Written only against tether's public hooks and store, as a third party could write it.
"""

from __future__ import annotations

from tether.core.hookspecs import hookimpl

from . import measures
from . import models  # noqa: F401  (registers the plugin's tables)
from .activities import log_activities
from .api import routes
from .feed import local_feed


@hookimpl
def tether_timeline_activities(tenant, query):
    return local_feed(tenant, query)


@hookimpl
def tether_log_activities(tenant, session, activities):
    return log_activities(tenant, session, activities)


@hookimpl
def tether_health_measures(tenant):
    return measures.health_measures()


@hookimpl
def tether_renewal_features(tenant, opportunity_ids):
    return measures.renewal_features(tenant, opportunity_ids)


@hookimpl
def tether_entity_appliers(tenant):
    from .sync import applier_spec

    return [applier_spec()]


@hookimpl
def tether_records_changed(tenant, changes):
    from .sync_links import link_waiting

    link_waiting(tenant, changes)


@hookimpl
def tether_api_routes():
    return routes()


@hookimpl
def tether_cli_commands(cli):
    from .cli import timeline

    cli.add_command(timeline)
