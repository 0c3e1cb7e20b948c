"""The value types that cross the hook boundary (besides the connector types).

Plugins build and return these; the core consumes them. They are plain dataclasses so a
plugin needs nothing from tether but this module and ``tether.core.hookspecs.hookimpl``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Callable, Literal, Mapping, Sequence

from .connectors import FieldType

Direction = Literal["inbound", "outbound"]
EntityKind = Literal["company", "relationship", "opportunity", "activity", "user"]

BOOKING_TYPES = (
    "new_business", "renewal", "upsell", "downsell", "renewal_upsell", "renewal_downsell", "churn",
)


# -- mapping ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FieldMapping:
    """One source field ↔ one tether field, with the type to coerce through."""

    source: str
    target: str
    type: FieldType = "string"
    # both: synced both ways; inbound: read only; outbound: written back only.
    direction: Literal["both", "inbound", "outbound"] = "both"


@dataclasses.dataclass(frozen=True)
class ObjectMapping:
    """How a connector object becomes a tether entity (and goes back)."""

    connector: str
    object_name: str
    entity: EntityKind
    fields: tuple[FieldMapping, ...]
    # Source field the push upserts by, so a retried insert never duplicates.
    external_id_field: str | None = None

    def field_for_target(self, target: str) -> FieldMapping | None:
        for mapping in self.fields:
            if mapping.target == target:
                return mapping
        return None


# -- plugin-owned entities ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SyncedRecord:
    """One source record of a page, mapped to a plugin entity's fields.

    ``values`` holds the mapped tether fields after the inbound transforms, plus the raw
    source record under ``"_source"``. ``local_id`` is set when the record is one tether
    itself wrote to the source (an activity pushed as a Salesforce Task coming back):
    it is that local row, and ``values`` then holds only the fields the source changed
    since tether last pushed them (nothing is passed for a pure echo).
    """

    external_id: str
    modstamp: dt.datetime | None
    deleted: bool = False
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    local_id: int | None = None


@dataclasses.dataclass(frozen=True)
class EntityPage:
    """A page of one plugin entity from one connector object, for :attr:`EntityApplierSpec.apply`."""

    connector: str
    object_name: str
    records: Sequence[SyncedRecord]
    # A full reload rewrites versions whose stamp equals the stored one; otherwise only
    # strictly newer versions change anything.
    full_reload: bool = False


@dataclasses.dataclass
class EntityApplied:
    """What applying an :class:`EntityPage` did: local ids created, updated and deleted,
    how many records changed nothing, and warnings for the run (each naming the records)."""

    created: list[int] = dataclasses.field(default_factory=list)
    updated: list[int] = dataclasses.field(default_factory=list)
    deleted: list[int] = dataclasses.field(default_factory=list)
    unchanged: int = 0
    warnings: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class EntityApplierSpec:
    """A plugin-owned entity the sync engine can apply pages of (e.g. Timeline's ``activity``).

    ``apply(tenant, session, page)`` writes one page in the engine's transaction
    (``session``, a tenant session: add or update rows, never commit) and returns an
    :class:`EntityApplied`. The engine commits the page with its cursor and then calls
    ``tether_records_changed`` with ``entity``. The rules core entities follow apply:
    upsert by (connector, external id), a version older than the stored one changes
    nothing, deletions (``SyncedRecord.deleted``) and undeletions.

    ``fields`` are the tether fields a mapping may target, each with what it means
    (``{"subject": "the activity's subject", ...}``); mappings naming others are refused.
    ``model`` is the ORM table the entity is stored in, when it has the core's external
    record columns (``external_source``, ``external_id``, ``source_modstamp``,
    ``is_deleted``, ``updated_at``): the webhook inbox and the nightly reconcile (hard
    deletes) then consider its rows whose ``external_source`` is the connector's name, as
    for core tables. A table fed by several objects of one connector must not key them by
    the connector's name alone (ids are unique per object only; reconcile of one object
    would take the others' rows for deleted): Timeline uses ``"<connector>:<object>"``.
    Plugin entities are applied after the core's (companies, relationships, opportunities),
    so references to those resolve.
    """

    entity: str
    apply: Callable[[Any, Any, EntityPage], EntityApplied]
    fields: Mapping[str, str]
    model: Any = None
    plugin: str = ""
    description: str = ""


# -- relationships ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AttributeField:
    name: str
    type: Literal["string", "number", "money", "date", "boolean", "picklist"] = "string"
    required: bool = False
    choices: tuple[str, ...] = ()
    rollup: Literal["sum", "avg", "min", "max"] | None = None


@dataclasses.dataclass(frozen=True)
class RelationshipTypeSpec:
    """A relationship type a plugin contributes (admins add theirs in manifests or the API)."""

    name: str
    description: str = ""
    fields: tuple[AttributeField, ...] = ()
    plugin: str = ""


@dataclasses.dataclass(frozen=True)
class RelationshipAssignment:
    """Which relationship a synced record belongs to (by type and name under its company)."""

    type_name: str
    name: str
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)


# -- health ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HealthMeasure:
    """A measure a scorecard can weigh.

    ``compute(tenant, entity_kind, entity_ids)`` returns ``{entity_id: value}`` for the
    whole batch at once; an id missing from the result has no data (N/A).
    Numeric measures return numbers; picklist measures return one of ``choices``.
    """

    key: str
    label: str
    compute: Callable[[Any, str, Sequence[int]], Mapping[int, Any]]
    kind: Literal["numeric", "picklist"] = "numeric"
    entity_kinds: tuple[str, ...] = ("company", "relationship")
    choices: tuple[str, ...] = ()
    # True when a larger value is healthier (used for default ranges and trend wording).
    higher_is_better: bool = True
    plugin: str = ""


@dataclasses.dataclass(frozen=True)
class ScoreBatch:
    """Scores for a batch of entities: ``scores[i]`` belongs to ``entity_ids[i]`` (None: N/A)."""

    entity_ids: Sequence[int]
    scores: Sequence[float | None]
    explanations: Sequence[Mapping[str, Any]] = ()


# -- timeline --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TimelineQuery:
    company_id: int | None = None
    relationship_id: int | None = None
    opportunity_id: int | None = None
    types: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    author: str | None = None
    limit: int = 50


@dataclasses.dataclass(frozen=True)
class Activity:
    """One timeline entry, local or contributed by a plugin's feed."""

    type: str
    subject: str
    occurred_at: dt.datetime
    source: str
    key: str
    notes: str = ""
    author: str | None = None
    company_id: int | None = None
    relationship_id: int | None = None
    opportunity_id: int | None = None
    duration_minutes: int | None = None
    internal_attendees: tuple[str, ...] = ()
    external_attendees: tuple[str, ...] = ()
    reporting_category: str | None = None
    external_id: str | None = None


# -- renewals --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RenewalFeatures:
    """Feature columns for a batch of opportunities: ``columns[name][i]`` is for ``opportunity_ids[i]``."""

    opportunity_ids: Sequence[int]
    columns: Mapping[str, Sequence[float | None]]
    # Optional human wording per feature, used when explaining a risk factor.
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)


