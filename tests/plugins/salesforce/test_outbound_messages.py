"""Parsing Outbound Messages: the real samples, our fixtures, and unsafe XML."""

from pathlib import Path

import pytest

from tether.plugins.salesforce import outbound_messages as om

FIXTURES = Path(__file__).with_name("fixtures")
SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "salesforce-outbound-samples"


def test_a_single_opportunity_message():
    message = om.parse((FIXTURES / "om_opportunity_single.xml").read_bytes())
    assert message.organization_id == "00D7F00000107XsUAI"
    assert message.api_version == "47.0"
    assert not message.sent_session_id
    [notification] = message.notifications
    assert notification.notification_id == "04l7F000008aeAyQAI"
    assert notification.object_name == "Opportunity"
    assert notification.fields == {
        "Id": "0067F000003pmdWQAQ", "AccountId": "0017F000007ydJmQAI", "Amount": "120000.0",
        "CloseDate": "2017-04-03", "LeadSource": "Phone Inquiry", "Name": "Express Logistics SLA",
        "StageName": "Perception Analysis",
    }


def test_session_ids_are_noted_but_not_kept_and_deleted_records_carry_only_an_id():
    message = om.parse((FIXTURES / "om_opportunity_two_with_session.xml").read_bytes())
    assert message.sent_session_id
    assert "SECRETSESSION" not in repr(message)
    first, deleted = message.notifications
    assert first.fields["SystemModstamp"] == "2026-11-20T09:15:02.000Z"
    assert deleted.fields == {"Id": "0067F000003pmdYQAQ"}


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the shared reference samples are not beside this checkout")
@pytest.mark.parametrize("name,count", [
    ("01_opportunity_ap5_v47_minimal.xml", 1), ("02_opportunity_cs12_v23_customfield_15charids.xml", 1),
    ("03_opportunity_sandbox_fullstandardfields.xml", 1), ("04_contact_x2_na73_v41_sessionid_omitted-null.xml", 2),
    ("05_lead_x3_na31_v34_manyfields_sanitized.xml", 3), ("06_customobject_cs15_v29_sessionid.xml", 1),
])
def test_every_real_sample_parses(name, count):
    message = om.parse((SAMPLES / name).read_bytes())
    assert len(message.notifications) == count
    assert all(n.record_id for n in message.notifications)


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the shared reference samples are not beside this checkout")
def test_the_empty_sample_is_refused_because_no_org_can_be_checked():
    with pytest.raises(om.MalformedMessage, match="no OrganizationId"):
        om.parse((SAMPLES / "07_empty_notifications.xml").read_bytes())


@pytest.mark.parametrize("fixture,reason", [
    ("xxe.xml", "DTDForbidden"), ("billion_laughs.xml", "DTDForbidden"), ("dtd_only.xml", "DTDForbidden"),
])
def test_unsafe_xml_is_refused_before_expansion(fixture, reason):
    with pytest.raises(om.MalformedMessage, match=reason):
        om.parse((FIXTURES / fixture).read_bytes())


@pytest.mark.parametrize("body,message", [
    (b"", "empty"),
    (b"<not-closed", "malformed XML"),
    (b"<html/>", "expected a SOAP 1.1 Envelope"),
    (b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>', "no <notifications>"),
    (b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
     b'<OrganizationId>00D</OrganizationId><Notification><Id>04l1</Id><sObject xmlns:x="http://www.w3.org/2001/XMLSchema-instance" '
     b'x:type="zz:Opportunity" xmlns:zz="urn:other"/></Notification></notifications></e:Body></e:Envelope>', "not bound to"),
])
def test_malformed_messages_say_what_is_wrong(body, message):
    with pytest.raises(om.MalformedMessage, match=message):
        om.parse(body)


def test_ack_is_byte_for_byte_the_documented_one():
    expected_file = SAMPLES / "ack_response.xml"
    if expected_file.is_file():
        assert om.parse_ack_is_true(om.ACK_BODY.encode())
        assert " ".join(om.ACK_BODY.split()) == " ".join(expected_file.read_text().split())
    assert "<Ack>true</Ack>" in om.ACK_BODY


def test_org_ids_compare_on_the_15_character_form():
    assert om.org_id_15("00D7F00000107XsUAI") == om.org_id_15("00D7F00000107Xs")
    assert om.org_id_15("00D7F00000107xs") != om.org_id_15("00D7F00000107Xs")
