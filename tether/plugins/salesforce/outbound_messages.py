"""Salesforce Outbound Messages: parse the SOAP ``notifications`` request, render the ACK
and SOAP Faults. I/O-free; the Flask side is in ``receiver.py``.

Parsing uses defusedxml: a DTD, entity declarations (billion laughs) or external
entities (XXE) are refused before any expansion happens. The ``SessionId`` element is
read only to note whether one was sent; its value is never kept.
"""

from __future__ import annotations

import dataclasses
import io
import re
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring, iterparse

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
    """Parse and check an Outbound Message request body."""
    if not body or not body.strip():
        raise MalformedMessage("the request body is empty; expected a SOAP envelope with <notifications>")
    declarations: dict[int, dict[str, str]] = {}
    try:
        pending: dict[str, str] = {}
        root = None
        for event, item in iterparse(io.BytesIO(body), events=("start-ns", "start"),
                                     forbid_dtd=True, forbid_entities=True, forbid_external=True):
            if event == "start-ns":
                prefix, uri = item
                pending[prefix] = uri
            else:
                if root is None:
                    root = item
                if pending:
                    declarations[id(item)] = pending
                    pending = {}
    except DefusedXmlException as exc:
        raise MalformedMessage(f"refused unsafe XML ({type(exc).__name__}): DTDs and entities are not accepted") from exc
    except ParseError as exc:
        raise MalformedMessage(f"malformed XML: {exc}") from exc
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise MalformedMessage(f"root element is {_local(root.tag)!r}, expected a SOAP 1.1 Envelope")
    notifications = root.find(f"{{{SOAP_ENV}}}Body/{{{OUTBOUND}}}notifications")
    if notifications is None:
        raise MalformedMessage("no <notifications> element in namespace http://soap.sforce.com/2005/09/outbound in the SOAP Body")
    organization_id = _text(notifications, "OrganizationId")
    if not organization_id:
        raise MalformedMessage("<notifications> has no OrganizationId, so the sending org cannot be checked")
    session = notifications.find(f"{{{OUTBOUND}}}SessionId")
    sent_session_id = session is not None and session.get(f"{{{XSI}}}nil") != "true" and bool((session.text or "").strip())
    parsed = []
    body_element = root.find(f"{{{SOAP_ENV}}}Body")
    outer_scope = {}
    for element in (root, body_element, notifications):
        outer_scope.update(declarations.get(id(element), {}))
    for index, element in enumerate(notifications.findall(f"{{{OUTBOUND}}}Notification")):
        parsed.append(_notification(element, index, outer_scope, declarations))
    if len({n.notification_id for n in parsed}) != len(parsed):
        raise MalformedMessage("the message repeats a Notification Id")
    return OutboundMessage(
        organization_id=organization_id,
        action_id=_text(notifications, "ActionId") or "",
        enterprise_url=_text(notifications, "EnterpriseUrl"),
        partner_url=_text(notifications, "PartnerUrl"),
        sent_session_id=sent_session_id,
        notifications=tuple(parsed),
    )


def _notification(element: Element, index: int, outer_scope: dict[str, str],
                  declarations: dict[int, dict[str, str]]) -> Notification:
    where = f"Notification[{index}]"
    notification_id = _text(element, "Id")
    if not notification_id:
        raise MalformedMessage(f"{where} has no Id")
    sobject = element.find(f"{{{OUTBOUND}}}sObject")
    if sobject is None:
        raise MalformedMessage(f"{where} ({notification_id}) has no sObject")
    scope = {**outer_scope, **declarations.get(id(element), {}), **declarations.get(id(sobject), {})}
    object_name = _resolve_type(sobject, scope, where)
    fields = {}
    for child in sobject:
        namespace, _, name = child.tag[1:].partition("}") if child.tag.startswith("{") else ("", "", child.tag)
        if namespace != SOBJECT:
            raise MalformedMessage(f"{where} field {name!r} is not in namespace {SOBJECT}")
        if child.get(f"{{{XSI}}}nil") == "true":
            continue
        if len(child):
            raise MalformedMessage(f"{where} field {name!r} has nested elements; Outbound Messages carry flat fields")
        fields[name] = child.text or ""
    return Notification(notification_id=notification_id, object_name=object_name, fields=fields)


def _resolve_type(sobject: Element, scope: dict[str, str], where: str) -> str:
    """``xsi:type="sf:Opportunity"`` → ``Opportunity``, resolving the prefix through the
    namespace declarations in scope (the prefix must name the sObject namespace)."""
    declared = sobject.get(f"{{{XSI}}}type")
    if not declared:
        raise MalformedMessage(f"{where} sObject has no xsi:type naming its object")
    prefix, _, name = declared.rpartition(":")
    namespace = scope.get(prefix)
    if namespace != SOBJECT:
        raise MalformedMessage(f"{where} sObject type {declared!r}: prefix {prefix!r} is not bound to {SOBJECT}")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name or ""):
        raise MalformedMessage(f"{where} sObject type {declared!r} is not an object name")
    return name


def _text(parent: Element, name: str) -> str | None:
    element = parent.find(f"{{{OUTBOUND}}}{name}")
    if element is None or element.get(f"{{{XSI}}}nil") == "true":
        return None
    return (element.text or "").strip() or None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


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