# -- web -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WebhookReceiver:
    """An endpoint a plugin hosts at ``/webhooks/<tenant>/<plugin>/<path>``.

    ``view(tenant, request)`` gets the tenant context (the plugin is enabled for it; the
    receiver has already enforced method and size limits) and the Flask request, and
    returns a Flask response.
    """

    plugin: str
    path: str
    view: Callable[[Any, Any], Any]
    methods: tuple[str, ...] = ("POST",)
    content_types: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ApiRoute:
    """A REST endpoint a plugin adds under ``/api/v1/tenants/<tenant>/``.

    It answers only for tenants that enabled the plugin (404 otherwise); ``roles`` lists
    the roles allowed to call it.
    """

    plugin: str
    rule: str
    view: Callable[..., Any]
    methods: tuple[str, ...] = ("GET",)
    roles: tuple[str, ...] = ("admin", "user")
    endpoint: str | None = None


# -- changes and jobs ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ChangeSet:
    """What one applied batch changed, for ``tether_records_changed``."""

    entity: str
    created: Sequence[int] = ()
    updated: Sequence[int] = ()
    deleted: Sequence[int] = ()
    # "sync" when applied from a connector, "local" for API/CLI/plugin edits.
    origin: Literal["sync", "local"] = "sync"
    connector: str | None = None


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """A job a plugin wants scheduled per tenant.

    ``run(tenant)`` does the work; ``every`` (seconds) or ``cron`` (5-field) says when,
    unless the tenant manifest's schedules override it by ``name``.
    """

    name: str
    run: Callable[[Any], Any]
    every: int | None = None
    cron: str | None = None
    plugin: str = ""
    lock_key: str | None = None


@dataclasses.dataclass(frozen=True)
class CtaCondition:
    """A Cockpit rule condition a plugin contributes.

    ``evaluate(tenant, params)`` is called once per rules run for the whole tenant (never
    per company) and returns every occurrence that holds now, each
    ``{"company_id": ..., "relationship_id": ... or None, "key": ..., "reason": ...}``
    and optionally ``"opportunity_ids": [...]`` to link to the CTA it opens. ``key`` names
    the occurrence (what it is about, e.g. ``"company:42"`` or ``"opportunity:7"``): a rule
    opens one CTA per key while the occurrence lasts, and none while one is open for it.
    ``params`` are the rule's parameters over ``defaults``.

    ``check(params)`` (optional) returns what is wrong with a rule's parameters, each
    ``"name: what is wrong"``; it runs when a rule is saved or a manifest applied.
    """

    key: str
    label: str
    evaluate: Callable[[Any, Mapping[str, Any]], Sequence[Mapping[str, Any]]]
    plugin: str = ""
    description: str = ""
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    check: Callable[[Mapping[str, Any]], Sequence[str]] | None = None
