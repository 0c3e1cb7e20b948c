"""Scorecard definitions: what an admin writes (tenant config or the API), validated with paths.

A scorecard scores companies or relationships. Exactly one per entity kind is the
default; the others carry criteria and the first matching (by priority) wins, so every
entity has exactly one scorecard. Measures sit in at most one group (groups do not
nest); weights are 0–999,999 and are normalised; exceptions force the overall score
when a measure meets a condition.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any, Iterable, Mapping, Sequence

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from tether.core.errors import DomainError, InvalidFields, NotFound
from tether.core.manifests import flatten_errors
from tether.core.plugins import TenantContext

from .models import ScorecardDefinition
from .schemes import DEFAULT_SCHEME, SchemeSchema

PLUGIN = "scorecards"
ENTITY_KINDS = ("company", "relationship")
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "empty", "not_empty")
MAX_WEIGHT = 999_999
# Company and relationship columns criteria may test, besides attributes.<name> (and "type" for relationships).
CRITERIA_FIELDS = {
    "company": ("name", "industry", "segment", "company_type", "owner_name", "csm", "lifecycle_stage", "arr", "mrr",
                "employees"),
    "relationship": ("name", "csm", "stage", "status", "arr", "mrr", "type"),
}


def _weight() -> fields.Float:
    return fields.Float(load_default=1, validate=validate.Range(0, MAX_WEIGHT, error=f"must be 0 to {MAX_WEIGHT:,}"))


class ConditionSchema(Schema):
    op = fields.String(required=True, validate=validate.OneOf(OPERATORS))
    value = fields.Raw(load_default=None, allow_none=True)

    @validates_schema
    def _value_fits(self, data, **kwargs):
        op, value = data["op"], data.get("value")
        if op in ("in", "not_in") and not (isinstance(value, list) and value):
            raise ValidationError(f"'{op}' needs a non-empty list", "value")
        if op in ("lt", "lte", "gt", "gte") and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValidationError(f"'{op}' needs a number", "value")
        if op in ("eq", "ne") and value is None:
            raise ValidationError(f"'{op}' needs a value", "value")


class CriterionSchema(ConditionSchema):
    field = fields.String(required=True, validate=validate.Length(min=1, max=120))


class BandSchema(Schema):
    upto = fields.Float(load_default=None, allow_none=True)
    score = fields.Float(required=True, validate=validate.Range(0, 100))


class ScoringSchema(Schema):
    """How a measure's raw value becomes a 0–100 score."""

    type = fields.String(load_default="identity", validate=validate.OneOf(["identity", "linear", "bands", "choices"]))
    worst = fields.Float(load_default=None, allow_none=True)
    best = fields.Float(load_default=None, allow_none=True)
    bands = fields.List(fields.Nested(BandSchema), load_default=list)
    scores = fields.Dict(keys=fields.String(), values=fields.Float(validate=validate.Range(0, 100)), load_default=dict)
    default = fields.Float(load_default=None, allow_none=True, validate=validate.Range(0, 100))

    @validates_schema
    def _complete(self, data, **kwargs):
        kind = data["type"]
        if kind == "linear" and (data["worst"] is None or data["best"] is None or data["worst"] == data["best"]):
            raise ValidationError("linear scoring needs different 'worst' and 'best' values", "worst")
        if kind == "bands":
            bands = data["bands"]
            if not bands or bands[-1]["upto"] is not None:
                raise ValidationError("bands end with one without 'upto' (everything above)", "bands")
            tops = [b["upto"] for b in bands[:-1]]
            if any(t is None for t in tops) or any(b <= a for a, b in zip(tops, tops[1:])):
                raise ValidationError("every band but the last has an 'upto', each above the one before", "bands")
        if kind == "choices" and not data["scores"]:
            raise ValidationError("choices scoring needs 'scores' for the picklist values", "scores")


class MeasureEntrySchema(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=120))
    weight = _weight()
    group = fields.String(load_default=None, allow_none=True)
    scoring = fields.Nested(ScoringSchema, load_default=lambda: ScoringSchema().load({}))


class GroupSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    weight = _weight()


class ExceptionWhenSchema(ConditionSchema):
    on = fields.String(load_default="value", validate=validate.OneOf(["value", "score", "label"]))


class ExceptionSchema(Schema):
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=80))
    measure = fields.String(required=True)
    when = fields.Nested(ExceptionWhenSchema, required=True)
    score = fields.Float(required=True, validate=validate.Range(0, 100))


class ScorecardSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    entity = fields.String(required=True, validate=validate.OneOf(ENTITY_KINDS))
    default = fields.Boolean(load_default=False)
    priority = fields.Integer(load_default=100, validate=validate.Range(0, 1_000_000))
    criteria = fields.List(fields.Nested(CriterionSchema), load_default=list)
    scheme = fields.Nested(SchemeSchema, load_default=lambda: dict(DEFAULT_SCHEME))
    groups = fields.List(fields.Nested(GroupSchema), load_default=list)
    measures = fields.List(fields.Nested(MeasureEntrySchema), required=True, validate=validate.Length(min=1))
    exceptions = fields.List(fields.Nested(ExceptionSchema), load_default=list)

    @validates_schema
    def _consistent(self, data, **kwargs):
        errors: dict[str, Any] = {}
        if data["default"] and data["criteria"]:
            errors["criteria"] = ["the default scorecard takes no criteria: it scores whatever no other one matches"]
        if not data["default"] and not data["criteria"]:
            errors["criteria"] = ["a scorecard that is not the default needs criteria"]
        for index, criterion in enumerate(data["criteria"]):
            head, _, rest = criterion["field"].partition(".")
            if not (head == "attributes" and rest) and criterion["field"] not in CRITERIA_FIELDS[data["entity"]]:
                errors.setdefault("criteria", {})[index] = {"field": [
                    f"not a {data['entity']} field: use one of {', '.join(CRITERIA_FIELDS[data['entity']])} "
                    "or attributes.<name>"]}
        groups = [g["name"] for g in data["groups"]]
        if len({g.lower() for g in groups}) != len(groups):
            errors["groups"] = ["group names must differ"]
        keys = [m["key"] for m in data["measures"]]
        for index, measure in enumerate(data["measures"]):
            if keys.count(measure["key"]) > 1:
                errors.setdefault("measures", {})[index] = {"key": [f"measure {measure['key']!r} is listed twice"]}
            elif measure["group"] is not None and measure["group"] not in groups:
                errors.setdefault("measures", {})[index] = {"group": [
                    f"no group {measure['group']!r} (groups: {', '.join(groups) or 'none'})"]}
        for index, exception in enumerate(data["exceptions"]):
            if exception["measure"] not in keys:
                errors.setdefault("exceptions", {})[index] = {"measure": [
                    f"{exception['measure']!r} is not one of this scorecard's measures"]}
        if errors:
            raise ValidationError(errors)


class FieldMeasureSchema(Schema):
    """A company (or relationship) attribute offered as a measure: ``{field: nps, kind: numeric}``."""

    field = fields.String(required=True, validate=validate.Regexp(r"^(attributes\.)?[A-Za-z_][A-Za-z0-9_ ]{0,79}$",
                                                                   error="must be an attribute name such as nps"))
    kind = fields.String(load_default="numeric", validate=validate.OneOf(["numeric", "picklist"]))
    entity = fields.String(load_default="company", validate=validate.OneOf(ENTITY_KINDS))
    label = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    choices = fields.List(fields.String(), load_default=list)


