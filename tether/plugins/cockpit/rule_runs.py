"""Running the rules: evaluate each condition once for the whole tenant, open CTAs set-based.

Per rule, in one transaction:

1. the condition's occurrences now (one ``evaluate`` call, whatever the tenant's size);
2. occurrences seen before and gone now have *ended* (their rows go);
3. occurrences not seen before have *started*; each opens a CTA unless one is still open
   for it (same rule, same occurrence key), and its row is kept so that it opens no
   second one while it lasts, even after its CTA is closed;
4. the new CTAs, their playbook tasks, linked opportunities and occurrence rows are
   written with a few multi-row statements.

The partial unique index on open CTAs (tenant, rule, occurrence) backs step 3 up: a
concurrent writer can make a rule's run fail (and the next run succeed), never make a
duplicate. A failing condition fails only its rule; the others still run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from typing import Any, Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tether.core.errors import NotFound, PluginHookError, TetherError
from tether.core.plugins import TenantContext
from tether.core.store import Company, Relationship
from tether.core.store.types import utcnow

from .conditions import available_conditions, occurrences_of, params_for, shared, shared_reads
from .config import CockpitSettings, settings_of
from .models import Cta, RuleOccurrence
from .playbooks import default_for_type, effective_playbooks, task_rows
from .rules import effective_rules
from .rows import chunks as _chunks, insert_links, insert_occurrences, insert_rule_ctas, insert_tasks

log = logging.getLogger(__name__)

# Above this many ids a lookup reads the tenant's whole table instead of IN lists.
WHOLE_TABLE_ABOVE = 20000


@dataclasses.dataclass
class RuleReport:
    rule: str
    condition: str
    status: str = "success"  # success | failed
    occurrences: int = 0
    started: int = 0
    ended: int = 0
    opened: int = 0
    already_open: int = 0
    skipped: int = 0  # occurrences about a company or relationship tether does not have
    seconds: float = 0.0
    error: str | None = None


def run_rules(tenant: TenantContext, *, only: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the tenant's enabled rules (or the ones named) and say what each did."""
    started = time.perf_counter()
    settings = settings_of(tenant)
    conditions = available_conditions(tenant)
    with tenant.session() as session:
        rules = effective_rules(tenant, session)
        playbooks = effective_playbooks(tenant, session)
    if only:
        unknown = [name for name in only if name not in rules]
        if unknown:
            raise NotFound(f"no rule {unknown[0]!r}", hint=f"rules: {', '.join(sorted(rules)) or 'none'}")
        chosen = [rules[name] for name in only]
    else:
        chosen = [rule for rule in rules.values() if rule.get("enabled", True)]
        _forget_inactive(tenant, [rule["name"] for rule in chosen])
    reports = []
    with shared_reads():
        for rule in chosen:
            reports.append(_run_rule(tenant, rule, conditions, settings, playbooks))
    return {"tenant": tenant.id, "rules": [dataclasses.asdict(r) for r in reports],
            "opened": sum(r.opened for r in reports), "failed": sum(1 for r in reports if r.status == "failed"),
            "seconds": round(time.perf_counter() - started, 3)}


def _run_rule(tenant: TenantContext, rule: Mapping[str, Any], conditions: Mapping[str, Any],
              settings: CockpitSettings, playbooks: Mapping[str, Mapping[str, Any]]) -> RuleReport:
    report = RuleReport(rule=rule["name"], condition=rule["condition"])
    began = time.perf_counter()
    try:
        condition = conditions.get(rule["condition"])
        if condition is None:
            raise TetherError(f"rule {rule['name']!r}: no enabled plugin offers condition {rule['condition']!r}",
                              hint="enable the plugin that provides it, or change the rule")
        try:
            found = condition.evaluate(tenant, params_for(condition, rule.get("params") or {}))
        except TetherError:
            raise
        except Exception as exc:  # a plugin's condition failed: this rule fails, the others run
            raise PluginHookError(plugin=condition.plugin or "unknown", hook="tether_cta_conditions",
                                  tenant=tenant.id, cause=exc) from exc
        apply_occurrences(tenant, rule | {"condition_label": condition.label}, occurrences_of(found), settings,
                          playbooks, report)
    except TetherError as exc:
        report.status, report.error = "failed", exc.one_line()
        log.error("tenant %s: cockpit rule %r failed: %s", tenant.id, rule["name"], report.error)
    except Exception as exc:  # the database refused (e.g. a concurrent duplicate): next run retries
        report.status, report.error = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        log.exception("tenant %s: cockpit rule %r failed", tenant.id, rule["name"])
    report.seconds = round(time.perf_counter() - began, 3)
    return report


def _forget_inactive(tenant: TenantContext, active: Sequence[str]) -> None:
    """Occurrences of rules deleted or disabled end: re-enabled, a rule starts afresh."""
    with tenant.transaction() as session:
        stmt = delete(RuleOccurrence).where(RuleOccurrence.tenant_id == tenant.id)
        if active:
            stmt = stmt.where(RuleOccurrence.rule_key.not_in(list(active)))
        session.execute(stmt.execution_options(synchronize_session=False))


