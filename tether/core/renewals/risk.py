"""Risk of open renewals: rule flags, the model's likelihood and factors, riskiest first."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..store.models import Opportunity
from .analytics import Selection
from .catalog import Sources, needed_joins
from .config import RenewalConfig, load_config, today_utc
from .features import RenewalRows, describe_value, entity_health, plugin_features
from .models import RiskScore
from .periods import month_start
from .risk_rules import ACTIVITY_FEATURE, RenewalFacts, evaluate, flags_dicts, inactive_rules
from .risk_model import expand_factors
from .scoring import active_version, factor_labels, latest_version
from .vocabulary import RENEWAL_BOOKINGS, category_of

if TYPE_CHECKING:
    from ..plugins import TenantContext

MAX_RENEWALS = 50_000


def model_status(session: Session) -> dict[str, Any]:
    active = active_version(session)
    latest = latest_version(session)
    if active is None:
        if latest is None:
            return {"status": "untrained", "version": None,
                    "message": "no risk model trained yet; risk shows rule flags only"}
        return {"status": latest.status, "version": None, "message": latest.message}
    status = {"status": "trained", "version": active.version, "trained_at": active.trained_at,
              "metrics": {k: active.metrics.get(k) for k in ("roc_auc", "pr_auc", "brier")},
              "message": active.message}
    if latest is not None and latest.version != active.version:
        status["latest_attempt"] = {"version": latest.version, "status": latest.status, "message": latest.message}
    return status


def _open_renewals(session: Session, tenant_id: str, selection: Selection, config: RenewalConfig,
                   today: dt.date, ids: Sequence[int] | None = None):
    sources = Sources()
    o = Opportunity
    call = sources.call
    statement = select(o, call.called_at, call.category, call.amount, RiskScore.likelihood, RiskScore.factors,
                       sources.company.name).select_from(o)
    statement = sources.join(statement, needed_joins(selection.filters, None) | {"company"}, with_call=True)
    statement = statement.outerjoin(RiskScore, and_(RiskScore.opportunity_id == o.id, RiskScore.tenant_id == tenant_id))
    where = [o.tenant_id == tenant_id, o.is_deleted == False, o.is_closed.is_(False),  # noqa: E712
             o.booking_type.in_(RENEWAL_BOOKINGS)]
    if ids is not None:
        where.append(o.id.in_(list(ids)))
    else:
        periods = selection.resolve(config, today)
        if periods:
            period_date = func.coalesce(o.due_date, o.close_date)
            where += [period_date >= month_start(min(p.first_month for p in periods)),
                      period_date < month_start(max(p.first_month + p.months for p in periods))]
        where += [item.condition(sources, effective=True) for item in selection.filters]
    return session.execute(statement.where(*where).order_by(o.id).limit(MAX_RENEWALS)).all()


def assess(tenant: "TenantContext", config: RenewalConfig, records, today: dt.date,
           labels: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, bool]]:
    """Flags, likelihood and factors of each (opportunity, call, score) record, and which
    plugin sources (health, activity) were there to judge by."""
    opportunities = [r[0] for r in records]
    rows = RenewalRows(ids=np.array([o.id for o in opportunities], dtype=np.int64),
                       company_ids=[o.company_id for o in opportunities],
                       relationship_ids=[o.relationship_id for o in opportunities],
                       won=np.zeros(len(opportunities)), core={})
    scores, colors, has_health = entity_health(tenant, rows)
    extra, _, _ = plugin_features(tenant, rows.ids)
    activity = extra.get(ACTIVITY_FEATURE)
    assessed = []
    for i, (opportunity, called_at, call_category, call_amount, likelihood, factors, company_name) in enumerate(records):
        facts = RenewalFacts(
            opportunity_id=opportunity.id, target=opportunity.target_amount, forecast=opportunity.forecast_amount,
            due_date=opportunity.due_date, close_date=opportunity.close_date, call_at=called_at,
            health_score=scores[i], health_color=colors[i], has_health_source=has_health,
            days_since_activity=None if activity is None or np.isnan(activity[i]) else float(activity[i]),
            has_activity_source=activity is not None, likelihood=likelihood)
        flags = evaluate(facts, config, today)
        assessed.append({
            "opportunity_id": opportunity.id, "name": opportunity.name, "company_id": opportunity.company_id,
            "company": company_name, "owner": opportunity.owner_name, "csm": opportunity.csm,
            "due_date": opportunity.due_date, "close_date": opportunity.close_date,
            "target_amount": opportunity.target_amount, "forecast_amount": opportunity.forecast_amount,
            "forecast_category": category_of(call_category or opportunity.forecast_category),
            "forecast_call": None if called_at is None else {"category": call_category, "amount": call_amount,
                                                             "called_at": called_at},
            "likelihood": likelihood, "factors": expand_factors(factors, labels, describe_value),
            "health": None if not has_health else {"score": scores[i], "color": colors[i]},
            "flags": flags_dicts(flags),
        })
    return assessed, {"has_health": has_health, "has_activity": activity is not None}


def _riskiness(item: dict[str, Any]) -> tuple:
    likelihood = item["likelihood"]
    target = item["target_amount"] or Decimal(0)
    return (likelihood if likelihood is not None else 2.0, -len(item["flags"]), -target, item["opportunity_id"])


def risk_list(tenant: "TenantContext", selection: Selection, *, limit: int = 50, today: dt.date | None = None,
              session: Session | None = None) -> dict[str, Any]:
    """Open renewals in the selected periods, riskiest first (lowest likelihood, most flags)."""
    if session is None:
        with tenant.session() as own:
            return risk_list(tenant, selection, limit=limit, today=today, session=own)
    today = today or today_utc()
    config = load_config(tenant, session)
    records = _open_renewals(session, tenant.id, selection, config, today)
    assessed, sources = assess(tenant, config, records, today, factor_labels(active_version(session)))
    assessed.sort(key=_riskiness)
    status = model_status(session)
    flagged = [item for item in assessed if item["flags"]]
    periods = selection.resolve(config, today) or []
    return {
        "tenant": tenant.id, "today": today.isoformat(), "basis": config.amount_basis, "currency": config.currency,
        "periods": [p.as_dict() for p in periods],
        "model": status,
        "inactive_rules": inactive_rules(has_health=sources["has_health"], has_activity=sources["has_activity"],
                                         has_model=status.get("version") is not None),
        "open_renewals": len(assessed),
        "flagged": len(flagged),
        "flagged_target": sum((item["target_amount"] or Decimal(0) for item in flagged), Decimal("0.00")),
        "items": assessed[:limit],
    }


def opportunity_risk(tenant: "TenantContext", opportunity_id: int, *, today: dt.date | None = None) -> dict[str, Any]:
    today = today or today_utc()
    with tenant.session() as session:
        config = load_config(tenant, session)
        records = _open_renewals(session, tenant.id, Selection(), config, today, ids=[opportunity_id])
        if not records:
            exists = session.get(Opportunity, opportunity_id)
            if exists is None or exists.is_deleted:
                raise NotFound(f"no opportunity {opportunity_id} in tenant {tenant.id!r}")
            return {"opportunity_id": opportunity_id, "open_renewal": False, "flags": [], "likelihood": None,
                    "factors": [], "model": model_status(session)}
        [item], sources = assess(tenant, config, records, today, factor_labels(active_version(session)))
        item["open_renewal"] = True
        item["model"] = model_status(session)
        item["inactive_rules"] = inactive_rules(has_health=sources["has_health"], has_activity=sources["has_activity"],
                                                has_model=item["model"].get("version") is not None)
        return item
