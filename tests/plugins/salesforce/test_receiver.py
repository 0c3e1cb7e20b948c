"""The Outbound Message endpoint: every refusal has its status and stores nothing; a valid
message is stored once, then ACKed; a store outage answers 503."""

import base64
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from tether.core import inbox as inbox_module
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.core.store import InboxMessage
from tether.plugins.salesforce import outbound_messages as om
from tether.webhooks import create_app

FIXTURES = Path(__file__).with_name("fixtures")
SECRET = "s3cret-webhook-token-0123456789"
URL = "/webhooks/acme/salesforce/outbound-message"
XML = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def salesforce_config(**overrides):
    config = {"instance_url": "https://acme.my.salesforce.com", "username": "int@acme.example",
              "password": {"$env": "ACME_SF_PASSWORD"}, "organization_id": "00D7F00000107Xs",
              "webhook_secret": {"$env": "ACME_OM_SECRET"}}
    config.update(overrides)
    return config


@pytest.fixture
def receiver(tether_store, plugin_host, make_tenant, monkeypatch, tmp_path):
    monkeypatch.setenv("ACME_OM_SECRET", SECRET)
    make_tenant("acme", plugins={"salesforce": salesforce_config()})
    make_tenant("globex", plugins={"timeline": {}})
    runtime = Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path)}), host=plugin_host, store=tether_store)
    stored = []
    runtime.inbox_listeners.append(lambda tenant, connector, ids: stored.append((tenant.id, connector, ids)))
    app = create_app(runtime)
    app.stored_notifications = stored
    return app


def inbox(store, tenant="acme"):
    with store.tenant_session(tenant) as session:
        return session.scalars(select(InboxMessage).order_by(InboxMessage.id)).all()


def post(app, body, *, url=URL + f"?token={SECRET}", headers=XML, **kwargs):
    return app.test_client().post(url, data=body, headers=headers, **kwargs)


def fixture(name):
    return (FIXTURES / name).read_bytes()


def assert_fault(response, status, text):
    assert response.status_code == status
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    body = response.get_data(as_text=True)
    assert "<soapenv:Fault>" in body and text in body, body
    assert not om.parse_ack_is_true(response.data)


def test_a_valid_message_is_stored_then_acknowledged_exactly(receiver, tether_store):
    response = post(receiver, fixture("om_opportunity_single.xml"))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.get_data(as_text=True) == om.ACK_BODY
    [row] = inbox(tether_store)
    assert (row.notification_id, row.object_name, row.record_external_id, row.status) == (
        "04l7F000008aeAyQAI", "Opportunity", "0067F000003pmdWQAQ", "pending")
    assert row.payload["fields"]["Amount"] == "120000.0"
    assert receiver.stored_notifications == [("acme", "salesforce", ["04l7F000008aeAyQAI"])]


def test_redeliveries_are_acknowledged_and_add_nothing(receiver, tether_store):
    for _ in range(3):
        assert post(receiver, fixture("om_opportunity_two_with_session.xml")).status_code == 200
    assert [r.notification_id for r in inbox(tether_store)] == ["04l7F000008aeB1QAI", "04l7F000008aeB2QAI"]
    assert len(receiver.stored_notifications) == 1  # only the first delivery had new rows


def test_session_ids_are_never_stored_or_logged(receiver, tether_store, caplog):
    caplog.set_level(logging.DEBUG)
    assert post(receiver, fixture("om_opportunity_two_with_session.xml")).status_code == 200
    assert "SECRETSESSION" not in caplog.text
    assert all("SECRETSESSION" not in str(row.payload) for row in inbox(tether_store))


def test_http_basic_carries_the_secret_too(receiver, tether_store):
    basic = base64.b64encode(f"salesforce:{SECRET}".encode()).decode()
    response = post(receiver, fixture("om_opportunity_single.xml"), url=URL, headers={**XML, "Authorization": f"Basic {basic}"})
    assert response.status_code == 200


