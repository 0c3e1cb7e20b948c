"""The Cockpit's built-in rule conditions, contributed through ``tether_cta_conditions``
like any plugin's.

Each is evaluated once per rules run over the whole tenant: the renewal conditions are
one SQL query over open renewals (with their current forecast call and risk score);
the health conditions make one ``tether_entity_health`` call with every company (or
relationship); ``no_activity`` one call of the ``days_since_last_activity`` health
measure (the Timeline plugin's). None of them looks at one company at a time.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator, Mapping, Sequence

from sqlalchemy import and_, func, or_, select

from tether.core.contracts import CtaCondition
from tether.core.plugins import TenantContext
from tether.core.renewals.config import load_config
from tether.core.renewals.models import ForecastCall, RiskScore
from tether.core.renewals.vocabulary import RENEWAL_BOOKINGS
from tether.core.store import Company, Opportunity, Relationship
from tether.core.store.types import utcnow

from .config import PLUGIN

ENTITIES = ("company", "relationship")
RISK_FLAGS = {
    "missing_forecast": "no forecast amount",
    "forecast_below_target": "forecast below target",
    "close_after_due": "expected to close after it is due",
    "stale_forecast": "no recent forecast call",
}
ACTIVITY_MEASURE = "days_since_last_activity"


# -- parameter checks -------------------------------------------------------------------


def _whole(params: Mapping[str, Any], name: str, low: int, high: int) -> list[str]:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return [f"{name}: a whole number from {low} to {high}"]
    return []


def _entity(params: Mapping[str, Any]) -> list[str]:
    return [] if params.get("entity") in ENTITIES else [f"entity: one of {', '.join(ENTITIES)}"]


def _checks(*parts: Callable[[Mapping[str, Any]], list[str]]) -> Callable[[Mapping[str, Any]], list[str]]:
    return lambda params: [message for part in parts for message in part(params)]


def _flags(params: Mapping[str, Any]) -> list[str]:
    flags = params.get("flags")
    if not isinstance(flags, list) or not flags or any(f not in RISK_FLAGS for f in flags):
        return [f"flags: a non-empty list of {', '.join(RISK_FLAGS)}"]
    return []


def _likelihood(params: Mapping[str, Any]) -> list[str]:
    value = params.get("below")
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        return ["below: a likelihood between 0 and 1 (0.5 is 50%), or null for the Renewal Center's threshold"]
    return []


def _labels(params: Mapping[str, Any]) -> list[str]:
    labels = params.get("labels")
    problems = []
    if not isinstance(labels, list) or any(not isinstance(x, str) or not x for x in labels):
        problems.append("labels: a list of scheme range labels, e.g. [\"Red\"]")
    below = params.get("below")
    if below is not None and (isinstance(below, bool) or not isinstance(below, (int, float)) or not 0 < below <= 100):
        problems.append("below: a score from 0 to 100, or null")
    return problems


# -- renewals ---------------------------------------------------------------------------


def _open_renewals(tenant: TenantContext, params: Mapping[str, Any], today: dt.date):
    """Open renewals due from ``overdue_days`` ago to ``within_days`` ahead, with their company."""
    o = Opportunity
    due = func.coalesce(o.due_date, o.close_date)
    where = [o.tenant_id == tenant.id, o.is_deleted.is_(False), o.is_closed.is_(False),
             o.booking_type.in_(RENEWAL_BOOKINGS), o.company_id.is_not(None),
             due <= today + dt.timedelta(days=params["within_days"]),
             due >= today - dt.timedelta(days=params["overdue_days"])]
    return o, due, where


def _occurrence(row: Any, reason: str) -> dict[str, Any]:
    due = row.due.isoformat() if row.due else "no due date"
    return {"company_id": row.company_id, "relationship_id": row.relationship_id, "key": f"opportunity:{row.id}",
            "reason": f"{row.name} (due {due}): {reason}", "opportunity_ids": [row.id]}


def _current_calls(tenant: TenantContext):
    return (select(ForecastCall.opportunity_id.label("opportunity_id"), func.max(ForecastCall.called_at).label("at"))
            .where(ForecastCall.tenant_id == tenant.id, ForecastCall.is_current.is_(True))
            .group_by(ForecastCall.opportunity_id).subquery())


def renewal_risk_flags(tenant: TenantContext, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    today = utcnow().date()
    with tenant.session() as session:
        config = load_config(tenant, session)
        o, due, where = _open_renewals(tenant, params, today)
        calls = _current_calls(tenant)
        tests = {
            "missing_forecast": o.forecast_amount.is_(None),
            "forecast_below_target": and_(o.forecast_amount.is_not(None), o.target_amount.is_not(None),
                                          o.forecast_amount < o.target_amount),
            "close_after_due": and_(o.close_date.is_not(None), o.due_date.is_not(None), o.close_date > o.due_date),
            "stale_forecast": and_(due <= today + dt.timedelta(days=config.forecast_horizon_days), or_(
                calls.c.at.is_(None),
                calls.c.at < dt.datetime.combine(today - dt.timedelta(days=config.stale_forecast_days),
                                                 dt.time(), tzinfo=dt.timezone.utc))),
        }
        chosen = {flag: tests[flag] for flag in params["flags"]}
        columns = [test.label(flag) for flag, test in chosen.items()]
        rows = session.execute(
            select(o.id, o.name, o.company_id, o.relationship_id, due.label("due"), *columns)
            .outerjoin(calls, calls.c.opportunity_id == o.id)
            .where(*where, or_(*chosen.values())).order_by(o.id)).all()
    found = []
    for row in rows:
        reasons = [RISK_FLAGS[flag] for flag in chosen if getattr(row, flag)]
        found.append(_occurrence(row, ", ".join(reasons)))
    return found


def renewal_low_likelihood(tenant: TenantContext, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    today = utcnow().date()
    with tenant.session() as session:
        below = params.get("below")
        if below is None:
            below = load_config(tenant, session).low_likelihood_below
        o, due, where = _open_renewals(tenant, params, today)
        rows = session.execute(
            select(o.id, o.name, o.company_id, o.relationship_id, due.label("due"), RiskScore.likelihood)
            .join(RiskScore, and_(RiskScore.opportunity_id == o.id, RiskScore.tenant_id == tenant.id))
            .where(*where, RiskScore.likelihood < below).order_by(o.id)).all()
    return [_occurrence(row, f"predicted likelihood to renew {row.likelihood:.0%} (below {below:.0%})")
            for row in rows]


def renewal_due_without_call(tenant: TenantContext, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    today = utcnow().date()
    window = {"within_days": params["days"], "overdue_days": 0}
    with tenant.session() as session:
        o, due, where = _open_renewals(tenant, window, today)
        calls = _current_calls(tenant)
        rows = session.execute(
            select(o.id, o.name, o.company_id, o.relationship_id, due.label("due"))
            .outerjoin(calls, calls.c.opportunity_id == o.id)
            .where(*where, calls.c.opportunity_id.is_(None)).order_by(o.id)).all()
    return [_occurrence(row, f"due within {params['days']} days and no forecast call yet") for row in rows]


# -- health and activity ------------------------------------------------------------------


_SHARED: ContextVar[dict[Any, Any] | None] = ContextVar("cockpit_shared_reads", default=None)


@contextmanager
def shared_reads() -> Iterator[None]:
    """Within one rules run, conditions share what they read (the live companies, their
    health): two health rules make one ``tether_entity_health`` call, not two."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def shared(key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    cache = _SHARED.get()
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def _table(entity: str):
    return Company.__table__ if entity == "company" else Relationship.__table__


