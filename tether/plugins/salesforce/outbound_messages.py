"""Salesforce Outbound Messages: parse the SOAP ``notifications`` request, render the ACK
and SOAP Faults. I/O-free; the Flask side is in ``receiver.py``.

Parsing is one streaming pass over expat with defusedxml's protections (``om_reader``):
a DTD, entity declarations (billion laughs) or external entities (XXE) are refused
before any expansion happens. The ``SessionId`` element is
read only to note whether one was sent; its value is never kept.
"""

from __future__ import annotations

import dataclasses
import re
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .om_reader import ENVELOPE, Reader, ReadError, local_name

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
SOBJECT = "urn:sobject.enterprise.soap.sforce.com"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

ACK_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
    " <soapenv:Body>\n"
    '  <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">\n'
    "   <Ack>true</Ack>\n"
    "  </notificationsResponse>\n"
    " </soapenv:Body>\n"
    "</soapenv:Envelope>\n"
)

_API_VERSION = re.compile(r"/Soap/[cu]/(\d+\.\d+)/")


class MalformedMessage(ValueError):
    """The body is not a well-formed, safe Outbound Message; says what and where."""


@dataclasses.dataclass(frozen=True)
class Notification:
    notification_id: str
    object_name: str
    # Field values exactly as sent (strings); absent fields were null or not selected.
    fields: dict[str, str]

    @property
    def record_id(self) -> str | None:
        return self.fields.get("Id")


@dataclasses.dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str
    enterprise_url: str | None
    partner_url: str | None
    sent_session_id: bool
    notifications: tuple[Notification, ...]

    @property
    def api_version(self) -> str | None:
        match = _API_VERSION.search(self.enterprise_url or self.partner_url or "")
        return match.group(1) if match else None


def parse(body: bytes) -> OutboundMessage:
    """Parse and check an Outbound Message request body (one streaming pass: see ``om_reader``)."""
    if not body or not body.strip():
        raise MalformedMessage("the request body is empty; expected a SOAP envelope with <notifications>")
    reader = Reader()
    try:
        reader.read(body)
    except DefusedXmlException as exc:
        raise MalformedMessage(f"refused unsafe XML ({type(exc).__name__}): DTDs and entities are not accepted") from exc
    except ExpatError as exc:
        raise MalformedMessage(f"malformed XML: {exc}") from exc
    if reader.root != ENVELOPE:
        raise MalformedMessage(f"root element is {local_name(reader.root)!r}, expected a SOAP 1.1 Envelope")
    if not reader.found_notifications:
        raise MalformedMessage("no <notifications> element in namespace http://soap.sforce.com/2005/09/outbound in the SOAP Body")
    organization_id = reader.text("OrganizationId")
    if not organization_id:
        raise MalformedMessage("<notifications> has no OrganizationId, so the sending org cannot be checked")
    try:
        parsed = [Notification(notification_id=nid, object_name=name, fields=fields)
                  for nid, name, fields in reader.notifications()]
    except ReadError as exc:
        raise MalformedMessage(str(exc)) from None
    if len({n.notification_id for n in parsed}) != len(parsed):
        raise MalformedMessage("the message repeats a Notification Id")
    return OutboundMessage(
        organization_id=organization_id,
        action_id=reader.text("ActionId") or "",
        enterprise_url=reader.text("EnterpriseUrl"),
        partner_url=reader.text("PartnerUrl"),
        sent_session_id=reader.sent_session_id(),
        notifications=tuple(parsed),
    )


def fault_body(message: str, *, server: bool = False) -> str:
    """A SOAP 1.1 Fault: ``soapenv:Client`` for the sender's mistakes, ``Server`` for ours."""
    code = "soapenv:Server" if server else "soapenv:Client"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        " <soapenv:Body>\n"
        "  <soapenv:Fault>\n"
        f"   <faultcode>{code}</faultcode>\n"
        f"   <faultstring>{escape(message)}</faultstring>\n"
        "   <detail />\n"
        "  </soapenv:Fault>\n"
        " </soapenv:Body>\n"
        "</soapenv:Envelope>\n"
    )


def parse_ack_is_true(body: bytes) -> bool:
    """True only for the documented ACK: ``notificationsResponse/Ack`` = true."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError):
        return False
    ack = root.find(f"{{{SOAP_ENV}}}Body/{{{OUTBOUND}}}notificationsResponse/{{{OUTBOUND}}}Ack")
    return ack is not None and (ack.text or "").strip() == "true"


def org_id_15(org_id: str) -> str:
    """The case-sensitive 15-character form; 18-character ids only add a checksum."""
    return org_id.strip()[:15]
