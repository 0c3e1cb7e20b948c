"""A hand-checked book of renewals, and helpers to insert opportunities (used by several test folders)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from tether.core.store.models import Company, Opportunity

D = dt.date
TODAY = D(2025, 2, 15)


def add_companies(tenant, *rows: dict[str, Any]) -> dict[str, int]:
    with tenant.transaction() as session:
        made = [Company(**row) for row in rows]
        session.add_all(made)
        session.flush()
        return {company.name: company.id for company in made}


def add_opportunities(tenant, *rows: dict[str, Any]) -> dict[str, int]:
    """Insert opportunities; money given as numbers is made Decimal."""
    with tenant.transaction() as session:
        made = []
        for row in rows:
            values = dict(row)
            for key in ("target_amount", "forecast_amount", "final_amount", "amount"):
                if values.get(key) is not None:
                    values[key] = Decimal(str(values[key]))
            made.append(Opportunity(**values))
        session.add_all(made)
        session.flush()
        return {opp.name: opp.id for opp in made}


def renewal(name: str, company: int | None, target, due: dt.date, *, status: str = "open", final=None,
            forecast=None, probability=None, category=None, owner=None, booking="renewal", **extra) -> dict[str, Any]:
    closed = status in ("won", "lost")
    return dict(name=name, company_id=company, booking_type=booking, target_amount=target, due_date=due,
                forecast_amount=forecast, final_amount=final, probability=probability, forecast_category=category,
                is_closed=closed, is_won=status == "won", owner_name=owner, **extra)


def build_book(tenant):
    """The Q1 2025 book the figures in test_forecast/test_metrics are computed from by hand.

    Q1 2025 renewals (due Jan-Mar 2025):
      R1 A target 100k won final 120k (closed)   R2 A target 50k won final 40k (closed)
      R3 B target 30k lost (omitted)              R4 B target 80k open forecast 90k p60 (commit)
      R5 A target 20k open no forecast p10 (pipeline)
      R6 B target 40k open forecast 30k p40 (best case)
    Standalone bookings in Q1: U1 upsell won 15k (no due date, closed in Feb),
      D1 downsell won 5k, D2 downsell open forecast 8k p50 (commit), NB new business 70k.
    Later: R7 A target 60k due May 2025, R8 B target 10k due Nov 2025, R9 target 99k due Jan 2026.
    A deleted renewal of 1M due in Q1 must count nowhere.
    """
    companies = add_companies(tenant, {"name": "Alpha", "segment": "Enterprise", "attributes": {"region": "EMEA"}},
                              {"name": "Beta", "segment": "SMB", "attributes": {"region": "AMER"}})
    a, b = companies["Alpha"], companies["Beta"]
    ids = add_opportunities(
        tenant,
        renewal("R1", a, 100_000, D(2025, 1, 15), status="won", final=120_000, forecast=120_000, probability=100,
                category="Closed", owner="ana", booking="renewal_upsell"),
        renewal("R2", a, 50_000, D(2025, 2, 1), status="won", final=40_000, forecast=40_000, probability=100,
                category="Closed", owner="ana", booking="renewal_downsell"),
        renewal("R3", b, 30_000, D(2025, 2, 20), status="lost", final=0, probability=0, category="Omitted",
                owner="bob", booking="churn"),
        renewal("R4", b, 80_000, D(2025, 3, 1), forecast=90_000, probability=60, category="Forecast", owner="bob"),
        renewal("R5", a, 20_000, D(2025, 3, 15), probability=10, category="Pipeline", owner="ana"),
        renewal("R6", b, 40_000, D(2025, 3, 31), forecast=30_000, probability=40, category="BestCase", owner="bob"),
        dict(name="U1", company_id=a, booking_type="upsell", final_amount=15_000, close_date=D(2025, 2, 10),
             is_closed=True, is_won=True, forecast_category="Closed", owner_name="ana"),
        renewal("D1", b, None, D(2025, 3, 10), status="won", final=5_000, category="Closed", owner="bob",
                booking="downsell"),
        renewal("D2", b, None, D(2025, 3, 20), forecast=8_000, probability=50, category="Commit", owner="bob",
                booking="downsell"),
        renewal("NB", b, None, D(2025, 1, 5), status="won", final=70_000, category="Closed", owner="bob",
                booking="new_business"),
        renewal("R7", a, 60_000, D(2025, 5, 1), forecast=60_000, probability=50, category="Commit", owner="ana"),
        renewal("R8", b, 10_000, D(2025, 11, 30), probability=20, category="Pipeline", owner="bob"),
        renewal("R9", a, 99_000, D(2026, 1, 1), probability=20, category="Pipeline", owner="ana"),
        renewal("GONE", a, 1_000_000, D(2025, 2, 2), forecast=1_000_000, category="Commit", owner="ana",
                is_deleted=True),
    )
    tenant.ids = ids
    tenant.companies = companies
    return tenant
