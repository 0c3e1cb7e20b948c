"""As a user runs it: `TETHER_WEB_WORKERS=2 tether serve` in its own processes receives the
fake org's Outbound Messages over real HTTP and applies them within seconds; `tether sync push|failures|retry|
conflicts|resolve` drive write-back against the fake org over HTTPS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from decimal import Decimal

import pytest
import requests
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from tether.core.cli import build_cli
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.core.store import InboxMessage
from tether.core.store.models import Opportunity
from tether.core.sync.outbox import capture_local_change
from tether.testing.fake_salesforce.fixtures import fake_org_server  # noqa: F401 (fixture)
from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN, INTEGRATION_USERNAME

from .om_setup import OPPORTUNITY_FIELDS

SECRET = "serve-om-secret-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def deployment(tmp_path, fake_org_server):
    """`tether init`, a tenant manifest applied, the org loaded, `tether serve` running."""
    org = fake_org_server.org
    # Two web processes on one port (the job engine in the process that starts them).
    env = {**os.environ, "TETHER_HOME": str(tmp_path / "home"), "COLUMNS": "250", "SRV_SF_PASSWORD": DEFAULT_PASSWORD,
           "SRV_SF_TOKEN": DEFAULT_TOKEN, "SRV_OM_SECRET": SECRET, "TETHER_WEB_WORKERS": "2"}
    env.pop("TETHER_DATABASE_URL", None)

    runtime = Runtime(Settings.from_env(env))

    def tether(*args):
        """The command line in this process (the server below is the separate process)."""
        return CliRunner().invoke(build_cli(runtime), list(args), obj=runtime, env=env, catch_exceptions=False)

    url = fake_org_server.instance_url
    manifest = tmp_path / "acme.yaml"
    manifest.write_text(yaml.safe_dump({
        "tenant": {"id": "acme", "name": "Acme"},
        "plugins": [{"name": "salesforce", "config": {
            "instance_url": url, "login_url": url, "ca_bundle": fake_org_server.ca_bundle_path,
            "username": INTEGRATION_USERNAME, "password": {"$env": "SRV_SF_PASSWORD"},
            "security_token": {"$env": "SRV_SF_TOKEN"}, "organization_id": org.org_id,
            "webhook_secret": {"$env": "SRV_OM_SECRET"}, "outbound_message_fields": {"Opportunity": OPPORTUNITY_FIELDS},
            "conflict_policies": {"Opportunity.Amount": "manual"}, "lookback_seconds": 0}}],
        # Pushes and polls run when this test says so; the inbox job runs on every message.
        "schedules": [{"job": "outbox", "every": "1d"}, {"job": "sync", "every": "1d"}],
    }))
    assert tether("init").exit_code == 0
    applied = tether("tenants", "apply", str(manifest))
    assert applied.exit_code == 0, applied.output
    account = org.insert("Account", {"Name": "Acme Corp"})
    ids = [org.insert("Opportunity", {"Name": f"Deal {n}", "AccountId": account, "StageName": "Prospecting",
                                      "CloseDate": "2025-01-01", "Amount": 100 + n}) for n in range(3)]
    org.clock.advance(minutes=2)
    synced = tether("sync", "acme")
    assert synced.exit_code == 0, synced.output
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "tether", "serve", "--port", str(port)], env=env, cwd=tmp_path,
                              stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), timeout=90, what="tether serve to answer /healthz")
        yield {"org": org, "ids": ids, "tether": tether, "base": base, "tenant": runtime.context("acme"),
               "server": server}
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        runtime.close()


def _up(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _amount(tenant, sf_id: str) -> Decimal | None:
    with tenant.session() as session:
        return session.scalar(select(Opportunity.amount).where(Opportunity.external_id == sf_id))


def _edit_amount(tenant, sf_id: str, amount: Decimal) -> None:
    with tenant.transaction() as session:
        row = session.scalar(select(Opportunity).where(Opportunity.external_id == sf_id))
        row.amount = amount
        capture_local_change(tenant, session, entity="opportunity", local_id=row.id, changes={"amount": amount})


def test_messages_over_real_http_are_applied_within_seconds_and_write_back_runs_from_the_cli(deployment):
    org, tenant, base = deployment["org"], deployment["tenant"], deployment["base"]
    endpoint = f"{base}/webhooks/acme/salesforce/outbound-message"
    org.add_outbound_rule("to tether", "Opportunity", OPPORTUNITY_FIELDS, f"{endpoint}?token={SECRET}")
    sf_id = deployment["ids"][0]
    org.update("Opportunity", sf_id, {"Amount": 4242})
    [attempt] = org.outbound.deliver_due()  # a real POST to the server's socket
    assert attempt.acked and attempt.status == 200
    wait_for(lambda: _amount(tenant, sf_id) == Decimal("4242.00"), timeout=30, what="the change to be applied")
    with tenant.session() as session:
        assert session.scalars(select(InboxMessage.status)).all() == ["applied"]
    # A wrong secret over the same socket: refused, nothing stored.
    refused = requests.post(f"{endpoint}?token=wrong", data=attempt.request_body,
                            headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10)
    assert refused.status_code == 401 and b"<soapenv:Fault>" in refused.content
    with tenant.session() as session:
        assert len(session.scalars(select(InboxMessage)).all()) == 1
    _write_back_from_the_command_line(deployment)


def _write_back_from_the_command_line(deployment):
    org, tenant, tether = deployment["org"], deployment["tenant"], deployment["tether"]
    ids = deployment["ids"]
    org.faults.validation_rule("Opportunity", field="Amount", value=13.0, message="Thirteen is unlucky",
                               error_field="Amount")
    _edit_amount(tenant, ids[0], Decimal("13"))
    _edit_amount(tenant, ids[1], Decimal("14"))
    pushed = tether("sync", "push", "acme")
    assert pushed.exit_code == 0, pushed.output
    assert "refused" in pushed.output
    failures = tether("sync", "failures", "acme")
    assert failures.exit_code == 0 and "Thirteen is unlucky" in failures.stdout
    assert org.get(ids[1])["Amount"] == 14.0
    org.faults.clear()
    retried = tether("sync", "retry", "acme")
    assert retried.exit_code == 0 and "1 change(s) queued again" in retried.stdout
    assert tether("sync", "push", "acme").exit_code == 0
    assert org.get(ids[0])["Amount"] == 13.0
    assert "no failures" in tether("sync", "failures", "acme").stdout
    mistake = tether("sync", "retry", "acme", "--id", "999")
    assert mistake.exit_code == 1 and "not failed changes" in mistake.stderr

    # A field changed on both sides under the manual policy waits for a person.
    _edit_amount(tenant, ids[2], Decimal("500"))
    org.clock.advance(seconds=2)
    org.update("Opportunity", ids[2], {"Amount": 900})
    org.clock.advance(minutes=2)
    assert tether("sync", "acme", "--object", "Opportunity").exit_code == 0
    listed = tether("sync", "conflicts", "acme")
    assert listed.exit_code == 0 and "amount" in listed.stdout and "900.00" in listed.stdout
    assert "500.00" in listed.stdout
    from tether.core.sync.conflicts import list_conflicts

    [conflict] = list_conflicts(tenant)
    resolved = tether("sync", "resolve", "acme", str(conflict.id), "--keep", "remote")
    assert resolved.exit_code == 0, resolved.output
    assert _amount(tenant, ids[2]) == Decimal("900.00")
    assert "no open conflicts" in tether("sync", "conflicts", "acme").stdout
    both = tether("sync", "resolve", "acme", str(conflict.id), "--keep", "local", "--value", "1")
    assert both.exit_code == 1 and "exactly one" in both.stderr
