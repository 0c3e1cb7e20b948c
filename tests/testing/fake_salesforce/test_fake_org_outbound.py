"""Outbound Messages: rules, SOAP shape, ACK strictness, retries, duplicates, ordering, the log."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from xml.etree import ElementTree

import pytest
from flask import Flask, Response, request
from werkzeug.serving import make_server

from tether.testing.fake_salesforce import ACK_BODY, CallableTransport, WsgiTransport
from tether.testing.fake_salesforce.outbound_soap import OUTBOUND_NS, SOAP_ENV_NS, XSI_NS, is_ack


SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "reference" / "salesforce-outbound-samples"
FIELDS = ["Name", "AccountId", "Amount", "CloseDate", "StageName", "Probability", "IsWon", "LeadSource",
          "SystemModstamp", "Description"]


class Receiver:
    """Collects deliveries and answers with a configurable (status, body)."""

    def __init__(self, status: int = 200, body: str = ACK_BODY) -> None:
        self.status, self.body = status, body
        self.requests: list[tuple[dict[str, str], bytes]] = []

    def __call__(self, url, body, headers):
        self.requests.append((dict(headers), body))
        return self.status, self.body.encode()

    def records(self, index: int = -1) -> list[dict[str, str]]:
        return [_fields(n) for n in _notifications(self.requests[index][1])]


def _notifications(body: bytes) -> list[ElementTree.Element]:
    root = ElementTree.fromstring(body)
    return root.findall(f"./{{{SOAP_ENV_NS}}}Body/{{{OUTBOUND_NS}}}notifications/{{{OUTBOUND_NS}}}Notification")


def _fields(notification: ElementTree.Element) -> dict[str, str]:
    sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
    return {child.tag.split("}")[1]: child.text for child in sobject}


@pytest.fixture
def receiver(fake_org):
    sink = Receiver()
    fake_org.outbound.transport = CallableTransport(sink)
    return sink


def _opportunity(org, **values):
    return org.insert("Opportunity", {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2024-07-01", **values})


def test_message_shape_and_headers(fake_org, receiver):
    rule = fake_org.add_outbound_rule("opp", "Opportunity", FIELDS, "https://receiver.test/om")
    account = fake_org.insert("Account", {"Name": "Acme"})
    record = _opportunity(fake_org, AccountId=account, Amount=120000, LeadSource="Phone Inquiry")
    [attempt] = fake_org.outbound.deliver_due()
    assert attempt.acked and attempt.record_ids == [record]
    headers, body = receiver.requests[0]
    assert headers == {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    text = body.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
                           'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                           'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
                           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
                           '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">')
    org15 = fake_org.org_id[:15]
    assert (f"<OrganizationId>{fake_org.org_id}</OrganizationId><ActionId>{rule.action_id}</ActionId>"
            '<SessionId xsi:nil="true"/>'
            f"<EnterpriseUrl>https://tether-fake.my.salesforce.com/services/Soap/c/59.0/{org15}</EnterpriseUrl>"
            f"<PartnerUrl>https://tether-fake.my.salesforce.com/services/Soap/u/59.0/{org15}</PartnerUrl>") in text
    assert '<sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">' in text
    [fields] = receiver.records()
    assert list(fields) == ["Id", "AccountId", "Amount", "CloseDate", "IsWon", "LeadSource", "Name", "Probability",
                            "StageName", "SystemModstamp"]  # Id first, then by name; null Description omitted
    assert fields == {"Id": record, "AccountId": account, "Amount": "120000.0", "CloseDate": "2024-07-01",
                      "IsWon": "false", "LeadSource": "Phone Inquiry", "Name": "Deal", "Probability": "10.0",
                      "StageName": "Prospecting", "SystemModstamp": "2024-06-03T09:00:00.000Z"}
    assert re.fullmatch(r"04l\w{15}", _notifications(body)[0].find(f"{{{OUTBOUND_NS}}}Id").text)


def test_session_id_when_the_rule_sends_it_is_usable(fake_org, receiver):
    fake_org.add_outbound_rule("opp", "Opportunity", ["Name"], "https://receiver.test/om", include_session_id=True)
    _opportunity(fake_org)
    fake_org.outbound.deliver_due()
    session = ElementTree.fromstring(receiver.requests[0][1]).find(f".//{{{OUTBOUND_NS}}}SessionId").text
    assert session.startswith(fake_org.org_id[:15] + "!")
    assert fake_org.auth.validate(session).user_id == fake_org.admin_user_id


def test_only_the_documented_ack_counts(fake_org):
    answers = iter([(200, b"OK"), (500, _fault()), (200, ACK_BODY.replace("true", "false").encode()),
                    (200, ACK_BODY.replace(OUTBOUND_NS, "urn:other").encode()), (204, b""),
                    (200, ACK_BODY.encode())])
    fake_org.outbound.transport = CallableTransport(lambda url, body, headers: next(answers))
    fake_org.add_outbound_rule("opp", "Opportunity", ["Name"], "https://receiver.test/om")
    _opportunity(fake_org)
    outcomes = []
    for _ in range(6):
        outcomes += [(a.status, a.acked) for a in fake_org.outbound.deliver_due()]
        fake_org.clock.advance(hours=2)
    assert outcomes == [(200, False), (500, False), (200, False), (200, False), (204, False), (200, True)]
    assert fake_org.outbound.log[0].error == "HTTP 200: not an acknowledgement"


def _fault() -> bytes:
    return (b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
            b"<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>no</faultstring></soapenv:Fault>"
            b"</soapenv:Body></soapenv:Envelope>")


def test_retries_back_off_exponentially_on_the_org_clock_and_drop_after_a_day(fake_org):
    sink = Receiver(status=503, body="down")
    fake_org.outbound.transport = CallableTransport(sink)
    fake_org.add_outbound_rule("opp", "Opportunity", ["Name"], "https://receiver.test/om")
    _opportunity(fake_org)
    start = fake_org.clock.now_ms()
    attempts_at = []
    while fake_org.outbound.pending():
        fake_org.outbound.deliver_due()
        attempts_at.append((fake_org.clock.now_ms() - start) // 1000)
        next_retry = fake_org.outbound.next_retry_ms()
        if next_retry is None:
            break
        assert not fake_org.outbound.deliver_due()  # nothing is due before the backoff elapses
        fake_org.clock.advance(ms=next_retry - fake_org.clock.now_ms())
    gaps = [b - a for a, b in zip(attempts_at, attempts_at[1:])]
    assert gaps[:7] == [2, 4, 8, 16, 32, 64, 128]
    assert max(gaps) == 7200  # capped at two hours
    assert fake_org.outbound.log[-1].dropped and fake_org.outbound.log[-1].error == "older than 24 hours"
    assert len(sink.requests) == len(attempts_at) - 1


def test_latest_state_is_sent_and_changes_by_the_integration_user_are_skipped(fake_org, receiver):
    fake_org.add_outbound_rule("opp", "Opportunity", ["Name", "Amount"], "https://receiver.test/om",
                               integration_user_id=fake_org.integration_user_id)
    record = _opportunity(fake_org, Amount=1)
    fake_org.update("Opportunity", record, {"Amount": 2})
    fake_org.update("Opportunity", record, {"Amount": 3}, as_user=fake_org.integration_user_id)
    assert len(fake_org.outbound.pending()) == 2
    fake_org.outbound.deliver_due()
    assert [f["Amount"] for f in receiver.records()] == ["3.0", "3.0"]


def test_criteria_and_trigger_modes(fake_org, receiver):
    fake_org.add_outbound_rule("big", "Opportunity", ["Name"], "https://receiver.test/big", criteria="Amount > 1000")
    fake_org.add_outbound_rule("won", "Opportunity", ["Name"], "https://receiver.test/won",
                               criteria="StageName = 'Closed Won'", trigger="created_or_edited_to_meet")
    fake_org.add_outbound_rule("new", "Opportunity", ["Name"], "https://receiver.test/new", trigger="created")
    record = _opportunity(fake_org, Amount=10)
    fake_org.update("Opportunity", record, {"Amount": 5000})
    fake_org.update("Opportunity", record, {"StageName": "Closed Won"})
    fake_org.update("Opportunity", record, {"Name": "Still won"})
    queued = [(n.rule.name, n.record_id) for n in fake_org.outbound.pending()]
    assert [name for name, _ in queued] == ["new", "big", "big", "won", "big"]


def test_at_most_100_notifications_per_message(fake_org, receiver):
    fake_org.add_outbound_rule("opp", "Opportunity", ["Name"], "https://receiver.test/om")
    for index in range(150):
        _opportunity(fake_org, Name=f"Deal {index}")
    attempts = fake_org.outbound.deliver_due()
    assert [len(a.notification_ids) for a in attempts] == [100, 50]
    assert all(a.acked for a in attempts) and not fake_org.outbound.pending()


def test_duplicate_and_out_of_order_modes(fake_org, receiver):
    fake_org.add_outbound_rule("opp", "Opportunity", ["Name"], "https://receiver.test/om", max_notifications=1)
    names = [f"Deal {index}" for index in range(8)]
    for name in names:
        _opportunity(fake_org, Name=name)
    fake_org.outbound.out_of_order = True
    fake_org.outbound.duplicate_rate = 1.0
    attempts = fake_org.outbound.deliver_due()
    assert len(attempts) == 16 and [a.duplicate for a in attempts] == [False, True] * 8
    assert all(a.notification_ids == b.notification_ids for a, b in zip(attempts[::2], attempts[1::2]))
    delivered = [receiver.records(i)[0]["Name"] for i in range(0, 16, 2)]
    assert sorted(delivered) == sorted(names) and delivered != names


def test_deleted_record_notification_carries_only_the_id(fake_org, receiver):
    fake_org.add_outbound_rule("opp", "Opportunity", ["Name", "Amount"], "https://receiver.test/om")
    record = _opportunity(fake_org, Amount=5)
    fake_org.delete(record)
    fake_org.outbound.deliver_due()
    assert receiver.records() == [{"Id": record}]


def test_delivery_into_a_flask_receiver_in_process(fake_org):
    app = Flask("receiver")
    seen = []

    @app.post("/om")
    def om():
        seen.append((request.headers["SOAPAction"], request.content_type, len(_notifications(request.data))))
        return Response(ACK_BODY, content_type="text/xml; charset=utf-8")

    fake_org.outbound.transport = WsgiTransport(app)
    fake_org.add_outbound_rule("opp", "Opportunity", ["Name"], "https://receiver.test/om")
    _opportunity(fake_org)
    assert fake_org.outbound.deliver_due()[0].acked
    assert seen == [('""', "text/xml; charset=utf-8", 1)]


def test_delivery_over_real_http_from_the_https_server(fake_org_server):
    received = []

    def app(environ, start_response):
        received.append((environ["CONTENT_TYPE"], environ["HTTP_SOAPACTION"],
                         environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))))
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [ACK_BODY.encode()]

    receiver = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        org = fake_org_server.org
        org.add_outbound_rule("opp", "Opportunity", ["Name", "StageName"],
                              f"http://127.0.0.1:{receiver.server_port}/salesforce/om")
        sf = fake_org_server.client()
        record = sf.Opportunity.create({"Name": "Over the wire", "StageName": "Prospecting",
                                        "CloseDate": "2024-07-01"})["id"]
        [attempt] = org.outbound.deliver_due()
    finally:
        receiver.shutdown()
        thread.join(timeout=5)
    assert attempt.acked and attempt.status == 200
    content_type, soap_action, body = received[0]
    assert (content_type, soap_action) == ("text/xml; charset=utf-8", '""')
    assert [_fields(n) for n in _notifications(body)] == [{"Id": record, "Name": "Over the wire",
                                                            "StageName": "Prospecting"}]
    assert f"https://127.0.0.1:{fake_org_server.port}/services/Soap/c/59.0/" in body.decode()


# ----------------------------------------------------------------------------- real samples

def _structure(body: bytes) -> dict:
    """What a receiver relies on: element paths, namespaces, sObject typing, value formats."""
    root = ElementTree.fromstring(body)
    notifications = root.find(f"{{{SOAP_ENV_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    header = [child.tag for child in notifications if child.tag != f"{{{OUTBOUND_NS}}}Notification"]
    items = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    shapes = []
    for item in items:
        sobject = item.find(f"{{{OUTBOUND_NS}}}sObject")
        shapes.append({
            "children": [child.tag for child in item],
            "xsi_type_prefix": sobject.get(f"{{{XSI_NS}}}type").split(":")[0],
            "field_namespaces": {child.tag.split("}")[0][1:] for child in sobject},
            "first_field": sobject[0].tag.split("}")[1],
            "null_markers": [c for c in sobject if c.get(f"{{{XSI_NS}}}nil")],
        })
    return {"root": root.tag, "header": header, "notifications": shapes,
            "session_nil": notifications.find(f"{{{OUTBOUND_NS}}}SessionId").get(f"{{{XSI_NS}}}nil")}


_VALUE_FORMATS = {
    "Amount": r"\d+\.\d+", "Probability": r"\d+\.\d+", "CloseDate": r"\d{4}-\d{2}-\d{2}",
    "SystemModstamp": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z",
    "CreatedDate": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", "IsWon": r"true|false", "IsClosed": r"true|false",
    "FiscalQuarter": r"\d", "FiscalYear": r"\d{4}", "Id": r"\w{15}(\w{3})?", "AccountId": r"\w{15}(\w{3})?",
}


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/reference samples are not part of a plain clone")
@pytest.mark.parametrize("sample", ["01_opportunity_ap5_v47_minimal.xml", "03_opportunity_sandbox_fullstandardfields.xml"])
def test_generated_message_parses_like_the_real_samples(fake_org, receiver, sample):
    real = (SAMPLES / sample).read_bytes()
    real_fields = [_fields(n) for n in _notifications(real)][0]
    fields = [f for f in real_fields if f != "Id" and fake_org.schema.get("Opportunity").field(f)]
    fake_org.add_outbound_rule("opp", "Opportunity", fields, "https://receiver.test/om")
    account = fake_org.insert("Account", {"Name": "Acme"})
    _opportunity(fake_org, AccountId=account, Amount=45000, LeadSource="Web")
    fake_org.outbound.deliver_due()
    ours = receiver.requests[0][1]
    assert _structure(ours) == _structure(real) | {"session_nil": "true"}
    generated = _fields(_notifications(ours)[0])
    for name, pattern in _VALUE_FORMATS.items():
        if name in generated and name in real_fields:
            assert re.fullmatch(pattern, real_fields[name]), (sample, name)
            assert re.fullmatch(pattern, generated[name]), name
    real_urls = {tag: ElementTree.fromstring(real).find(f".//{{{OUTBOUND_NS}}}{tag}").text
                 for tag in ("EnterpriseUrl", "PartnerUrl")}
    for tag, url in real_urls.items():
        if url != "...":
            ours_url = ElementTree.fromstring(ours).find(f".//{{{OUTBOUND_NS}}}{tag}").text
            pattern = r"https://[^/]+/services/Soap/[cu]/\d+\.\d/00D\w{12}"
            assert re.fullmatch(pattern, url) and re.fullmatch(pattern, ours_url)


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/reference samples are not part of a plain clone")
def test_custom_object_message_parses_like_the_real_sample(fake_org, receiver):
    real = (SAMPLES / "06_customobject_cs15_v29_sessionid.xml").read_bytes()
    fake_org.load_schema({"objects": {
        "Country__c": {"fields": []},
        "State_Province__c": {"fields": [{"name": "Abbrev__c", "type": "string", "length": 2},
                                         {"name": "Country__c", "type": "reference", "referenceTo": "Country__c"}]}}})
    fake_org.add_outbound_rule("states", "State_Province__c", ["Name", "Abbrev__c", "Country__c"],
                               "https://receiver.test/om", include_session_id=True)
    country = fake_org.insert("Country__c", {"Name": "United States"})
    fake_org.insert("State_Province__c", {"Name": "Arkansas", "Abbrev__c": "AR", "Country__c": country})
    fake_org.outbound.deliver_due()
    ours = receiver.requests[0][1]
    assert _structure(ours) == _structure(real)
    assert list(_fields(_notifications(ours)[0])) == list(_fields(_notifications(real)[0]))
    assert b'xsi:type="sf:State_Province__c"' in ours


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/reference samples are not part of a plain clone")
def test_real_ack_sample_is_accepted_and_the_fault_template_is_not():
    assert is_ack(200, (SAMPLES / "ack_response.xml").read_bytes())
    fault = (SAMPLES / "fault_response_template.xml").read_text().replace("{0}", "bad org")
    assert not is_ack(200, fault.encode()) and not is_ack(400, fault.encode())
    assert is_ack(200, ACK_BODY.encode())