def _live_entities(tenant: TenantContext, entity: str) -> list[tuple[int, int]]:
    """``(id, company id)`` of every live company or relationship."""

    def read() -> list[tuple[int, int]]:
        t = _table(entity)
        company = t.c.id if entity == "company" else t.c.company_id
        with tenant.session() as session:
            return [tuple(r) for r in session.execute(select(t.c.id, company).where(
                t.c.tenant_id == tenant.id, t.c.is_deleted.is_(False)).order_by(t.c.id)).all()]

    return shared(("live", tenant.id, entity), read)


def _added_before(tenant: TenantContext, entity: str, ids: Sequence[int], cutoff: dt.datetime) -> set[int]:
    """Which of ``ids`` were added at or before ``cutoff``."""
    t = _table(entity)
    base = select(t.c.id).where(t.c.tenant_id == tenant.id, t.c.created_at <= cutoff)
    with tenant.session() as session:
        if len(ids) > 20_000:
            wanted = set(ids)
            return {i for i in session.scalars(base).all() if i in wanted}
        found: set[int] = set()
        for start in range(0, len(ids), 900):
            found.update(session.scalars(base.where(t.c.id.in_(list(ids[start:start + 900])))).all())
        return found


def _about(entity: str, entity_id: int, company_id: int) -> dict[str, Any]:
    return {"company_id": company_id, "relationship_id": entity_id if entity == "relationship" else None,
            "key": f"{entity}:{entity_id}"}