@pytest.mark.parametrize("url,headers,status,text", [
    (URL, XML, 401, "no webhook secret presented"),
    (URL + "?token=wrong", XML, 401, "the webhook secret is wrong"),
    (URL + f"?token={SECRET}", {"Content-Type": "application/json"}, 415, "content type 'application/json' is not accepted"),
    ("/webhooks/nosuch/salesforce/outbound-message", XML, 404, "unknown tenant 'nosuch'"),
    ("/webhooks/globex/salesforce/outbound-message", XML, 404, "plugin 'salesforce' is not enabled for tenant 'globex'"),
])
def test_refusals_have_their_status_and_store_nothing(receiver, tether_store, url, headers, status, text):
    assert_fault(post(receiver, fixture("om_opportunity_single.xml"), url=url, headers=headers), status, text)
    assert inbox(tether_store) == []


def test_another_orgs_message_is_forbidden(receiver, tether_store):
    body = fixture("om_opportunity_single.xml").replace(b"00D7F00000107XsUAI", b"00D7F00000999XsUAI")
    assert_fault(post(receiver, body), 403, "OrganizationId 00D7F00000999XsUAI is not this tenant's org")
    assert inbox(tether_store) == []


@pytest.mark.parametrize("name", ["xxe.xml", "billion_laughs.xml", "dtd_only.xml"])
def test_unsafe_xml_is_a_client_fault(receiver, tether_store, name):
    assert_fault(post(receiver, fixture(name)), 400, "refused unsafe XML")
    assert inbox(tether_store) == []


def test_malformed_xml_and_unsynced_objects_are_client_faults(receiver, tether_store):
    assert_fault(post(receiver, b"<soapenv:Envelope"), 400, "malformed XML")
    contact = fixture("om_opportunity_single.xml").replace(b'xsi:type="sf:Opportunity"', b'xsi:type="sf:Contact"')
    assert_fault(post(receiver, contact), 400, "object 'Contact' is not synced by tether")
    assert inbox(tether_store) == []


def test_bodies_over_the_limit_are_refused_unread(receiver, tether_store):
    receiver.config["TETHER_WEBHOOK_MAX_BODY_BYTES"] = 512
    assert_fault(post(receiver, fixture("om_opportunity_two_with_session.xml")), 413, "over the 512-byte limit")
    assert inbox(tether_store) == []


def test_the_allow_list_checks_the_sender_behind_trusted_proxies(tether_store, plugin_host, make_tenant, monkeypatch, tmp_path):
    monkeypatch.setenv("ACME_OM_SECRET", SECRET)
    make_tenant("acme", plugins={"salesforce": salesforce_config(
        webhook_allowed_cidrs=["13.108.0.0/14", "2a01:111::/32"], webhook_trusted_proxies=1)})
    app = create_app(Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path)}), host=plugin_host, store=tether_store))
    body = fixture("om_opportunity_single.xml")
    outside = post(app, body, headers={**XML, "X-Forwarded-For": "203.0.113.9"})
    assert_fault(outside, 403, "sender address 203.0.113.9 is not in this tenant's allow-list")
    spoofed = post(app, body, headers={**XML, "X-Forwarded-For": "13.108.1.1, 203.0.113.9"})
    assert_fault(spoofed, 403, "203.0.113.9")  # only the hop our proxy saw counts
    inside = post(app, body, headers={**XML, "X-Forwarded-For": "13.108.1.1"})
    assert inside.status_code == 200


def test_a_store_outage_answers_503_and_the_retry_stores_once(receiver, tether_store, monkeypatch):
    driver_error = tether_store.engine.dialect.loaded_dbapi.OperationalError

    def fail_inbox_writes(connection, statement, parameters):  # what the driver raises when the disk fails
        raise driver_error("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(inbox_module, "_driver_execute", fail_inbox_writes)
        response = post(receiver, fixture("om_opportunity_single.xml"))
    assert_fault(response, 503, "retry later")
    assert "soapenv:Server" in response.get_data(as_text=True)
    assert inbox(tether_store) == []
    assert post(receiver, fixture("om_opportunity_single.xml")).status_code == 200
    assert len(inbox(tether_store)) == 1
