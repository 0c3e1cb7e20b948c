"""The seed generator, seed files and ``fake-org serve``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import requests

from tether.testing.fake_salesforce import FakeClock, FakeOrg
from tether.testing.fake_salesforce.seed_file import apply_seed

ROOT = Path(__file__).resolve().parents[3]


def _seeded(seed: int, opportunities: int = 600) -> FakeOrg:
    org = FakeOrg(clock=FakeClock("2024-06-03T09:00:00Z"), seed=seed)
    org.seed(seed=seed, opportunities=opportunities)
    return org


def test_same_seed_same_org_different_seed_different_org():
    first, again, other = _seeded(3), _seeded(3), _seeded(4)
    soql = "SELECT Id, Name, AccountId, StageName, Amount, CloseDate, Type, OwnerId, SystemModstamp FROM Opportunity"
    assert first.query(soql) == again.query(soql)
    assert first.query(soql) != other.query(soql)


def test_generated_org_is_realistic():
    org = _seeded(11, opportunities=2000)
    opportunities = org.query("SELECT Id, Type, StageName, IsClosed, IsWon, Probability, ForecastCategoryName, "
                              "Amount, AccountId, CloseDate, CreatedDate, SystemModstamp, RecordType.Name "
                              "FROM Opportunity")
    assert len(opportunities) == 2000
    kinds = Counter(row["Type"] for row in opportunities)
    assert kinds["New Customer"] and kinds["Renewal"] and kinds["Existing Customer - Upgrade"]
    assert {row["RecordType.Name"] for row in opportunities} == {"New Business", "Renewal", "Upsell"}
    stages = org.store.stages
    for row in opportunities:
        stage = stages[row["StageName"]]
        assert (row["IsClosed"], row["IsWon"], row["Probability"], row["ForecastCategoryName"]) == (
            stage["IsClosed"], stage["IsWon"], stage["DefaultProbability"], stage["ForecastCategoryName"])
        assert row["CreatedDate"] <= row["SystemModstamp"] <= "2024-06-03T09:00:00.000Z"
    open_in_past = [r for r in opportunities if not r["IsClosed"] and r["CloseDate"] < "2024-05-27"]
    assert not open_in_past
    depth = {}
    for account in org.query("SELECT Id, ParentId FROM Account"):
        depth[account["Id"]] = account["ParentId"]

    def level(account_id):
        return 1 if depth[account_id] is None else 1 + level(depth[account_id])
    levels = Counter(level(a) for a in depth)
    assert max(levels) == 5 and levels[1] < len(depth)
    history = org.query("SELECT OpportunityId, StageName, CreatedDate FROM OpportunityHistory")
    assert len(history) > len(opportunities)
    assert org.count("Task") == 1000 and org.count("Event") == 200 and org.count("Contact") == org.count("Account")


def test_seed_file_with_references_rules_and_custom_fields(tmp_path, fake_org):
    seed_file = tmp_path / "org.json"
    seed_file.write_text(json.dumps({
        "schema": {"objects": {"Opportunity": {"fields": [{"name": "Renewal_Key__c", "type": "string",
                                                            "externalId": True}]}}},
        "users": [{"ref": "alice", "username": "alice@acme.test", "first_name": "Alice", "last_name": "Liddell"}],
        "records": {
            "Account": [{"@ref": "acme", "Name": "Acme"}, {"@ref": "eu", "Name": "Acme EU", "ParentId": "@acme"}],
            "Opportunity": [{"Name": "Renewal", "AccountId": "@eu", "StageName": "Prospecting",
                             "CloseDate": "2024-07-01", "OwnerId": "@alice", "Renewal_Key__c": "@@literal"}],
        },
        "outbound_rules": [{"name": "opp", "object": "Opportunity", "fields": ["Name"],
                            "endpoint_url": "http://127.0.0.1:9/om", "integration_user": "integration"}],
    }))
    from tether.testing.fake_salesforce.seed_file import read_seed_file
    refs = apply_seed(fake_org, read_seed_file(seed_file))
    [row] = fake_org.query("SELECT Account.Parent.Name, Owner.Username, Renewal_Key__c FROM Opportunity")
    assert row == {"Account.Parent.Name": "Acme", "Owner.Username": "alice@acme.test", "Renewal_Key__c": "@literal"}
    assert set(refs) >= {"acme", "eu", "alice", "admin", "integration"}
    assert fake_org.outbound.rules[0].integration_user_id == fake_org.integration_user_id


def test_cli_serve_prints_connection_details_and_serves(tmp_path):
    script = ("from tether.testing.fake_salesforce.cli import fake_org; "
              "fake_org(['serve', '--port', '0', '--seed', '5', '--opportunities', '50', '--api-limit', '99'])")
    process = subprocess.Popen([sys.executable, "-u", "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        output = ""
        while "Press Ctrl-C" not in output:
            line = process.stdout.readline()
            if not line:
                break
            output += line
        instance = re.search(r"instance URL\s+(\S+)", output).group(1)
        bundle = re.search(r"CA bundle\s+(\S+)", output).group(1)
        assert re.search(r"Seeded 10 Account, 10 Contact, 50 Opportunity", output)
        session = requests.Session()  # trust_env off: an inherited REQUESTS_CA_BUNDLE would override verify
        session.trust_env = False
        session.verify = bundle
        login = session.post(f"{instance}/services/oauth2/token", data={
            "grant_type": "password", "client_id": re.search(r"consumer key\s+(\S+)", output).group(1),
            "client_secret": re.search(r"consumer secret\s+(\S+)", output).group(1),
            "username": re.search(r"username\s+(\S+)", output).group(1),
            "password": re.search(r"password\s+(\S+)", output).group(1)
            + re.search(r"security token\s+(\S+)", output).group(1)}).json()
        count = session.get(f"{instance}/services/data/v59.0/query", params={"q": "SELECT COUNT() FROM Opportunity"},
                            headers={"Authorization": f"Bearer {login['access_token']}"})
        assert count.json()["totalSize"] == 50 and count.headers["Sforce-Limit-Info"] == "api-usage=1/99"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("opportunities", [1, 37])
def test_exact_opportunity_counts(opportunities):
    assert _seeded(1, opportunities).count("Opportunity") == opportunities
