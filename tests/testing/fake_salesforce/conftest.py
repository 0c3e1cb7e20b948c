"""Fixtures for the fake Salesforce org's own tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# A plain checkout (tether not pip-installed) still imports from the repository root.
_ROOT = Path(__file__).resolve().parents[3]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from tether.testing.fake_salesforce import FakeClock, FakeOrg, FakeOrgServer, fake_org_responses  # noqa: E402
from tether.testing.fake_salesforce.fixtures import fake_clock, fake_org, fake_org_server  # noqa: E402,F401



class Mode:
    """One way of serving the org, with the client factories a test needs."""

    def __init__(self, name: str, org: FakeOrg, server: FakeOrgServer | None = None) -> None:
        self.name = name
        self.org = org
        self.server = server

    def client(self, **kwargs):
        return self.server.client(**kwargs) if self.server else self.org.client(**kwargs)

    def bulk_client(self):
        return self.server.bulk_client() if self.server else self.org.bulk_client()

    def trust(self):
        """Context in which module-level ``requests`` (salesforce-bulk) trusts the server."""
        import contextlib
        return self.server.trust_ca() if self.server else contextlib.nullcontext()


@pytest.fixture(params=["in-process", "https-server"])
def mode(request):
    """The same org API served both ways: through ``responses`` and over loopback HTTPS."""
    clock = FakeClock("2024-06-03T09:00:00Z")
    if request.param == "in-process":
        with fake_org_responses(FakeOrg(clock=clock)) as org:
            yield Mode(request.param, org)
    else:
        with FakeOrgServer(FakeOrg(clock=clock), deliver_outbound_every=None) as server:
            yield Mode(request.param, server.org, server)
