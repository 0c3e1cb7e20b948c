"""The test kit's fixtures, as a plugin author uses them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tether.core.api.tokens import issue_token
from tether.core.store.models import SyncCursor
from tether.core.sync.cursors import save_cursor

UTC = dt.timezone.utc


def test_tether_clock_is_what_tether_reads_as_now(tether_clock, make_tenant):
    tenant = make_tenant("acme")
    tether_clock.set("2030-01-01T08:00:00Z")
    tether_clock.advance(minutes=90)
    with tenant.transaction() as session:
        save_cursor(session, "memo", "Item", value="c1")
    with tenant.session() as session:
        stored = session.scalar(select(SyncCursor.updated_at).where(SyncCursor.object_name == "Item"))
    assert stored == dt.datetime(2030, 1, 1, 9, 30, tzinfo=UTC)


def test_tether_clock_refuses_naive_times_and_going_back(tether_clock):
    with pytest.raises(ValueError, match="aware"):
        tether_clock.set(dt.datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="does not go back"):
        tether_clock.advance(-1)


def test_webhook_client_serves_the_whole_app_for_the_test_store(webhook_client, make_tenant, tether_store):
    make_tenant("acme", users=[{"username": "ana", "role": "user"}])
    assert webhook_client.get("/healthz").json == {"status": "alive"}
    token = issue_token(tether_store, "acme", "ana")
    answer = webhook_client.get("/api/v1/tenants/acme/companies", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert webhook_client.get("/api/v1/tenants/acme/companies").status_code == 401
