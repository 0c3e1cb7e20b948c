"""Shared pieces of the write-back tests: a synced book of opportunities and local edits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from tether.core.store.models import Opportunity, OutboxEntry
from tether.core.sync.engine import sync_tenant
from tether.core.sync.outbox import capture_local_change
from tether.core.sync.push import PushOptions
from tether.core.sync.retry import Backoff

from .fake_org_setup import LOOKBACK, fast_options

SETTLE = dt.timedelta(seconds=LOOKBACK + 120)
TETHER_KEY = "Tether_Id__c"


def add_key_field(org) -> None:
    """The External ID field tether upserts the records it creates by."""
    org.add_custom_field("Opportunity", TETHER_KEY, "string", length=80, external_id=True, unique=True)


def key_mapping() -> list[dict[str, Any]]:
    return [{"connector": "salesforce", "object": "Opportunity", "entity": "opportunity",
             "external_id_field": TETHER_KEY}]


def push_options(**kwargs: Any) -> PushOptions:
    waits: list[float] = []
    return PushOptions(call_backoff=Backoff(max_attempts=3, sleep=waits.append), **kwargs)


def seed_opportunities(org, count: int, *, account: str | None = None) -> list[str]:
    account = account or org.insert("Account", {"Name": "Globex"})
    return [org.insert("Opportunity", {"Name": f"Renewal {n}", "AccountId": account, "StageName": "Prospecting",
                                       "CloseDate": "2025-03-31", "Amount": 1000 + n, "Type": "Renewal"})
            for n in range(count)]


def settle_and_sync(org, tenant) -> list:
    org.clock.advance(SETTLE.total_seconds())
    results = sync_tenant(tenant, options=fast_options())
    assert all(r.status == "success" for r in results), [(r.object_name, r.error) for r in results]
    return results


def local_ids(tenant) -> dict[str, int]:
    with tenant.session() as session:
        return dict(session.execute(select(Opportunity.external_id, Opportunity.id)).all())


def edit(tenant, local_id: int, **changes: Any) -> None:
    """A local edit as the API and the Renewal Center make it: change the row, capture it."""
    with tenant.transaction() as session:
        row = session.get(Opportunity, local_id)
        for name, value in changes.items():
            setattr(row, name, value)
        capture_local_change(tenant, session, entity="opportunity", local_id=local_id, changes=changes)


def opportunity(tenant, local_id: int) -> Opportunity:
    with tenant.session() as session:
        return session.get(Opportunity, local_id)


def outbox(tenant, status: str | None = None) -> list[OutboxEntry]:
    with tenant.session() as session:
        query = select(OutboxEntry).order_by(OutboxEntry.id)
        if status:
            query = query.where(OutboxEntry.status == status)
        return list(session.scalars(query))


def outbox_count(tenant) -> int:
    with tenant.session() as session:
        return session.scalar(select(func.count()).select_from(OutboxEntry)) or 0
