"""What one object's sync reads and how its pages become rows.

An :class:`ObjectPlan` is built once per run from the resolved mapping and the
connector's catalog; it refuses mapped fields the source does not have (naming them),
and turns each page into :class:`~tether.core.sync.apply.Row` objects with one converter
call per value and one call per hook per page.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, Callable

from ..connectors import Catalog, ObjectSchema, Page
from ..contracts import ObjectMapping
from ..errors import DomainError, PermanentConnectorError
from .apply import EntityApplier, Row
from .entities import applier_for
from .plugin_entities import PluginEntityApplier
from .coerce import CoercionError, coerce, converter, to_datetime
from .mappings import inbound_fields

if TYPE_CHECKING:
    from ..plugins import TenantContext


@dataclasses.dataclass
class ObjectPlan:
    connector: str
    mapping: ObjectMapping
    schema: ObjectSchema
    applier_class: type[EntityApplier] | type[PluginEntityApplier]
    converters: list[tuple[str, str, Callable[[Any], Any], str]]
    classify_bookings: bool = False
    mapper: Callable[[dict[str, Any]], dict[str, Any]] = dataclasses.field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.mapper is None:
            self.mapper = compile_mapper(self.converters)

    @property
    def object_name(self) -> str:
        return self.schema.name

    @property
    def entity(self) -> str:
        return self.mapping.entity

    @property
    def targets(self) -> list[str]:
        targets = [target for _, target, _, _ in self.converters]
        if self.classify_bookings and "booking_type" not in targets:
            targets.append("booking_type")
        return targets

    def source_fields(self) -> tuple[str, ...]:
        wanted = [self.schema.primary_key]
        if self.schema.cursor_field:
            wanted.append(self.schema.cursor_field)
        wanted += [source for source, _, _, _ in self.converters]
        return tuple(dict.fromkeys(wanted))


def build_plan(tenant: "TenantContext", connector: str, mapping: ObjectMapping, catalog: Catalog) -> ObjectPlan:
    """Check ``mapping`` against the source's catalog and the entity's fields."""
    schema = catalog.get(mapping.object_name)
    where = f"mappings: {connector} {mapping.object_name}"
    if schema is None:
        raise PermanentConnectorError(f"{where}: the source has no object {mapping.object_name!r}",
                                      hint="fix the object name in the mapping, or check the integration user's access")
    applier = applier_for(mapping.entity, tenant=tenant, mapping=mapping)
    fields = inbound_fields(mapping)
    missing = [f.source for f in fields if schema.field(f.source) is None]
    if missing:
        raise PermanentConnectorError(
            f"{where}: mapped field{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} "
            f"do{'' if len(missing) > 1 else 'es'} not exist on {schema.name}",
            hint="fix the field names in the tenant manifest's mappings (custom fields end in __c)")
    problems = applier.check_targets(f.target for f in fields)
    if problems:
        raise DomainError(f"{where}: " + "; ".join(problems), field="mappings")
    converters = [(schema.field(f.source).name, f.target, converter(f.type), f.type) for f in fields]
    classify = mapping.entity == "opportunity" and bool(tenant.hooks.implementers("tether_booking_types"))
    return ObjectPlan(connector=connector, mapping=mapping, schema=schema, applier_class=applier,
                      converters=converters, classify_bookings=classify)


# Types whose converter returns a non-empty string unchanged: the mapper skips the call.
_TEXT_TYPES = frozenset({"string", "text", "picklist", "reference", "id"})
# Types whose values repeat a lot and convert from hashable inputs.
_REPEATING_TYPES = frozenset({"date", "boolean", "percent", "integer", "float"})


def compile_mapper(converters: list[tuple[str, str, Callable[[Any], Any], str]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function ``raw → {target: value}`` for these converters.

    This runs once per record of every sync, so it is generated as one dict display (the
    way :mod:`dataclasses` generates ``__init__``) instead of looping over the fields:
    no per-field loop, and text values that are already strings skip their converter.
    Field names enter the code only through ``repr``.
    """
    namespace: dict[str, Any] = {}
    entries = []
    for index, (source, target, convert, type_name) in enumerate(converters):
        # Dates, flags and numbers repeat across records: remember conversions (bounded).
        namespace[f"c{index}"] = functools.lru_cache(maxsize=65536, typed=True)(convert) if type_name in _REPEATING_TYPES else convert
        if type_name in _TEXT_TYPES:
            entries.append(f"{target!r}: v{index} if (v{index} := get({source!r})).__class__ is str and v{index} "
                           f"else c{index}(v{index})")
        else:
            entries.append(f"{target!r}: c{index}(get({source!r}))")
    code = "def map_record(raw):\n    get = raw.get\n    return {" + ", ".join(entries) + "}\n"
    exec(compile(code, "<tether.sync mapper>", "exec"), namespace)  # noqa: S102 - code built from repr() only
    return namespace["map_record"]


