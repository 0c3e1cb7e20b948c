"""``tether sync`` and ``tether sync status`` as a user runs them: a real process, a fake org over HTTPS."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tether.testing.fake_salesforce.fixtures import fake_org_server  # noqa: F401 (fixture)
from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN, INTEGRATION_USERNAME


@pytest.fixture
def tether(tmp_path, fake_org_server):
    env = {**os.environ, "TETHER_HOME": str(tmp_path / "home"), "COLUMNS": "250",
           "CLI_SF_PASSWORD": DEFAULT_PASSWORD, "CLI_SF_TOKEN": DEFAULT_TOKEN}
    env.pop("TETHER_DATABASE_URL", None)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "tether", *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=180)

    url = fake_org_server.instance_url
    manifest = tmp_path / "acme.yaml"
    manifest.write_text(yaml.safe_dump({"tenant": {"id": "acme", "name": "Acme"}, "plugins": [{"name": "salesforce", "config": {
        "instance_url": url, "login_url": url, "ca_bundle": fake_org_server.ca_bundle_path,
        "username": INTEGRATION_USERNAME, "password": {"$env": "CLI_SF_PASSWORD"},
        "security_token": {"$env": "CLI_SF_TOKEN"}}}]}))
    assert run("init").returncode == 0
    applied = run("tenants", "apply", str(manifest))
    assert applied.returncode == 0, applied.stderr
    return run


def test_sync_status_and_mistakes(tether, fake_org_server):
    org = fake_org_server.org
    account = org.insert("Account", {"Name": "Acme Corp"})
    for index in range(3):
        org.insert("Opportunity", {"Name": f"Deal {index}", "AccountId": account, "StageName": "Prospecting",
                                   "CloseDate": "2025-01-01"})
    org.clock.advance(minutes=10)
    synced = tether("sync", "acme")
    assert synced.returncode == 0, synced.stderr
    assert "salesforce Opportunity" in synced.stdout and "initial" in synced.stdout and "success" in synced.stdout
    assert "rec/s" in synced.stderr  # the progress bar
    status = tether("sync", "status", "acme", "--runs", "5")
    assert status.returncode == 0, status.stderr
    assert "salesforce Account" in status.stdout and "3 / 3 / 0" in status.stdout
    unknown = tether("sync", "acme", "--object", "Invoice__c")
    assert unknown.returncode == 1
    assert "salesforce has no inbound mapping for invoice__c" in unknown.stderr and "Traceback" not in unknown.stderr
    org.limits.set_used(org.limits.daily_api_requests - 10)
    throttled = tether("sync", "acme", "--object", "Opportunity")
    assert throttled.returncode == 2 and "throttled" in throttled.stdout and "incremental" in throttled.stdout
