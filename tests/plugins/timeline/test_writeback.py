"""Activities logged in tether are captured for Salesforce as Tasks, in the transaction that logs them."""

from sqlalchemy import select

from tests.core.domain.conftest import USERS, add_companies
from tether.core.store import OutboxEntry

from .conftest import at, client_for

SALESFORCE = {"instance_url": "https://acme.my.salesforce.com"}


def outbox(store, tenant_id="acme"):
    with store.tenant_session(tenant_id) as session:
        return [(e.connector, e.object_name, e.operation, e.local_id, e.changes)
                for e in session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))]


def test_logging_and_editing_an_activity_captures_a_task(make_tenant, tether_store, plugin_host, tmp_path):
    tenant = make_tenant("acme", plugins={"salesforce": SALESFORCE, "timeline": {}}, users=USERS)
    ids = add_companies(tenant, [{"name": "Acme"}])
    api = client_for(tether_store, plugin_host, "acme", "csm@acme.example", tmp_path)
    created = api.post("/activities", {"type": "Call", "subject": "Renewal check-in", "notes": "Budget approved.",
                                       "company_id": ids["Acme"], "occurred_at": at(0)}).get_json()
    api.patch(f"/activities/{created['id']}", {"notes": "Budget approved; legal review next."})
    assert outbox(tether_store) == [
        ("salesforce", "Task", "upsert", created["id"],
         {"type": "Call", "subject": "Renewal check-in", "notes": "Budget approved.",
          "occurred_at": "2026-03-02T09:00:00Z"}),
        ("salesforce", "Task", "upsert", created["id"], {"notes": "Budget approved; legal review next."}),
    ]
    # Never pushed yet: deleting it here has nothing to delete in Salesforce.
    assert api.delete(f"/activities/{created['id']}").status_code == 204
    assert len(outbox(tether_store)) == 2


def test_a_refused_activity_captures_nothing_and_write_back_can_be_off(make_tenant, tether_store, plugin_host,
                                                                        tmp_path):
    tenant = make_tenant("acme", plugins={"salesforce": SALESFORCE, "timeline": {"writeback": False}}, users=USERS)
    ids = add_companies(tenant, [{"name": "Acme"}])
    api = client_for(tether_store, plugin_host, "acme", "csm@acme.example", tmp_path)
    assert api.post("/activities", {"type": "Nope", "subject": "x", "company_id": ids["Acme"]}).status_code == 422
    assert api.post("/activities", {"type": "Call", "subject": "x", "company_id": ids["Acme"]}).status_code == 201
    assert outbox(tether_store) == []


def test_without_a_crm_plugin_nothing_is_captured(make_tenant, tether_store, plugin_host, tmp_path):
    tenant = make_tenant("acme", plugins={"timeline": {}}, users=USERS)
    ids = add_companies(tenant, [{"name": "Acme"}])
    api = client_for(tether_store, plugin_host, "acme", "csm@acme.example", tmp_path)
    assert api.post("/activities", {"type": "Call", "subject": "x", "company_id": ids["Acme"]}).status_code == 201
    assert outbox(tether_store) == []