def _health(tenant: TenantContext, entity: str) -> tuple[list[tuple[int, int]], Mapping[int, Mapping[str, Any]]]:
    live = _live_entities(tenant, entity)

    def read() -> Mapping[int, Mapping[str, Any]]:
        return (tenant.hooks.tether_entity_health(entity=entity, ids=[row[0] for row in live]) or {}) if live else {}

    return live, shared(("health", tenant.id, entity), read)


def health_red(tenant: TenantContext, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    entity = params["entity"]
    labels = {label.lower() for label in params["labels"]}
    below = params.get("below")
    live, health = _health(tenant, entity)
    found = []
    for entity_id, company_id in live:
        state = health.get(entity_id)
        if not state or state.get("score") is None:
            continue
        label = (state.get("label") or "").lower()
        if label in labels or (below is not None and state["score"] < below):
            shown = state.get("label") or "below the threshold"
            found.append(_about(entity, entity_id, company_id)
                         | {"reason": f"health is {shown} (score {state['score']:.0f})"})
    return found


def health_drop(tenant: TenantContext, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    entity, points = params["entity"], params["points"]
    live, health = _health(tenant, entity)
    found = []
    for entity_id, company_id in live:
        state = health.get(entity_id)
        if not state:
            continue
        score, previous = state.get("score"), state.get("previous_score")
        if score is not None and previous is not None and previous - score >= points:
            found.append(_about(entity, entity_id, company_id)
                         | {"reason": f"health fell {previous - score:.0f} points (from {previous:.0f} to {score:.0f})"})
    return found


def no_activity(tenant: TenantContext, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    entity, days = params["entity"], params["days"]
    measure = None
    for offered in tenant.hooks.tether_health_measures() or []:
        for candidate in offered or []:
            if candidate.key == ACTIVITY_MEASURE and entity in candidate.entity_kinds:
                measure = candidate
    if measure is None:
        return []  # no enabled plugin knows activity (the Timeline plugin does)
    live = _live_entities(tenant, entity)
    since = measure.compute(tenant, entity, [row[0] for row in live]) if live else {}
    never = [entity_id for entity_id, _ in live if entity_id not in since]
    old_enough = _added_before(tenant, entity, never, utcnow() - dt.timedelta(days=days)) if never else set()
    found = []
    for entity_id, company_id in live:
        idle = since.get(entity_id)
        if idle is None:
            if entity_id in old_enough:
                found.append(_about(entity, entity_id, company_id)
                             | {"reason": f"no activity logged in the {days} days since it was added"})
        elif idle > days:
            found.append(_about(entity, entity_id, company_id) | {"reason": f"no activity for {idle:.0f} days"})
    return found


def built_in_conditions() -> list[CtaCondition]:
    window = {"within_days": 180, "overdue_days": 90}
    window_checks = (lambda p: _whole(p, "within_days", 0, 3650), lambda p: _whole(p, "overdue_days", 0, 3650))
    return [
        CtaCondition(
            key="renewal_risk_flags", label="Renewal at risk", evaluate=renewal_risk_flags, plugin=PLUGIN,
            description="An open renewal has a Renewal Center risk flag (missing forecast, forecast below "
                        "target, closing after due, no recent forecast call); one CTA per renewal.",
            defaults={"flags": list(RISK_FLAGS), **window}, check=_checks(_flags, *window_checks)),
        CtaCondition(
            key="renewal_low_likelihood", label="Low likelihood to renew", evaluate=renewal_low_likelihood,
            plugin=PLUGIN, description="The risk model's likelihood to renew of an open renewal is below a "
                                       "threshold (the Renewal Center's when not given); one CTA per renewal.",
            defaults={"below": None, **window}, check=_checks(_likelihood, *window_checks)),
        CtaCondition(
            key="renewal_due_without_call", label="Renewal due without a forecast call",
            evaluate=renewal_due_without_call, plugin=PLUGIN,
            description="An open renewal is due within N days and nobody has made a forecast call on it.",
            defaults={"days": 60}, check=lambda p: _whole(p, "days", 1, 3650)),
        CtaCondition(
            key="health_red", label="Health turned red", evaluate=health_red, plugin=PLUGIN,
            description="A company's (or relationship's) health score is in a red range (by label) or below a "
                        "score; the occurrence lasts while it stays there.",
            defaults={"entity": "company", "labels": ["Red"], "below": None}, check=_checks(_entity, _labels)),
        CtaCondition(
            key="health_drop", label="Health dropped", evaluate=health_drop, plugin=PLUGIN,
            description="A health score fell by at least N points since the previous score.",
            defaults={"entity": "company", "points": 15},
            check=_checks(_entity, lambda p: _whole(p, "points", 1, 100))),
        CtaCondition(
            key="no_activity", label="No activity", evaluate=no_activity, plugin=PLUGIN,
            description="No activity on the timeline for N days (a company added N days ago with none at all "
                        "counts too); needs the Timeline plugin.",
            defaults={"entity": "company", "days": 30},
            check=_checks(_entity, lambda p: _whole(p, "days", 1, 3650))),
    ]


def available_conditions(tenant: TenantContext) -> dict[str, CtaCondition]:
    """Every condition the tenant's plugins offer, by key (the first offer of a key wins)."""
    found: dict[str, CtaCondition] = {}
    for offered in tenant.hooks.tether_cta_conditions() or []:
        for condition in offered or []:
            found.setdefault(condition.key, condition)
    return found


def condition_dict(condition: CtaCondition) -> dict[str, Any]:
    return {"key": condition.key, "label": condition.label, "description": condition.description,
            "plugin": condition.plugin, "defaults": dict(condition.defaults)}


def check_params(condition: CtaCondition, params: Mapping[str, Any]) -> list[str]:
    merged = {**condition.defaults, **params}
    unknown = sorted(set(params) - set(condition.defaults)) if condition.defaults else []
    problems = [f"{name}: not a parameter of {condition.key} ({', '.join(condition.defaults)})" for name in unknown]
    if condition.check is not None:
        problems += list(condition.check(merged))
    return problems


def params_for(condition: CtaCondition, params: Mapping[str, Any]) -> dict[str, Any]:
    return {**condition.defaults, **params}


def occurrences_of(found: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Occurrences by key (a condition naming a key twice keeps its first)."""
    by_key: dict[str, Mapping[str, Any]] = {}
    for item in found:
        by_key.setdefault(str(item["key"]), item)
    return by_key
