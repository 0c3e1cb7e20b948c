"""The Cockpit's vocabulary and per-tenant settings (types, statuses, list fields, task sync).

Built-in CTA types, statuses and priorities follow Gainsight's Cockpit; a tenant adds
its own types and statuses in the plugin config (``types``, ``statuses``), and chooses
which company and relationship fields the Cockpit list shows (``list_fields``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from tether.core.plugins import TenantContext

PLUGIN = "cockpit"

BUILT_IN_TYPES = ("risk", "opportunity", "lifecycle", "activity")
# status → closed?
BUILT_IN_STATUSES = {"open": False, "in_progress": False, "closed_success": True, "closed_lost": True}
PRIORITIES = ("low", "medium", "high")
PRIORITY_RANK = {"low": 1, "medium": 2, "high": 3}
SOURCES = ("manual", "rule", "plugin")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
NAME_RULE = "lower-case letters, digits and _, starting with a letter, at most 40"

COMPANY_FIELDS = ("name", "industry", "segment", "company_type", "owner_name", "csm", "lifecycle_stage", "arr", "mrr",
                  "employees", "health")
RELATIONSHIP_FIELDS = ("name", "type", "csm", "stage", "status", "arr", "mrr", "health")
DEFAULT_LIST_FIELDS = ("company.arr", "company.segment", "relationship.type", "relationship.stage",
                       "relationship.arr")


def check_list_field(value: str) -> str | None:
    """What is wrong with a list field name (``company.arr``, ``relationship.attributes.tier``), or None."""
    entity, _, rest = value.partition(".")
    known = {"company": COMPANY_FIELDS, "relationship": RELATIONSHIP_FIELDS}.get(entity)
    if known is None:
        return f"{value!r}: start with 'company.' or 'relationship.'"
    if rest.startswith("attributes.") and len(rest) > len("attributes."):
        return None
    if rest not in known:
        return f"{value!r}: {entity} fields are {', '.join(known)} and attributes.<name>"
    return None


class StatusSchema(Schema):
    name = fields.String(required=True, validate=validate.Regexp(NAME, error=NAME_RULE))
    label = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=60))
    closed = fields.Boolean(load_default=False)


class SettingsSchema(Schema):
    """The plugin config beyond playbooks and rules (those have their own modules)."""

    class Meta:
        unknown = EXCLUDE

    types = fields.List(fields.String(validate=validate.Regexp(NAME, error=NAME_RULE)), load_default=list)
    statuses = fields.List(fields.Nested(StatusSchema), load_default=list)
    list_fields = fields.List(fields.String(), load_default=lambda: list(DEFAULT_LIST_FIELDS))
    task_sync = fields.Boolean(load_default=False)
    task_sync_connector = fields.String(load_default="salesforce", validate=validate.Length(min=1, max=100))
    closing_activity_type = fields.String(load_default="Update", validate=validate.Length(min=1, max=60))

    @validates_schema
    def _consistent(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        types = data.get("types") or []
        clash = [t for t in types if t in BUILT_IN_TYPES]
        if clash:
            errors.setdefault("types", []).append(f"{', '.join(clash)} {'is' if len(clash) == 1 else 'are'} built in")
        if len(set(types)) != len(types):
            errors.setdefault("types", []).append("types are named once each")
        names = [s["name"] for s in data.get("statuses") or []]
        clash = [n for n in names if n in BUILT_IN_STATUSES]
        if clash:
            errors.setdefault("statuses", []).append(
                f"{', '.join(clash)} {'is' if len(clash) == 1 else 'are'} built in")
        if len(set(names)) != len(names):
            errors.setdefault("statuses", []).append("statuses are named once each")
        problems = [p for p in (check_list_field(f) for f in data.get("list_fields") or []) if p]
        if problems:
            errors["list_fields"] = problems
        if errors:
            raise ValidationError(errors)


@dataclasses.dataclass(frozen=True)
class CockpitSettings:
    types: tuple[str, ...]
    statuses: Mapping[str, bool]  # name → closed
    status_labels: Mapping[str, str]
    list_fields: tuple[str, ...]
    task_sync: bool
    task_sync_connector: str
    closing_activity_type: str

    def is_closed(self, status: str) -> bool:
        return bool(self.statuses[status])

    @property
    def open_statuses(self) -> tuple[str, ...]:
        return tuple(s for s, closed in self.statuses.items() if not closed)

    @property
    def closed_statuses(self) -> tuple[str, ...]:
        return tuple(s for s, closed in self.statuses.items() if closed)

    def as_dict(self) -> dict[str, Any]:
        return {"types": list(self.types), "built_in_types": list(BUILT_IN_TYPES),
                "statuses": [{"name": s, "label": self.status_labels[s], "closed": c} for s, c in self.statuses.items()],
                "priorities": list(PRIORITIES), "sources": list(SOURCES), "list_fields": list(self.list_fields),
                "task_sync": self.task_sync}


_CACHE: dict[str, CockpitSettings] = {}


def settings_from(config: Mapping[str, Any]) -> CockpitSettings:
    key = repr(sorted((k, v) for k, v in config.items() if k not in ("rules", "playbooks")))
    found = _CACHE.get(key)
    if found is not None:
        return found
    data = SettingsSchema().load(dict(config))
    statuses = dict(BUILT_IN_STATUSES)
    labels = {s: s.replace("_", " ").capitalize() for s in statuses}
    for status in data["statuses"]:
        statuses[status["name"]] = status["closed"]
        labels[status["name"]] = status["label"] or status["name"].replace("_", " ").capitalize()
    found = CockpitSettings(
        types=BUILT_IN_TYPES + tuple(data["types"]), statuses=statuses, status_labels=labels,
        list_fields=tuple(dict.fromkeys(data["list_fields"])), task_sync=data["task_sync"],
        task_sync_connector=data["task_sync_connector"], closing_activity_type=data["closing_activity_type"])
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[key] = found
    return found


def settings_of(tenant: TenantContext) -> CockpitSettings:
    return settings_from(tenant.config_for(PLUGIN))
