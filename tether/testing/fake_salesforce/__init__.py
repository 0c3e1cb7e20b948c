"""A stateful fake Salesforce org that simple-salesforce and salesforce-bulk talk to unmodified.

In-process (``responses``)::

    with fake_org_responses(FakeOrg()) as org:
        sf = org.client()
        sf.Opportunity.create({...})

On loopback over HTTPS::

    with FakeOrgServer(FakeOrg()) as server:
        sf = server.client()          # verify= the generated CA bundle

See docs/fake-org.md for fault injection, Outbound Message rules and seeding.
"""

from .clock import FakeClock
from .errors import SalesforceError
from .ids import IdFactory, is_valid_id, to15, to18
from .inprocess import fake_org_responses
from .org import FakeOrg
from .outbound import DeliveryAttempt, OutboundRule
from .outbound_soap import ACK_BODY
from .transports import CallableTransport, HttpTransport, WsgiTransport


def __getattr__(name: str):  # FakeOrgServer pulls in trustme/ssl only when asked for
    if name == "FakeOrgServer":
        from .server import FakeOrgServer
        return FakeOrgServer
    raise AttributeError(name)


__all__ = [
    "ACK_BODY", "CallableTransport", "DeliveryAttempt", "FakeClock", "FakeOrg", "FakeOrgServer", "HttpTransport",
    "IdFactory", "OutboundRule", "SalesforceError", "WsgiTransport", "fake_org_responses", "is_valid_id", "to15",
    "to18",
]
