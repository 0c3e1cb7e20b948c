"""The contract suite against the first real connector: Salesforce over the fake org.

This is what makes the suite honest: the checks are the engine's expectations, and the
Salesforce connector (REST reads with a lookback window, sObject Collections writes) must
keep every one of them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any, Iterator, Sequence

import pytest

from tether.testing.contract import ConnectorContract
from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN, INTEGRATION_USERNAME

LOOKBACK = 120
MALFORMED = json.dumps([{"errorCode": "MALFORMED_QUERY", "message": "unexpected token: FROM"}])


class TestSalesforceConnector(ConnectorContract):
    plugin = connector = "salesforce"
    object_name = "Account"
    fields = ("Name", "Industry", "Description")
    # Salesforce honours REST batch sizes of 200 and more.
    page_size = 200
    lookback = dt.timedelta(seconds=LOOKBACK)
    # getUpdated's latestDateCovered has minute resolution: let changes settle past it.
    settle_seconds = LOOKBACK + 120

    @pytest.fixture
    def source(self, fake_org, monkeypatch):
        monkeypatch.setenv("CONTRACT_SF_PASSWORD", DEFAULT_PASSWORD)
        monkeypatch.setenv("CONTRACT_SF_TOKEN", DEFAULT_TOKEN)
        return fake_org

    def plugin_config(self, org) -> dict[str, Any]:
        return {"instance_url": org.instance_url, "username": INTEGRATION_USERNAME,
                "password": {"$env": "CONTRACT_SF_PASSWORD"}, "security_token": {"$env": "CONTRACT_SF_TOKEN"},
                "bulk_poll_seconds": 0, "lookback_seconds": LOOKBACK, "check_mappings_on_apply": False}

    def add_records(self, org, count: int) -> list[str]:
        return [org.insert("Account", {"Name": f"Contract account {i}", "Industry": "Energy"}) for i in range(count)]

    def change_records(self, org, ids: Sequence[str]) -> None:
        for record_id in ids:
            org.update("Account", record_id, {"Description": "changed by a user"})

    def advance(self, org, seconds: float) -> None:
        org.clock.advance(seconds)

    @contextlib.contextmanager
    def fault(self, org, kind: str) -> Iterator[None]:
        if kind == "transient":
            org.faults.server_error(503, times=None)
        else:
            org.faults.server_error(400, times=None, body=MALFORMED, content_type="application/json")
        try:
            yield
        finally:
            org.faults.clear()

    def write_values(self, index: int) -> dict[str, Any]:
        return {"Name": f"Written {index}", "Industry": "Retail"}

    def invalid_values(self) -> dict[str, Any]:
        return {"Name": None, "Industry": "Retail"}
