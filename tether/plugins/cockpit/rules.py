"""Rules: a condition with parameters, and the CTA it opens for each occurrence.

Rules come from the plugin config (``rules``; read-only through the API) and from the
API; names are unique across both. A rule's CTA settings: a name template (``{company}``,
``{relationship}`` and ``{condition}`` are filled in), type, priority, playbook, owner
(``csm``: the relationship's CSM, else the company's; ``company_csm``; or a username)
and a due date in days. :mod:`.rule_runs` runs them.
"""

from __future__ import annotations

import string
from typing import Any, Mapping, Sequence

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.core.contracts import CtaCondition
from tether.core.errors import DomainError, InvalidFields, NotFound
from tether.core.manifests import flatten_errors
from tether.core.plugins import TenantContext

from .conditions import available_conditions, check_params, condition_dict
from .config import PLUGIN, PRIORITIES, CockpitSettings
from .models import RuleDefinition

RULE_NAME = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,79}$"
PLACEHOLDERS = ("company", "relationship", "condition")
OWNERS = ("csm", "company_csm")


class RuleCtaSchema(Schema):
    name = fields.String(load_default="{condition}: {company}", validate=validate.Length(min=1, max=255))
    type = fields.String(load_default="risk", validate=validate.Length(min=1, max=40))
    priority = fields.String(load_default="medium", validate=validate.OneOf(PRIORITIES))
    playbook = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=80))
    owner = fields.String(load_default="csm", validate=validate.Length(min=1, max=200))
    due_in_days = fields.Integer(load_default=7, allow_none=True, validate=validate.Range(0, 3650))


class RuleSchema(Schema):
    name = fields.String(required=True, validate=validate.Regexp(
        RULE_NAME, error="letters, digits, spaces, '_', '.', '-'; at most 80; starting with a letter or digit"))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    condition = fields.String(required=True, validate=validate.Length(min=1, max=80))
    params = fields.Dict(keys=fields.String(), load_default=dict)
    enabled = fields.Boolean(load_default=True)
    cta = fields.Nested(RuleCtaSchema, load_default=lambda: RuleCtaSchema().load({}))


def load_rule(data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return RuleSchema().load(dict(data))
    except ValidationError as exc:
        raise InvalidFields("the rule is not valid", flatten_errors(exc.messages)) from None


def _template_problem(template: str) -> str | None:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return f"not a valid name template: {exc}"
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        return f"unknown placeholder {{{unknown[0]}}}: use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
    return None


def check_rule(rule: Mapping[str, Any], conditions: Mapping[str, CtaCondition], settings: CockpitSettings,
               playbooks: Sequence[str]) -> dict[str, list[str]]:
    """Problems of one loaded rule that need the tenant: condition, params, type, playbook."""
    errors: dict[str, list[str]] = {}
    condition = conditions.get(rule["condition"])
    if condition is None:
        errors["condition"] = [f"{rule['condition']!r} is not a condition of this tenant's plugins "
                               f"({', '.join(sorted(conditions)) or 'none'})"]
    else:
        for problem in check_params(condition, rule.get("params") or {}):
            name, _, message = problem.partition(": ")
            errors.setdefault(f"params.{name}" if message else "params", []).append(message or problem)
    cta = rule["cta"]
    problem = _template_problem(cta["name"])
    if problem:
        errors["cta.name"] = [problem]
    if cta["type"] not in settings.types:
        errors["cta.type"] = [f"{cta['type']!r} is not a CTA type ({', '.join(settings.types)})"]
    if cta.get("playbook") and cta["playbook"] not in playbooks:
        errors["cta.playbook"] = [f"no playbook {cta['playbook']!r} ({', '.join(sorted(playbooks)) or 'none yet'})"]
    return errors


def manifest_rules(tenant: TenantContext) -> list[dict[str, Any]]:
    return [RuleSchema().load(r) | {"source": "manifest"} for r in tenant.config_for(PLUGIN).get("rules") or []]


def effective_rules(tenant: TenantContext, session: Session) -> dict[str, dict[str, Any]]:
    """Every rule of the tenant by name: the manifest's, then the API's."""
    found = {r["name"]: r for r in manifest_rules(tenant)}
    for row in session.scalars(select(RuleDefinition).order_by(RuleDefinition.name)):
        found.setdefault(row.name, dict(row.definition) | {"name": row.name, "source": "api"})
    return found


def rule_dict(rule: Mapping[str, Any], conditions: Mapping[str, CtaCondition]) -> dict[str, Any]:
    condition = conditions.get(rule["condition"])
    data = {k: rule.get(k) for k in ("name", "description", "condition", "params", "enabled", "cta", "source")}
    data["condition_label"] = condition.label if condition else None
    data["effective_params"] = {**(condition.defaults if condition else {}), **(rule.get("params") or {})}
    return data


# -- the API's rules ------------------------------------------------------------------------


def _checked(tenant: TenantContext, session: Session, settings: CockpitSettings, rule: dict[str, Any],
             playbooks: Sequence[str]) -> dict[str, Any]:
    errors = check_rule(rule, available_conditions(tenant), settings, playbooks)
    if errors:
        raise InvalidFields("the rule is not valid", errors)
    return rule


def create_rule(tenant: TenantContext, session: Session, settings: CockpitSettings, data: Mapping[str, Any],
                playbooks: Sequence[str]) -> dict[str, Any]:
    rule = load_rule(data)
    existing = effective_rules(tenant, session)
    if rule["name"].lower() in {n.lower() for n in existing}:
        raise DomainError(f"a rule named {rule['name']!r} already exists", field="name")
    _checked(tenant, session, settings, rule, playbooks)
    session.add(RuleDefinition(name=rule["name"], definition=rule))
    session.flush()
    return rule | {"source": "api"}


def replace_rule(tenant: TenantContext, session: Session, settings: CockpitSettings, name: str,
                 data: Mapping[str, Any], playbooks: Sequence[str]) -> dict[str, Any]:
    row = _api_row(tenant, session, name)
    rule = _checked(tenant, session, settings, load_rule({**data, "name": name}), playbooks)
    row.definition = rule
    session.flush()
    return rule | {"source": "api"}


def delete_rule(tenant: TenantContext, session: Session, name: str) -> None:
    session.delete(_api_row(tenant, session, name))
    session.flush()


def _api_row(tenant: TenantContext, session: Session, name: str) -> RuleDefinition:
    row = session.scalar(select(RuleDefinition).where(RuleDefinition.name == name))
    if row is None:
        if any(r["name"] == name for r in manifest_rules(tenant)):
            raise DomainError(f"rule {name!r} is defined in the tenant manifest", field="name",
                              hint="change it in the manifest (plugins: cockpit: config: rules) and apply it")
        raise NotFound(f"no rule {name!r}", hint="list them with GET /cockpit/rules")
    return row


def conditions_list(tenant: TenantContext) -> list[dict[str, Any]]:
    return [condition_dict(c) for c in available_conditions(tenant).values()]
