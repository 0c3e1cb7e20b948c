"""Which connector objects become which tether entities, for one tenant.

Defaults come from plugins (``tether_object_mappings``); the tenant manifest's
``mappings`` override them field by field: a manifest field mapping replaces every
default mapping of the same tether field, and adds new ones. A manifest mapping for an
object no plugin maps adds a whole new object mapping.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ..contracts import FieldMapping, ObjectMapping

if TYPE_CHECKING:
    from ..connectors import ConnectorSpec
    from ..plugins import TenantContext

log = logging.getLogger(__name__)

INBOUND = ("both", "inbound")
OUTBOUND = ("both", "outbound")


@dataclasses.dataclass(frozen=True)
class TenantMappings:
    """Every resolved object mapping of a tenant, with the connectors that serve them."""

    connectors: Mapping[str, "ConnectorSpec"]
    objects: tuple[ObjectMapping, ...]

    def for_connector(self, connector: str) -> list[ObjectMapping]:
        return [m for m in self.objects if m.connector == connector]

    def for_object(self, connector: str, object_name: str) -> ObjectMapping | None:
        for mapping in self.objects:
            if mapping.connector == connector and mapping.object_name.lower() == object_name.lower():
                return mapping
        return None

    def for_entity(self, entity: str) -> list[ObjectMapping]:
        """Mappings of ``entity`` on connectors the tenant has enabled."""
        return [m for m in self.objects if m.entity == entity and m.connector in self.connectors]


def connector_specs(tenant: "TenantContext") -> dict[str, "ConnectorSpec"]:
    """The tenant's connectors by name (one ``tether_connectors`` call)."""
    specs: dict[str, ConnectorSpec] = {}
    for offered in tenant.hooks.tether_connectors() or []:
        for spec in offered or []:
            specs.setdefault(spec.name, spec)
    return specs


def resolve_mappings(tenant: "TenantContext") -> TenantMappings:
    """Plugin defaults merged with the tenant manifest's overrides.

    A plugin's default mapping of an entity nothing applies for this tenant (a Salesforce
    Task → ``activity`` without the Timeline plugin) is kept outbound only, so it is
    neither polled nor scheduled; a manifest mapping is taken as written.
    """
    specs = connector_specs(tenant)
    defaults: list[ObjectMapping] = []
    for name in specs:
        for offered in tenant.hooks.tether_object_mappings(connector=name) or []:
            defaults.extend(m for m in offered or [] if m.connector == name)
    if specs:
        applied = applied_entities(tenant)
        defaults = [m if m.entity in applied else outbound_only(m) for m in defaults]
        defaults = [m for m in defaults if m.fields]
    return TenantMappings(connectors=specs, objects=tuple(merge_mappings(defaults, tenant.mappings)))


def applied_entities(tenant: "TenantContext") -> frozenset[str]:
    """Entities an inbound sync can apply for ``tenant``: the core's and its plugins'."""
    from ..errors import DomainError
    from .entities import APPLIERS
    from .plugin_entities import entity_appliers

    try:
        plugins = entity_appliers(tenant)
    except DomainError as exc:  # two plugins claim an entity: the sync reports it; edits still capture
        log.error("tenant %s: %s", tenant.id, exc.one_line())
        plugins = {}
    return frozenset(APPLIERS) | frozenset(plugins)


def outbound_only(mapping: ObjectMapping) -> ObjectMapping:
    fields = tuple(f if f.direction == "outbound" else dataclasses.replace(f, direction="outbound")
                   for f in mapping.fields if f.direction in OUTBOUND)
    return dataclasses.replace(mapping, fields=fields)


def merge_mappings(defaults: Iterable[ObjectMapping], overrides: Iterable[Mapping[str, Any]]) -> list[ObjectMapping]:
    """Apply manifest mapping dicts (``connector, object, entity, external_id_field, fields``)."""
    merged: dict[tuple[str, str], ObjectMapping] = {}
    for mapping in defaults:
        merged.setdefault((mapping.connector, mapping.object_name.lower()), mapping)
    for override in overrides:
        key = (override["connector"], override["object"].lower())
        fields = tuple(FieldMapping(source=f["source"], target=f["target"], type=f.get("type", "string"),
                                    direction=f.get("direction", "both")) for f in override.get("fields") or ())
        base = merged.get(key)
        if base is None:
            merged[key] = ObjectMapping(connector=override["connector"], object_name=override["object"],
                                        entity=override["entity"], fields=fields,
                                        external_id_field=override.get("external_id_field"))
            continue
        replaced = {f.target for f in fields}
        kept = tuple(f for f in base.fields if f.target not in replaced)
        merged[key] = dataclasses.replace(
            base, entity=override.get("entity") or base.entity, fields=kept + fields,
            external_id_field=override.get("external_id_field") or base.external_id_field,
        )
    return list(merged.values())


def inbound_fields(mapping: ObjectMapping) -> tuple[FieldMapping, ...]:
    return tuple(f for f in mapping.fields if f.direction in INBOUND)


def outbound_fields(mapping: ObjectMapping) -> tuple[FieldMapping, ...]:
    return tuple(f for f in mapping.fields if f.direction in OUTBOUND)


# Resolving mappings calls two hooks; local edit paths capture many changes in a row, so
# the result is kept per tenant configuration (plugins, their configs and the manifest).
_CACHE: "weakref.WeakKeyDictionary[Any, dict[tuple, TenantMappings]]" = weakref.WeakKeyDictionary()
_CACHE_LIMIT = 256


def cached_mappings(tenant: "TenantContext") -> TenantMappings:
    per_host = _CACHE.setdefault(tenant.host, {})
    key = (tenant.id, repr(sorted(tenant.plugin_configs.items())), repr(tenant.mappings))
    found = per_host.get(key)
    if found is None:
        if len(per_host) >= _CACHE_LIMIT:
            per_host.clear()
        found = per_host[key] = resolve_mappings(tenant)
    return found
