"""The contract between tether's core and its plugins.

Every hook is batch-shaped: lists of records go in and come out, so a sync of a million
records makes thousands of hook calls, not millions. Hooks that take ``tenant`` are
called through the tenant's own hook caller and reach only the plugins that tenant
enabled; ``tenant`` is a :class:`tether.core.plugins.TenantContext` carrying the
tenant's id, settings, store access and each plugin's validated config
(``tenant.config_for("salesforce")``). Hooks without ``tenant`` are process-wide.

A hook implementation that raises fails only that tenant's operation, with a
:class:`tether.core.errors.PluginHookError` naming the plugin and the hook.

``docs/hooks.md`` documents every hook with the same signature; a test fails when the
two disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import pluggy

if TYPE_CHECKING:
    import click
    from sqlalchemy.orm import Session

    from .connectors import ConnectorSpec
    from .contracts import (
        Activity,
        ApiRoute,
        ChangeSet,
        CtaCondition,
        Direction,
        EntityApplierSpec,
        HealthMeasure,
        JobSpec,
        ObjectMapping,
        RelationshipAssignment,
        RelationshipTypeSpec,
        RenewalFeatures,
        ScoreBatch,
        TimelineQuery,
        WebhookReceiver,
    )
    from .plugins import TenantContext

PROJECT = "tether"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- connectors and mapping --------------------------------------------------------------


@hookspec
def tether_connectors(tenant: TenantContext) -> list[ConnectorSpec]:
    """Offer the connectors this plugin provides to ``tenant``.

    Called when the sync engine, the CLI or the webhook receiver needs a tenant's
    connectors (once per operation, never per record).

    :param tenant: the tenant the connectors will serve.
    :return: a list of :class:`~tether.core.connectors.ConnectorSpec`; results of all
        enabled plugins are merged. A connector name must be unique per tenant.
    """


@hookspec
def tether_object_mappings(tenant: TenantContext, connector: str) -> list[ObjectMapping]:
    """Default mappings from ``connector``'s objects to tether entities.

    Called when a sync plans its work. Mappings in the tenant manifest override these
    field by field; a plugin returns an empty list for connectors it does not know.

    :param tenant: the tenant being synced.
    :param connector: the connector name, e.g. ``"salesforce"``.
    :return: a list of :class:`~tether.core.contracts.ObjectMapping`, merged across plugins.
    """


@hookspec
def tether_entity_appliers(tenant: TenantContext) -> list[EntityApplierSpec]:
    """Entities this plugin owns that the sync engine can apply pages of.

    Called once when a sync or the webhook inbox plans a run (and when the tenant's
    mappings are resolved), never per page. An object mapped to such an entity is synced
    inbound like a core entity: pages read from the cursor, each page applied by the
    spec's ``apply`` and committed with its cursor in one transaction,
    ``tether_records_changed`` after the commit. A plugin's default mapping of an entity
    no enabled plugin applies is synced outbound only.

    :param tenant: the tenant being synced.
    :return: a list of :class:`~tether.core.contracts.EntityApplierSpec`, merged; an
        entity may be applied by one plugin only, and never a core entity (``company``,
        ``relationship``, ``opportunity``).
    """


@hookspec
def tether_transform_records(
    tenant: TenantContext, connector: str, object_name: str, direction: Direction, records: list[dict[str, Any]]
) -> None:
    """Adjust a batch of records in place as they cross the boundary.

    Called once per page: ``direction="inbound"`` after a page is read and mapped to
    tether field names, before it is applied; ``direction="outbound"`` before a batch
    of local changes is pushed, with source field names. Implementations change the
    dicts in place; setting ``record["_skip"] = True`` drops a record from the batch.

    :param tenant: the tenant being synced.
    :param connector: the connector name.
    :param object_name: the connector's object, e.g. ``"Opportunity"``.
    :param direction: ``"inbound"`` or ``"outbound"``.
    :param records: the batch, modified in place.
    :return: nothing; every enabled plugin is called in registration order.
    """


@hookspec(firstresult=True)
def tether_booking_types(tenant: TenantContext, records: Sequence[dict[str, Any]]) -> list[str | None] | None:
    """Classify opportunities as new business, renewal, upsell, downsell, renewal with
    upsell, renewal with downsell or churn.

    Called once per inbound page of opportunities, after mapping. Each record holds the
    mapped tether fields plus the raw source record under ``"_source"``.

    :param tenant: the tenant being synced.
    :param records: the batch of mapped opportunity records.
    :return: first result wins: a list aligned with ``records`` of booking types from
        :data:`~tether.core.contracts.BOOKING_TYPES` (None to leave one unset), or None
        to let the next plugin decide.
    """


@hookspec
def tether_validate_config(tenant: TenantContext, plugin: str, config: dict[str, Any]) -> list[str]:
    """Check a plugin's configuration beyond its manifest schema.

    Called when a tenant manifest is applied, after schema validation and before
    anything is written (e.g. the Salesforce plugin checks mapped fields against the
    org's describe). Plugins ignore configs of other plugins.

    :param tenant: the tenant being configured (not yet committed).
    :param plugin: the plugin whose config is being checked.
    :param config: that plugin's validated config, secrets still as references.
    :return: a list of error messages, each ``"path: what is wrong"``; merged; any error
        refuses the whole manifest.
    """


# -- relationships ---------------------------------------------------------------------


@hookspec
def tether_relationship_types(tenant: TenantContext) -> list[RelationshipTypeSpec]:
    """Relationship types this plugin contributes to ``tenant``.

    Called when a tenant manifest is applied and when relationship types are listed.

    :param tenant: the tenant.
    :return: a list of :class:`~tether.core.contracts.RelationshipTypeSpec`, merged;
        admin-defined types of the same name take precedence.
    """


@hookspec(firstresult=True)
def tether_assign_relationships(
    tenant: TenantContext, entity: str, records: Sequence[dict[str, Any]]
) -> list[RelationshipAssignment | None] | None:
    """Decide which relationship each synced record belongs to.

    Called once per inbound page of opportunities (and other relationship-bearing
    entities) after booking types are set.

    :param tenant: the tenant being synced.
    :param entity: the tether entity of the batch, e.g. ``"opportunity"``.
    :param records: mapped records, raw source under ``"_source"``.
    :return: first result wins: a list aligned with ``records`` of
        :class:`~tether.core.contracts.RelationshipAssignment` or None, or None to defer.
    """


# -- health ----------------------------------------------------------------------------


@hookspec
def tether_health_measures(tenant: TenantContext) -> list[HealthMeasure]:
    """Measures a scorecard can use, each computed for a whole batch of entities.

    Called when scorecards are configured and once per scoring run.

    :param tenant: the tenant.
    :return: a list of :class:`~tether.core.contracts.HealthMeasure`, merged; keys must be
        unique per tenant.
    """


@hookspec(firstresult=True)
def tether_health_score(
    tenant: TenantContext, scorecard: dict[str, Any], entity_ids: Sequence[int], measure_values: dict[str, Sequence[Any]]
) -> ScoreBatch | None:
    """Replace the built-in weighted scoring for one scorecard.

    Called once per scorecard per scoring run with every entity it covers.

    :param tenant: the tenant.
    :param scorecard: the scorecard definition (measures, weights, scheme).
    :param entity_ids: the entities being scored.
    :param measure_values: ``{measure_key: values aligned with entity_ids}`` (None is N/A).
    :return: first result wins: a :class:`~tether.core.contracts.ScoreBatch`, or None to
        use the built-in scoring.
    """


@hookspec(firstresult=True)
def tether_entity_health(tenant: TenantContext, entity: str, ids: Sequence[int]) -> dict[int, dict[str, Any]] | None:
    """Current health of a batch of companies or relationships, for read models.

    Called when a read model shows health (Company 360, Relationship 360, lists and
    reports), once per read with every entity it shows, never once per entity.

    :param tenant: the tenant.
    :param entity: ``"company"`` or ``"relationship"``.
    :param ids: the entities to describe.
    :return: first result wins: ``{id: health}``, each health a mapping with ``score``
        (0–100, None when every measure was N/A), ``label`` and ``color`` (the scheme's
        range), ``scheme`` (``"numeric"``, ``"grade"`` or ``"colour"``), ``scorecard``,
        ``previous_score``, ``trend`` (``"up"``, ``"down"``, ``"same"`` or None),
        ``computed_at`` (aware UTC) and ``overridden``; ids never scored are left out.
        None when no enabled plugin scores health.
    """


# -- timeline --------------------------------------------------------------------------


@hookspec
def tether_timeline_activities(tenant: TenantContext, query: TimelineQuery) -> list[Activity]:
    """Activities from this plugin's feed that match ``query``.

    Called when a timeline is read; results of all plugins are merged with local
    activities and ordered by ``occurred_at`` (newest first).

    :param tenant: the tenant.
    :param query: entity, types, time range, author and page size.
    :return: a list of :class:`~tether.core.contracts.Activity`, at most ``query.limit``.
    """


@hookspec
def tether_log_activities(tenant: TenantContext, session: Session, activities: Sequence[Activity]) -> list[int]:
    """Record activities that another part of tether logs on the timeline.

    Called in the caller's transaction (``session``, a tenant session) so that the
    activities commit, or roll back, with the change they record; once per batch (e.g.
    the Cockpit closing CTAs), never once per activity.

    :param tenant: the tenant.
    :param session: the caller's open tenant session; implementations add rows to it and
        must not commit it.
    :param activities: :class:`~tether.core.contracts.Activity` entries; ``source`` names
        the logging plugin and ``key`` what the entry records (e.g. ``"cta/42"``).
    :return: merged: per implementing plugin, the ids it stored, aligned with
        ``activities``. No implementation (no timeline plugin enabled) logs nothing.
    """


# -- renewals and cockpit --------------------------------------------------------------


@hookspec
def tether_renewal_features(tenant: TenantContext, opportunity_ids: Sequence[int]) -> RenewalFeatures | None:
    """Feature columns for the renewal-risk model.

    Called once per training or scoring run with every opportunity in it.

    :param tenant: the tenant.
    :param opportunity_ids: the opportunities to describe.
    :return: a :class:`~tether.core.contracts.RenewalFeatures` (or None); all plugins'
        columns are merged; column names must be unique per tenant.
    """


@hookspec
def tether_cta_conditions(tenant: TenantContext) -> list[CtaCondition]:
    """Conditions Cockpit rules can use to open calls to action.

    Called when Cockpit rules are configured and once per rules run.

    :param tenant: the tenant.
    :return: a list of :class:`~tether.core.contracts.CtaCondition`, merged.
    """


# -- change notifications and jobs -----------------------------------------------------


@hookspec
def tether_records_changed(tenant: TenantContext, changes: ChangeSet) -> None:
    """Told after a batch of changes has been committed.

    Called once per applied page of a sync and once per local write batch, after the
    transaction commits (so a failing plugin cannot undo the data).

    :param tenant: the tenant.
    :param changes: entity and the ids created, updated and deleted.
    :return: nothing; every enabled plugin is called.
    """


@hookspec
def tether_scheduled_jobs(tenant: TenantContext) -> list[JobSpec]:
    """Jobs this plugin wants run for ``tenant`` on a schedule.

    Called when the scheduler starts and when a tenant manifest changes.

    :param tenant: the tenant.
    :return: a list of :class:`~tether.core.contracts.JobSpec`, merged; the tenant
        manifest's ``schedules`` override their timing by name.
    """


# -- process-wide ----------------------------------------------------------------------


@hookspec
def tether_webhook_receivers() -> list[WebhookReceiver]:
    """Webhook endpoints this plugin hosts.

    Called once when the web app is created. Each endpoint answers at
    ``/webhooks/<tenant>/<plugin>/<path>`` and only for tenants that enabled the plugin.

    :return: a list of :class:`~tether.core.contracts.WebhookReceiver`, merged.
    """


@hookspec
def tether_api_routes() -> list[ApiRoute]:
    """REST endpoints this plugin adds under ``/api/v1/tenants/<tenant>/``.

    Called once when the web app is created; each route answers only for tenants that
    enabled the plugin and only for the roles it names.

    :return: a list of :class:`~tether.core.contracts.ApiRoute`, merged.
    """


@hookspec
def tether_cli_commands(cli: click.Group) -> None:
    """Add commands to the ``tether`` command line.

    Called once when the CLI starts.

    :param cli: the root ``tether`` click group; call ``cli.add_command(...)``.
    :return: nothing.
    """
