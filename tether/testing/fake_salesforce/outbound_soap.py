"""The Outbound Message SOAP envelope and the ACK check, matching Salesforce's wire format.

Shape (see shared/reference/salesforce-outbound-samples): envelope in
``http://schemas.xmlsoap.org/soap/envelope/`` (prefix ``soapenv``); ``notifications`` in the
default namespace ``http://soap.sforce.com/2005/09/outbound``; each sObject typed
``xsi:type="sf:<Object>"`` with fields in ``urn:sobject.enterprise.soap.sforce.com`` under
prefix ``sf``; ``Id`` first then fields in name order; null fields omitted; ``SessionId`` is
``xsi:nil`` unless the rule sends it; Enterprise/Partner URLs carry the 15-char org id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence
from xml.sax.saxutils import escape

from defusedxml import ElementTree

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
CONTENT_TYPE = "text/xml; charset=utf-8"
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


@dataclass
class RenderedNotification:
    """One ``<Notification>``: its 04l id and the sObject's (field, text) pairs, Id first."""

    notification_id: str
    fields: Sequence[tuple[str, str]]


def render_message(*, organization_id: str, action_id: str, session_id: str | None, enterprise_url: str,
                   partner_url: str, object_name: str, notifications: Sequence[RenderedNotification]) -> bytes:
    """The full SOAP request body Salesforce POSTs for one message (≤ 100 notifications)."""
    if not 1 <= len(notifications) <= 100:
        raise ValueError("an outbound message carries 1 to 100 notifications")
    session = '<SessionId xsi:nil="true"/>' if session_id is None else f"<SessionId>{escape(session_id)}</SessionId>"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="{XSI_NS}">',
        "<soapenv:Body>",
        f'<notifications xmlns="{OUTBOUND_NS}">',
        f"<OrganizationId>{organization_id}</OrganizationId>",
        f"<ActionId>{action_id}</ActionId>",
        session,
        f"<EnterpriseUrl>{escape(enterprise_url)}</EnterpriseUrl>",
        f"<PartnerUrl>{escape(partner_url)}</PartnerUrl>",
    ]
    for notification in notifications:
        parts.append(f"<Notification><Id>{notification.notification_id}</Id>")
        parts.append(f'<sObject xsi:type="sf:{object_name}" xmlns:sf="{SOBJECT_NS}">')
        parts.extend(f"<sf:{name}>{escape(text)}</sf:{name}>" for name, text in notification.fields)
        parts.append("</sObject></Notification>")
    parts.append("</notifications></soapenv:Body></soapenv:Envelope>")
    return "".join(parts).encode("utf-8")


def is_ack(status: int, body: bytes | None) -> bool:
    """True only for a 2xx whose body is the documented ACK: ``notificationsResponse/Ack`` = ``true``
    in the outbound namespace, inside a SOAP 1.1 Body.  Anything else is a failed delivery."""
    if not 200 <= status < 300 or not body:
        return False
    try:
        root = ElementTree.fromstring(body)
    except Exception:  # noqa: BLE001 - unparsable means not acknowledged
        return False
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        return False
    soap_body = root.find(f"{{{SOAP_ENV_NS}}}Body")
    if soap_body is None:
        return False
    response = soap_body.find(f"{{{OUTBOUND_NS}}}notificationsResponse")
    if response is None:
        return False
    ack = response.find(f"{{{OUTBOUND_NS}}}Ack")
    return ack is not None and (ack.text or "").strip() == "true"