def validate_config(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every error in the plugin's tenant config, by path below ``config``."""
    errors: dict[str, list[str]] = {}
    if config.get("scorecards"):
        _, found = validate_scorecards(config["scorecards"])
        errors.update(found)
    if config.get("field_measures"):
        try:
            FieldMeasureSchema(many=True).load(config["field_measures"])
        except ValidationError as exc:
            errors.update(flatten_errors(exc.messages, "field_measures"))
    return errors


def validate_scorecards(raw: Any, *, measures: Mapping[str, Any] | None = None, prefix: str = "scorecards"
                        ) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Load a list of scorecard definitions; returns them and every error by path.

    With ``measures`` (``{key: HealthMeasure}``), measure keys, their kinds and entity
    kinds are checked too.
    """
    if not isinstance(raw, list):
        return [], {prefix: ["must be a list of scorecards"]}
    try:
        loaded = ScorecardSchema(many=True).load(raw)
    except ValidationError as exc:
        return [], flatten_errors(exc.messages, prefix)
    errors: dict[str, list[str]] = {}
    names: set[str] = set()
    defaults: dict[str, list[str]] = {}
    for index, card in enumerate(loaded):
        path = f"{prefix}[{index}]"
        if card["name"].lower() in names:
            errors.setdefault(f"{path}.name", []).append(f"scorecard {card['name']!r} is defined twice")
        names.add(card["name"].lower())
        if card["default"]:
            defaults.setdefault(card["entity"], []).append(card["name"])
        if measures is not None:
            for m_index, entry in enumerate(card["measures"]):
                problem = measure_problem(measures, entry, card["entity"])
                if problem:
                    errors.setdefault(f"{path}.measures[{m_index}].key", []).append(problem)
    for entity in {c["entity"] for c in loaded}:
        count = len(defaults.get(entity, []))
        if count != 1:
            errors.setdefault(prefix, []).append(
                f"{entity} scorecards need exactly one default, found {count}"
                + (f" ({', '.join(defaults[entity])})" if count else ""))
    return loaded, errors


def measure_problem(measures: Mapping[str, Any], entry: Mapping[str, Any], entity: str) -> str | None:
    measure = measures.get(entry["key"])
    if measure is None:
        return f"unknown measure {entry['key']!r} (see GET /health-measures)"
    if entity not in measure.entity_kinds:
        return f"measure {entry['key']!r} does not apply to {entity} scorecards"
    scoring = entry["scoring"]["type"]
    if measure.kind == "picklist" and scoring != "choices":
        return f"measure {entry['key']!r} is a picklist: score it with type 'choices'"
    if measure.kind == "numeric" and scoring == "choices":
        return f"measure {entry['key']!r} is numeric: score it with 'identity', 'linear' or 'bands'"
    return None


# -- where definitions live -----------------------------------------------------------


def configured(tenant: TenantContext) -> list[dict[str, Any]] | None:
    """Definitions from the tenant's plugin config, or None when the config has none."""
    shared = _configured_shared(tenant)
    return None if shared is None else copy.deepcopy(shared)  # callers may change their copy


def scheme_types(tenant: TenantContext, session) -> dict[str, str]:
    """``{scorecard name: scheme type}`` of the scorecards in force (read models ask on every request)."""
    shared = _configured_shared(tenant)
    if shared is None:
        shared = [row.definition for row in session.scalars(select(ScorecardDefinition))]
    return {card["name"]: (card.get("scheme") or {}).get("type", "colour") for card in shared}


def _configured_shared(tenant: TenantContext) -> list[dict[str, Any]] | None:
    raw = tenant.config_for(PLUGIN).get("scorecards")
    if not raw:
        return None
    seen = _LAST_CONFIG.get(id(raw))
    if seen is not None and seen[0] is raw:  # the same config object as a moment ago: skip re-serialising it
        loaded, errors = seen[1]
    else:
        loaded, errors = _validated(json.dumps(raw, sort_keys=True, default=str))
        _LAST_CONFIG.clear()
        _LAST_CONFIG[id(raw)] = (raw, (loaded, errors))
    if errors:  # refused at apply time already; a config edited behind tether's back lands here
        raise InvalidFields("the scorecards in this tenant's config are invalid", dict(errors),
                            hint="fix plugins.scorecards.config.scorecards in the tenant manifest and apply it")
    return loaded


_LAST_CONFIG: dict[int, tuple[Any, Any]] = {}


@functools.lru_cache(maxsize=256)
def _validated(canonical: str) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    # Read models ask for the scorecards on every request; a config is validated once.
    return validate_scorecards(json.loads(canonical))


def effective_scorecards(tenant: TenantContext, session) -> tuple[list[dict[str, Any]], str]:
    """The scorecards in force and where they come from: ``"config"`` or ``"api"``."""
    from_config = configured(tenant)
    if from_config is not None:
        return from_config, "config"
    rows = session.scalars(select(ScorecardDefinition).order_by(ScorecardDefinition.id)).all()
    return [dict(row.definition) for row in rows], "api"


def _refuse_when_configured(tenant: TenantContext) -> None:
    if configured(tenant) is not None:
        raise DomainError("this tenant's scorecards are defined in its manifest", field="name",
                          hint="edit plugins.scorecards.config.scorecards in the tenant manifest, or remove it there "
                               "to manage scorecards through the API")


def save_scorecard(tenant: TenantContext, session, definition: Mapping[str, Any], measures: Mapping[str, Any],
                   *, replace: str | None = None) -> dict[str, Any]:
    """Create (or, with ``replace``, change) an API-managed scorecard; the whole set must stay valid."""
    _refuse_when_configured(tenant)
    rows = {row.name.lower(): row for row in session.scalars(select(ScorecardDefinition))}
    if replace is not None and replace.lower() not in rows:
        raise NotFound(f"no scorecard named {replace!r}")
    others = [dict(r.definition) for key, r in rows.items() if key != (replace or "").lower()]
    loaded, errors = validate_scorecards(others + [dict(definition)], measures=measures)
    if errors:
        raise InvalidFields("the scorecard is not valid", _relabel(errors, len(others)))
    card = loaded[-1]
    if replace is not None:
        row = rows[replace.lower()]
        row.name, row.entity, row.definition = card["name"], card["entity"], dict(card)
    else:
        session.add(ScorecardDefinition(name=card["name"], entity=card["entity"], definition=dict(card)))
    session.flush()
    return card


def delete_scorecard(tenant: TenantContext, session, name: str) -> None:
    _refuse_when_configured(tenant)
    rows = {row.name.lower(): row for row in session.scalars(select(ScorecardDefinition))}
    row = rows.get(name.lower())
    if row is None:
        raise NotFound(f"no scorecard named {name!r}")
    if row.definition.get("default") and any(r.entity == row.entity for k, r in rows.items() if k != name.lower()):
        raise DomainError(f"{row.name!r} is the default {row.entity} scorecard; make another one the default first",
                          field="name")
    session.delete(row)
    session.flush()


def _relabel(errors: Mapping[str, list[str]], index: int) -> dict[str, list[str]]:
    """Errors about the scorecard being saved, without the list position of the set."""
    prefix = f"scorecards[{index}]"
    out: dict[str, list[str]] = {}
    for path, messages in errors.items():
        key = path[len(prefix) + 1:] if path.startswith(prefix + ".") else ("(set)" if path == "scorecards" else path)
        out.setdefault(key or "(scorecard)", []).extend(messages)
    return out


def measure_keys(cards: Iterable[Mapping[str, Any]]) -> set[str]:
    return {m["key"] for card in cards for m in card["measures"]}


def normalised(weights: Sequence[float]) -> list[float]:
    """Weights as percentages of their total (0 when every weight is 0)."""
    total = float(sum(weights))
    return [round(100.0 * w / total, 2) if total else 0.0 for w in weights]