def page_rows(tenant: "TenantContext", plan: ObjectPlan, page: Page) -> list[Row]:
    """Map, coerce and pass a page through the plugins' hooks; deletions come out as deleted rows."""
    pk = plan.schema.primary_key
    stamp_field = plan.schema.cursor_field
    deleted_ids = set(page.deleted_ids)
    live: list[dict[str, Any]] = []
    rows: list[Row] = []
    seen: set[str] = set()
    mapper = plan.mapper
    to_stamp = to_datetime
    try:
        for raw in page.records:
            record_id = raw[pk]
            seen.add(record_id)
            stamp = to_stamp(raw.get(stamp_field)) if stamp_field else None
            if record_id in deleted_ids:
                rows.append(Row(external_id=record_id, modstamp=stamp, deleted=True))
                continue
            mapped = mapper(raw)
            mapped["_source"] = raw
            mapped["_external_id"] = record_id
            mapped["_modstamp"] = stamp
            live.append(mapped)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise _coercion_error(plan, page, exc) from None
    for record_id in deleted_ids - seen:
        rows.append(Row(external_id=record_id, modstamp=None, deleted=True))
    if not live:
        return rows

    tenant.hooks.tether_transform_records(connector=plan.connector, object_name=plan.object_name,
                                          direction="inbound", records=live)
    live = [record for record in live if not record.get("_skip")]
    if plan.classify_bookings and live:
        bookings = tenant.hooks.tether_booking_types(records=live)
        if bookings is None:
            bookings = [None] * len(live)  # every classifier deferred: the type stays unset
        _aligned("tether_booking_types", bookings, live)
        for record, booking in zip(live, bookings):
            record["booking_type"] = booking
    # Relationships are decided when the page is applied (admin rules, then
    # tether_assign_relationships), once the records' companies are known.
    for record in live:
        rows.append(Row(external_id=record["_external_id"], modstamp=record["_modstamp"], values=record))
    return rows


def _aligned(hook: str, results: list[Any], records: list[Any]) -> None:
    if len(results) != len(records):
        raise DomainError(f"hook {hook} returned {len(results)} results for {len(records)} records",
                          hint="a hook must return one result per record, in order")


def _coercion_error(plan: ObjectPlan, page: Page, exc: Exception) -> DomainError:
    """Find the record and field at fault (the fast path does not track them)."""
    pk = plan.schema.primary_key
    for raw in page.records:
        try:
            if plan.schema.cursor_field:
                coerce(plan.schema.cursor_field, "datetime", raw.get(plan.schema.cursor_field))
            for source, _, _, type_name in plan.converters:
                coerce(source, type_name, raw.get(source))
        except CoercionError as error:
            return DomainError(
                f"{plan.connector} {plan.object_name} {raw.get(pk)}: {error}",
                field=error.field, hint="fix the field's type in the mapping (or the record at the source); "
                                        "the sync stopped before this page, nothing was lost")
    return DomainError(f"{plan.connector} {plan.object_name}: {exc}")
