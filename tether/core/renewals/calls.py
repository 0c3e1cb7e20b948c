"""Reps' forecast calls: category, amount and comment on an open opportunity, with history.

The newest call is current and overrides the opportunity's forecast category in figures;
older calls stay as history. A call goes back to Salesforce through the outbox when the
tenant maps any of the ``forecast_call_*`` tether fields to a Salesforce field (e.g.
``{source: Renewal_Call__c, target: forecast_call_category, direction: outbound}``);
unmapped fields are not pushed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from ..errors import DomainError, InvalidFields, NotFound
from ..store.models import Opportunity
from ..store.types import utcnow
from ..sync.outbox import capture_local_change
from .models import ForecastCall
from .vocabulary import CATEGORIES, category_of

if TYPE_CHECKING:
    from ..plugins import TenantContext

CALL_FIELDS = ("forecast_call_category", "forecast_call_amount", "forecast_call_comment", "forecast_call_by",
               "forecast_call_at")
CALLABLE_CATEGORIES = tuple(c for c in CATEGORIES if c != "none")


def record_call(tenant: "TenantContext", opportunity_id: int, *, category: str, amount: Decimal | None,
                comment: str | None, by: str) -> dict[str, Any]:
    """Store a new current call (the previous one becomes history) and capture its write-back."""
    normalised = category_of(category)
    errors: dict[str, list[str]] = {}
    if normalised not in CALLABLE_CATEGORIES:
        errors["category"] = [f"{category!r} is not a forecast category; use one of {', '.join(CALLABLE_CATEGORIES)}"]
    if amount is not None and amount < 0:
        errors["amount"] = ["must not be negative"]
    if comment is not None and len(comment) > 2000:
        errors["comment"] = ["must be at most 2000 characters"]
    if errors:
        raise InvalidFields("forecast call refused", errors)
    with tenant.transaction() as session:
        opportunity = session.get(Opportunity, opportunity_id)
        if opportunity is None or opportunity.is_deleted:
            raise NotFound(f"no opportunity {opportunity_id} in tenant {tenant.id!r}")
        if opportunity.is_closed:
            raise DomainError(f"opportunity {opportunity_id} is closed; forecast calls are for open opportunities",
                              field="opportunity_id", hint="call open renewals only")
        session.execute(update(ForecastCall).where(ForecastCall.opportunity_id == opportunity_id,
                                                   ForecastCall.is_current.is_(True),
                                                   ForecastCall.tenant_id == tenant.id)
                        .values(is_current=False).execution_options(synchronize_session=False))
        call = ForecastCall(opportunity_id=opportunity_id, category=normalised, amount=amount, comment=comment,
                            called_by=by, called_at=utcnow(), is_current=True)
        session.add(call)
        session.flush()
        capture_local_change(tenant, session, entity="opportunity", local_id=opportunity_id, changes={
            "forecast_call_category": normalised, "forecast_call_amount": amount,
            "forecast_call_comment": comment, "forecast_call_by": by, "forecast_call_at": call.called_at,
        })
        return call_dict(call)


def call_history(tenant: "TenantContext", opportunity_id: int) -> list[dict[str, Any]]:
    """Every call on the opportunity, newest first."""
    with tenant.session() as session:
        if session.get(Opportunity, opportunity_id) is None:
            raise NotFound(f"no opportunity {opportunity_id} in tenant {tenant.id!r}")
        calls = session.scalars(select(ForecastCall).where(ForecastCall.opportunity_id == opportunity_id)
                                .order_by(ForecastCall.called_at.desc(), ForecastCall.id.desc()))
        return [call_dict(call) for call in calls]


def current_calls(session, opportunity_ids) -> dict[int, ForecastCall]:
    if not opportunity_ids:
        return {}
    found: dict[int, ForecastCall] = {}
    ids = list(opportunity_ids)
    for start in range(0, len(ids), 900):   # stay under SQLite's bound-parameter limit
        chunk = ids[start:start + 900]
        for call in session.scalars(select(ForecastCall).where(ForecastCall.opportunity_id.in_(chunk),
                                                               ForecastCall.is_current.is_(True))):
            found[call.opportunity_id] = call
    return found


def call_dict(call: ForecastCall) -> dict[str, Any]:
    return {"id": call.id, "opportunity_id": call.opportunity_id, "category": call.category, "amount": call.amount,
            "comment": call.comment, "called_by": call.called_by, "called_at": call.called_at,
            "is_current": call.is_current}
