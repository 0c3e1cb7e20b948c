"""pytest fixtures for the fake Salesforce org.

- ``fake_clock``: a frozen :class:`FakeClock` at 2024-06-03T09:00:00Z the test advances.
- ``fake_org``: a :class:`FakeOrg` on that clock, served in-process through ``responses``;
  ``fake_org.client()`` is a ready ``simple_salesforce.Salesforce``.
- ``fake_org_server``: a :class:`FakeOrgServer` on 127.0.0.1 over HTTPS (fresh org, wall-clock
  time); ``fake_org_server.client()`` trusts its CA.  Outbound Messages are delivered when the
  test calls ``fake_org_server.org.outbound.deliver_due()``, so assertions stay deterministic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

from .clock import FakeClock
from .inprocess import fake_org_responses
from .org import FakeOrg

if TYPE_CHECKING:
    from .server import FakeOrgServer

FIXED_START = "2024-06-03T09:00:00Z"


@pytest.fixture
def fake_clock() -> FakeClock:
    """A frozen org clock the test moves with ``advance()`` / ``set()``."""
    return FakeClock(FIXED_START)


@pytest.fixture
def fake_org(fake_clock: FakeClock) -> Iterator[FakeOrg]:
    """A fresh fake org intercepted in-process by ``responses``."""
    with fake_org_responses(FakeOrg(clock=fake_clock)) as org:
        yield org


@pytest.fixture
def fake_org_server() -> Iterator["FakeOrgServer"]:
    """A fresh fake org behind a real HTTPS server on loopback."""
    from .server import FakeOrgServer

    with FakeOrgServer(FakeOrg(clock=FakeClock(realtime=True)), deliver_outbound_every=None) as server:
        yield server
