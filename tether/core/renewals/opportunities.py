"""Opportunities as renewals: read them with their call, score and update-needed flags; create
and edit them, each change captured for Salesforce in the same transaction.

Amounts are the tenant's basis (ARR or MRR) throughout. ``expected_forecast`` is forecast ×
probability; ``change_amount`` is forecast − target while open and final − target once
closed (Gainsight's Change Amount).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import and_, func, or_, select

from ..contracts import BOOKING_TYPES, ChangeSet
from ..errors import InvalidFields, NotFound
from ..store.models import Company, Opportunity, Relationship
from ..sync.outbox import capture_local_change
from .analytics import Selection
from .calls import call_dict, current_calls
from .catalog import Sources, needed_joins
from .config import RenewalConfig, load_config, today_utc
from .models import RiskScore
from .periods import month_start
from .risk_rules import update_needed
from .vocabulary import category_of, family_of, status_of

if TYPE_CHECKING:
    from ..plugins import TenantContext

EDITABLE = ("name", "company_id", "relationship_id", "stage", "amount", "currency", "close_date", "opportunity_type",
            "probability", "forecast_category", "owner_name", "csm", "booking_type", "target_amount",
            "forecast_amount", "final_amount", "due_date", "attributes")
MONEY_FIELDS = ("amount", "target_amount", "forecast_amount", "final_amount")
CENT = Decimal("0.01")


def opportunity_dict(opportunity: Opportunity, *, call=None, likelihood: float | None = None,
                     config: RenewalConfig, today: dt.date) -> dict[str, Any]:
    status = status_of(opportunity.is_closed, opportunity.is_won)
    forecast, target = opportunity.forecast_amount, opportunity.target_amount
    expected = None
    if forecast is not None and opportunity.probability is not None:
        expected = (forecast * Decimal(str(opportunity.probability)) / 100).quantize(CENT)
    compared = opportunity.final_amount if opportunity.is_closed else forecast
    change = (compared - target) if (compared is not None and target is not None) else None
    return {
        "id": opportunity.id, "name": opportunity.name, "external_id": opportunity.external_id,
        "external_source": opportunity.external_source, "company_id": opportunity.company_id,
        "relationship_id": opportunity.relationship_id, "booking_type": opportunity.booking_type,
        "family": family_of(opportunity.booking_type), "status": status, "stage": opportunity.stage,
        "amount": opportunity.amount, "currency": opportunity.currency, "target_amount": target,
        "forecast_amount": forecast, "final_amount": opportunity.final_amount, "expected_forecast": expected,
        "change_amount": change, "due_date": opportunity.due_date, "close_date": opportunity.close_date,
        "probability": opportunity.probability, "forecast_category": category_of(opportunity.forecast_category),
        "effective_forecast_category": category_of(call.category if call is not None else opportunity.forecast_category),
        "owner_name": opportunity.owner_name, "csm": opportunity.csm, "opportunity_type": opportunity.opportunity_type,
        "forecast_call": call_dict(call) if call is not None else None,
        "update_needed": update_needed(is_open=status == "open", forecast=forecast, close_date=opportunity.close_date,
                                       due_date=opportunity.due_date,
                                       call_at=call.called_at if call is not None else None,
                                       config=config, today=today),
        "likelihood": likelihood, "attributes": opportunity.attributes or {},
        "updated_at": opportunity.updated_at,
    }


def list_opportunities(tenant: "TenantContext", selection: Selection, *, status: str | None = None,
                       family: str | None = "renewal", limit: int = 50, cursor: list | None = None,
                       period_filter: bool = True, today: dt.date | None = None) -> dict[str, Any]:
    """Opportunities in the selected periods, by due date; ``cursor`` continues a page."""
    today = today or today_utc()
    with tenant.session() as session:
        config = load_config(tenant, session)
        sources = Sources()
        o = Opportunity
        statement = sources.join(select(o, RiskScore.likelihood).select_from(o), needed_joins(selection.filters, None),
                                 with_call=any(f.field.key == "forecast_category" for f in selection.filters))
        statement = statement.outerjoin(RiskScore, and_(RiskScore.opportunity_id == o.id, RiskScore.tenant_id == tenant.id))
        where = [o.tenant_id == tenant.id, o.is_deleted == False]  # noqa: E712
        period_date = func.coalesce(o.due_date, o.close_date)
        if period_filter:
            periods = selection.resolve(config, today)
            if periods:
                where += [period_date >= month_start(min(p.first_month for p in periods)),
                          period_date < month_start(max(p.first_month + p.months for p in periods))]
        if status == "open":
            where.append(o.is_closed.is_(False))
        elif status == "won":
            where += [o.is_closed.is_(True), o.is_won.is_(True)]
        elif status == "lost":
            where += [o.is_closed.is_(True), o.is_won.is_(False)]
        if family:
            from .catalog import family_condition

            where.append(family_condition(family))
        where += [item.condition(sources, effective=True) for item in selection.filters]
        ordering = func.coalesce(period_date, dt.date(9999, 12, 31))
        if cursor:
            after_date, after_id = dt.date.fromisoformat(cursor[0]), int(cursor[1])
            where.append(or_(ordering > after_date, and_(ordering == after_date, o.id > after_id)))
        rows = session.execute(statement.where(*where).order_by(ordering, o.id).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        calls = current_calls(session, [row[0].id for row in rows])
        items = [opportunity_dict(row[0], call=calls.get(row[0].id), likelihood=row[1], config=config, today=today)
                 for row in rows]
        next_cursor = None
        if more and rows:
            last = rows[-1][0]
            next_cursor = [(last.due_date or last.close_date or dt.date(9999, 12, 31)).isoformat(), last.id]
        return {"items": items, "next_cursor": next_cursor}


def get_opportunity(tenant: "TenantContext", opportunity_id: int, *, today: dt.date | None = None) -> dict[str, Any]:
    today = today or today_utc()
    with tenant.session() as session:
        opportunity = session.get(Opportunity, opportunity_id)
        if opportunity is None or opportunity.is_deleted:
            raise NotFound(f"no opportunity {opportunity_id} in tenant {tenant.id!r}")
        config = load_config(tenant, session)
        call = current_calls(session, [opportunity_id]).get(opportunity_id)
        likelihood = session.scalar(select(RiskScore.likelihood).where(RiskScore.opportunity_id == opportunity_id))
        return opportunity_dict(opportunity, call=call, likelihood=likelihood, config=config, today=today)


def _check(session, values: Mapping[str, Any], current: Opportunity | None) -> None:
    errors: dict[str, list[str]] = {}
    for key in values:
        if key not in EDITABLE:
            errors.setdefault(key, []).append("is not an editable opportunity field")
    for key in MONEY_FIELDS:
        value = values.get(key)
        if value is not None and value < 0:
            errors.setdefault(key, []).append("must not be negative (downsell amounts are the value removed)")
    probability = values.get("probability")
    if probability is not None and not 0 <= probability <= 100:
        errors.setdefault("probability", []).append("must be between 0 and 100")
    booking = values.get("booking_type")
    if booking is not None and booking not in BOOKING_TYPES:
        errors.setdefault("booking_type", []).append(f"use one of {', '.join(BOOKING_TYPES)}")
    if "name" in values and not (values["name"] or "").strip():
        errors.setdefault("name", []).append("must not be empty")
    company_id = values.get("company_id", current.company_id if current else None)
    if values.get("company_id") is not None and session.get(Company, values["company_id"]) is None:
        errors.setdefault("company_id", []).append(f"no company {values['company_id']} in this tenant")
    relationship_id = values.get("relationship_id")
    if relationship_id is not None:
        relationship = session.get(Relationship, relationship_id)
        if relationship is None:
            errors.setdefault("relationship_id", []).append(f"no relationship {relationship_id} in this tenant")
        elif company_id is not None and relationship.company_id != company_id:
            errors.setdefault("relationship_id", []).append(
                f"relationship {relationship_id} belongs to company {relationship.company_id}, not {company_id}")
    if errors:
        raise InvalidFields("opportunity refused", errors, hint="fix the listed fields; nothing was changed")


def _account_change(session, values: Mapping[str, Any]) -> dict[str, Any]:
    """Tie a company change to the Salesforce Account it mirrors, for the pusher."""
    if values.get("company_id") is None:
        return {}
    company = session.get(Company, values["company_id"])
    return {"account_external_id": company.external_id} if company is not None and company.external_id else {}


def create_opportunity(tenant: "TenantContext", values: Mapping[str, Any], *, by: str,
                       today: dt.date | None = None) -> dict[str, Any]:
    """Create an open opportunity and queue it for Salesforce."""
    values = {k: v for k, v in values.items() if v is not None}
    with tenant.transaction() as session:
        _check(session, values, None)
        opportunity = Opportunity(**values, is_closed=False, is_won=False)
        opportunity.account_external_id = _account_change(session, values).get("account_external_id")
        session.add(opportunity)
        session.flush()
        capture_local_change(tenant, session, entity="opportunity", local_id=opportunity.id,
                             changes={**values, **_account_change(session, values)})
        new_id = opportunity.id
    tenant.hooks.tether_records_changed(changes=ChangeSet(entity="opportunity", created=[new_id], origin="local"))
    return get_opportunity(tenant, new_id, today=today)


def update_opportunity(tenant: "TenantContext", opportunity_id: int, changes: Mapping[str, Any], *, by: str,
                       today: dt.date | None = None) -> dict[str, Any]:
    """Apply the fields that differ; capture exactly those for Salesforce."""
    with tenant.transaction() as session:
        opportunity = session.get(Opportunity, opportunity_id)
        if opportunity is None or opportunity.is_deleted:
            raise NotFound(f"no opportunity {opportunity_id} in tenant {tenant.id!r}")
        _check(session, changes, opportunity)
        changed = {key: value for key, value in changes.items() if getattr(opportunity, key) != value}
        for key, value in changed.items():
            setattr(opportunity, key, value)
        if "company_id" in changed:
            opportunity.account_external_id = _account_change(session, changed).get("account_external_id")
        if changed:
            capture_local_change(tenant, session, entity="opportunity", local_id=opportunity_id,
                                 changes={**changed, **_account_change(session, changed)})
    if changed:
        tenant.hooks.tether_records_changed(changes=ChangeSet(entity="opportunity", updated=[opportunity_id],
                                                              origin="local"))
    return get_opportunity(tenant, opportunity_id, today=today)
