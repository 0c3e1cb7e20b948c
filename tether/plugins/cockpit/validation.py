"""Checking the Cockpit's tenant config when a manifest is applied (``tether_validate_config``).

Every problem is reported with its path below ``config`` (``rules[1].params.days: ...``),
and any problem refuses the whole manifest, so nothing half-configured is applied.
"""

from __future__ import annotations

from typing import Any, Mapping

from marshmallow import ValidationError

from tether.core.manifests import flatten_errors
from tether.core.plugins import TenantContext

from .conditions import available_conditions
from .config import SettingsSchema, settings_from
from .playbooks import PlaybookSchema, check_playbooks
from .rules import RuleSchema, check_rule


def validate_config(tenant: TenantContext, config: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    try:
        SettingsSchema().load(dict(config))
    except ValidationError as exc:
        return flatten_errors(exc.messages)
    settings = settings_from(config)
    books = []
    try:
        books = PlaybookSchema(many=True).load(list(config.get("playbooks") or []))
    except ValidationError as exc:
        errors.update(flatten_errors(exc.messages, "playbooks"))
    else:
        errors.update({f"playbooks{path}": msgs for path, msgs in check_playbooks(books, settings).items()})
    try:
        loaded = RuleSchema(many=True).load(list(config.get("rules") or []))
    except ValidationError as exc:
        errors.update(flatten_errors(exc.messages, "rules"))
        return errors
    conditions = available_conditions(tenant)
    names = [b["name"] for b in books]
    seen: set[str] = set()
    for index, rule in enumerate(loaded):
        if rule["name"].lower() in seen:
            errors.setdefault(f"rules[{index}].name", []).append(f"a rule named {rule['name']!r} already exists")
        seen.add(rule["name"].lower())
        for path, msgs in check_rule(rule, conditions, settings, names).items():
            errors.setdefault(f"rules[{index}].{path}", []).extend(msgs)
    if settings.task_sync:
        offered = {spec.name for specs in tenant.hooks.tether_connectors() or [] for spec in specs or []}
        if settings.task_sync_connector not in offered:
            errors["task_sync_connector"] = [
                f"no enabled plugin offers connector {settings.task_sync_connector!r} "
                f"(offered: {', '.join(sorted(offered - {'cockpit_tasks'})) or 'none'}); enable the salesforce plugin"]
    return errors