def _rows_by_id(tenant_id: str, session: Session, table, columns, ids: Sequence[int]) -> dict[int, Any]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    base = select(table.c.id, *columns).where(table.c.tenant_id == tenant_id, table.c.is_deleted.is_(False))
    if len(wanted) > WHOLE_TABLE_ABOVE:
        # Many ids (a first run): read the table once per rules run, shared by every rule.
        every = shared(("rows", tenant_id, table.name), lambda: {row[0]: row for row in session.execute(base).all()})
        return {i: every[i] for i in wanted if i in every}
    found = {}
    for part in _chunks(wanted):
        found.update({row[0]: row for row in session.execute(base.where(table.c.id.in_(part))).all()})
    return found


def _render(template: str, **values: str) -> str:
    return template.format_map(values)[:255]


def apply_occurrences(tenant: TenantContext, rule: Mapping[str, Any], current: Mapping[str, Mapping[str, Any]],
                      settings: CockpitSettings, playbooks: Mapping[str, Mapping[str, Any]],
                      report: RuleReport) -> None:
    name = rule["name"]
    report.occurrences = len(current)
    now = utcnow()
    today = now.date()
    with tenant.transaction() as session:
        known = set(session.scalars(select(RuleOccurrence.occurrence_key).where(
            RuleOccurrence.tenant_id == tenant.id, RuleOccurrence.rule_key == name)).all())
        ended = [key for key in known if key not in current]
        for part in _chunks(ended):
            session.execute(delete(RuleOccurrence).where(
                RuleOccurrence.tenant_id == tenant.id, RuleOccurrence.rule_key == name,
                RuleOccurrence.occurrence_key.in_(part)).execution_options(synchronize_session=False))
        report.ended = len(ended)
        started = [key for key in current if key not in known]
        if not started:
            return
        open_keys = set(session.scalars(select(Cta.occurrence_key).where(
            Cta.tenant_id == tenant.id, Cta.rule_key == name, Cta.is_closed.is_(False))).all())
        companies = _rows_by_id(tenant.id, session, Company.__table__,
                                (Company.__table__.c.name, Company.__table__.c.csm),
                                [current[k]["company_id"] for k in started])
        relationships = _rows_by_id(tenant.id, session, Relationship.__table__,
                                    (Relationship.__table__.c.name, Relationship.__table__.c.csm,
                                     Relationship.__table__.c.company_id),
                                    [current[k]["relationship_id"] for k in started
                                     if current[k].get("relationship_id") is not None])
        cta = rule["cta"]
        playbook_name = cta.get("playbook") or default_for_type(playbooks, cta["type"])
        playbook = playbooks.get(playbook_name) if playbook_name else None
        due = today + dt.timedelta(days=cta["due_in_days"]) if cta.get("due_in_days") is not None else None
        label = rule.get("condition_label") or rule["condition"].replace("_", " ").capitalize()
        new_rows, new_keys, occurrence_rows = [], [], []
        for key in started:
            item = current[key]
            company = companies.get(item.get("company_id"))
            relationship = relationships.get(item.get("relationship_id")) if item.get("relationship_id") else None
            if company is None or (item.get("relationship_id") is not None and
                                   (relationship is None or relationship.company_id != company.id)):
                report.skipped += 1
                continue
            occurrence_rows.append({"tenant_id": tenant.id, "rule_key": name, "occurrence_key": key,
                                    "company_id": company.id, "cta_id": None, "first_seen_at": now})
            if key in open_keys:
                report.already_open += 1
                continue
            owner = _owner(cta["owner"], company.csm, relationship.csm if relationship is not None else None)
            new_keys.append(key)
            new_rows.append({
                "tenant_id": tenant.id, "company_id": company.id,
                "relationship_id": relationship.id if relationship is not None else None,
                "name": _render(cta["name"], company=company.name, condition=label,
                                relationship=relationship.name if relationship is not None else company.name),
                "type": cta["type"], "reason": str(item.get("reason") or ""), "priority": cta["priority"],
                "status": "open", "is_closed": False, "owner": owner, "due_date": due, "source": "rule",
                "rule_key": name, "occurrence_key": key, "playbook": playbook_name if playbook else None,
                "created_by": f"rule:{name}", "created_at": now, "updated_at": now,
                "_company_csm": company.csm, "_relationship_csm": relationship.csm if relationship is not None else None,
            })
        started_rows = {row["occurrence_key"]: row for row in occurrence_rows}
        if new_rows:
            by_key = insert_rule_ctas(session, tenant.id, name, new_rows)
            ids = [by_key[key] for key in new_keys]
            for key, cta_id in zip(new_keys, ids):
                started_rows[key]["cta_id"] = cta_id
            if playbook is not None:
                tasks = []
                for row, cta_id in zip(new_rows, ids):
                    for task in task_rows(playbook, owner=row["owner"], company_csm=row["_company_csm"],
                                          relationship_csm=row["_relationship_csm"], cta_due=row["due_date"],
                                          today=today):
                        tasks.append(task | {"tenant_id": tenant.id, "cta_id": cta_id, "created_at": now,
                                             "updated_at": now})
                insert_tasks(tenant, session, settings, tasks)
            links = [{"tenant_id": tenant.id, "cta_id": cta_id, "opportunity_id": int(opp)}
                     for key, cta_id in zip(new_keys, ids) for opp in current[key].get("opportunity_ids") or ()]
            insert_links(session, tenant.id, links)
        if occurrence_rows:
            insert_occurrences(session, occurrence_rows)
        report.started = len(occurrence_rows)
        report.opened = len(new_rows)


def _owner(spec: str, company_csm: str | None, relationship_csm: str | None) -> str | None:
    if spec == "csm":
        return relationship_csm or company_csm
    if spec == "company_csm":
        return company_csm
    return spec
