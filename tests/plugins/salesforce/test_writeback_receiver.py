"""The receiver under concurrency (shared commits, each ACK after its own), empty messages,
and the inbox and outbox jobs run by the job layer."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import func, select

from tether.core import inbox as inbox_module
from tether.core.jobs.base import JobRequest
from tether.core.jobs.runner import execute
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.core.store import InboxMessage
from tether.core.store.models import JobRun
from tether.plugins.salesforce import outbound_messages as om

from .fake_org_setup import fake_clock, fake_org, sf_tenant  # noqa: F401
from .om_setup import SECRET, om_app, om_config, wire_rule  # noqa: F401
from .writeback_setup import edit, local_ids, seed_opportunities, settle_and_sync

URL = f"/webhooks/acme/salesforce/outbound-message?token={SECRET}"
XML = {"Content-Type": "text/xml; charset=utf-8"}


def message(org_id: str, serials: range) -> bytes:
    notifications = "".join(
        f"<Notification><Id>04l0000000{n:05d}AAA</Id><sObject xsi:type=\"sf:Opportunity\" "
        f"xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Id>0060000000{n:05d}AAA</sf:Id>"
        f"<sf:Amount>{n}</sf:Amount><sf:SystemModstamp>2024-06-03T09:00:00.000Z</sf:SystemModstamp>"
        f"</sObject></Notification>" for n in serials)
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            f'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{org_id}</OrganizationId>'
            f"<ActionId>04k000000000001AAA</ActionId>{notifications}</notifications></soapenv:Body></soapenv:Envelope>"
            ).encode()


def stored(tenant) -> int:
    with tenant.session() as session:
        return session.scalar(select(func.count()).select_from(InboxMessage)) or 0


def test_concurrent_messages_are_each_acknowledged_once_stored_and_stored_once(fake_org, sf_tenant, om_app):
    tenant = sf_tenant(**om_config(fake_org))
    bodies = [message(fake_org.org_id, range(n * 10, n * 10 + 10)) for n in range(40)]
    answers: list[tuple[int, bytes]] = []

    def post(body: bytes) -> None:
        response = om_app.test_client().post(URL, data=body, headers=XML)
        answers.append((response.status_code, response.data))

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies + bodies]  # every message twice
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200] * 80
    assert all(om.parse_ack_is_true(body) for _, body in answers)
    assert stored(tenant) == 400  # each notification once


def test_a_failed_shared_commit_answers_503_to_every_message_in_it(fake_org, sf_tenant, om_app, monkeypatch):
    tenant = sf_tenant(**om_config(fake_org))
    driver_error = tenant.store.engine.dialect.loaded_dbapi.OperationalError

    def fail(connection, statement, parameters):  # what the driver raises when the disk fails
        raise driver_error("disk I/O error")

    answers = []
    threads = [threading.Thread(target=lambda n=n: answers.append(om_app.test_client().post(
        URL, data=message(fake_org.org_id, range(n * 10, n * 10 + 10)), headers=XML).status_code)) for n in range(8)]
    with monkeypatch.context() as patch:
        patch.setattr(inbox_module, "_driver_execute", fail)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert answers == [503] * 8 and stored(tenant) == 0
    assert om_app.test_client().post(URL, data=message(fake_org.org_id, range(10)), headers=XML).status_code == 200
    assert stored(tenant) == 10


def test_a_message_without_notifications_is_acknowledged_and_stores_nothing(fake_org, sf_tenant, om_app):
    tenant = sf_tenant(**om_config(fake_org))
    response = om_app.test_client().post(URL, data=message(fake_org.org_id, range(0)), headers=XML)
    assert response.status_code == 200 and om.parse_ack_is_true(response.data)
    assert stored(tenant) == 0


def test_the_inbox_and_outbox_jobs_run_the_write_back_and_record_their_runs(fake_org, sf_tenant, om_app,
                                                                            plugin_host, tether_store, tmp_path):
    tenant = sf_tenant(**om_config(fake_org))
    [sf_id] = seed_opportunities(fake_org, 1)
    settle_and_sync(fake_org, tenant)
    runtime = Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path)}), host=plugin_host, store=tether_store)
    edit(tenant, local_ids(tenant)[sf_id], amount=Decimal("321"))
    pushed = execute(runtime, JobRequest(tenant_id="acme", job="outbox"))
    assert pushed.status == "success" and fake_org.get(sf_id)["Amount"] == 321.0
    wire_rule(fake_org, om_app)
    fake_org.update("Opportunity", sf_id, {"StageName": "Closed Won"})
    fake_org.outbound.deliver_due()
    applied = execute(runtime, JobRequest(tenant_id="acme", job="inbox"))
    assert applied.status == "success"
    with tenant.session() as session:
        runs = {r.kind: r for r in session.scalars(select(JobRun).where(JobRun.kind.in_(("inbox", "outbox"))))}
    assert (runs["outbox"].status, runs["outbox"].records_applied, runs["outbox"].api_calls) == ("success", 1, 1)
    assert (runs["inbox"].status, runs["inbox"].records_read, runs["inbox"].records_applied) == ("success", 1, 1)


def test_the_streaming_reader_resolves_prefixes_in_scope_and_checks_every_field():
    import pytest

    head = ('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:i="http://www.w3.org/2001/'
            'XMLSchema-instance" xmlns:o="urn:sobject.enterprise.soap.sforce.com"><e:Body><notifications xmlns='
            '"http://soap.sforce.com/2005/09/outbound"><OrganizationId> 00D000000000001 </OrganizationId>'
            '<SessionId i:nil="true"/>')
    tail = "</notifications></e:Body></e:Envelope>"

    def notification(n, fields, sobject_ns=""):
        return (f'<Notification><Id>04l00000000000{n}</Id><sObject i:type="o:Account"{sobject_ns}>{fields}'
                f'</sObject></Notification>')

    parsed = om.parse((head + notification(1, '<o:Id>001A</o:Id><o:Name>Acme &amp; Co</o:Name>'
                                              '<o:Phone i:nil="true"/>') + tail).encode())
    assert parsed.organization_id == "00D000000000001" and not parsed.sent_session_id
    [only] = parsed.notifications
    assert (only.object_name, only.fields) == ("Account", {"Id": "001A", "Name": "Acme & Co"})
    # A prefix rebound on the sObject itself wins over the one above.
    with pytest.raises(om.MalformedMessage, match="not bound to"):
        om.parse((head + notification(1, "", ' xmlns:o="urn:other"') + tail).encode())
    with pytest.raises(om.MalformedMessage, match=r"Notification\[1\] field 'Name' has nested elements"):
        om.parse((head + notification(1, "<o:Id>1</o:Id>") + notification(2, "<o:Name><b>x</b></o:Name>")
                  + tail).encode())
    with pytest.raises(om.MalformedMessage, match="is not in namespace"):
        om.parse((head + notification(1, "<Name>x</Name>") + tail).encode())
