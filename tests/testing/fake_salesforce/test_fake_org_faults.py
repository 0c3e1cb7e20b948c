"""Scripted faults: row locks, validation rules, 5xx, slow and hanging responses, quota."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceMalformedRequest, SalesforceRefusedRequest

LOCKED = {"message": "unable to obtain exclusive access to this record", "errorCode": "UNABLE_TO_LOCK_ROW",
          "fields": []}


def test_lock_row_on_chosen_record_then_retry_succeeds(fake_org):
    sf = fake_org.client()
    target = fake_org.insert("Account", {"Name": "Locked"})
    other = fake_org.insert("Account", {"Name": "Free"})
    fault = fake_org.faults.lock_row("Account", ids=[target[:15]], times=1)
    sf.Account.update(other, {"Name": "Free 2"})
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.Account.update(target, {"Name": "Locked 2"})
    assert error.value.content == [LOCKED]
    assert fault.hits == 1
    assert sf.Account.update(target, {"Name": "Locked 2"}) == 204  # the retry goes through


def test_lock_row_reaches_collections_and_bulk(fake_org):
    sf = fake_org.client()
    fake_org.faults.lock_row("Account", when=lambda record: record.get("Name") == "Busy", times=None)
    results = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Account"}, "Name": "Busy"}, {"attributes": {"type": "Account"}, "Name": "Idle"}]})
    assert results[0] == {"success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message":
                                                        "unable to obtain exclusive access to this record",
                                                        "fields": []}]}
    assert results[1]["success"] is True
    bulk = sf.bulk.Account.insert([{"Name": "Busy"}, {"Name": "Idle"}])
    assert [r["success"] for r in bulk] == [False, True]
    assert bulk[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"


def test_validation_rule_on_field_value(fake_org):
    fake_org.faults.validation_rule("Opportunity", field="Amount", value=13.0, message="Amount can't be unlucky",
                                    error_field="Amount")
    sf = fake_org.client()
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.Opportunity.create({"Name": "x", "StageName": "Prospecting", "CloseDate": "2024-07-01", "Amount": 13})
    assert error.value.content == [{"message": "Amount can't be unlucky", "errorCode":
                                    "FIELD_CUSTOM_VALIDATION_EXCEPTION", "fields": ["Amount"]}]
    sf.Opportunity.create({"Name": "x", "StageName": "Prospecting", "CloseDate": "2024-07-01", "Amount": 14})


def test_server_errors_have_salesforce_bodies(fake_org):
    sf = fake_org.client()
    fake_org.faults.server_error(503, path=r"/query", times=1)
    with pytest.raises(SalesforceGeneralError) as error:
        sf.query("SELECT Id FROM Account")
    assert error.value.status == 503
    assert error.value.content == [{"errorCode": "SERVER_UNAVAILABLE", "message": "Server unavailable, please retry later."}]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    fake_org.faults.server_error(500, path=r"^/services/async/", times=1)
    response = requests.get(f"{fake_org.instance_url}/services/async/59.0/job/750x",
                            headers={"X-SFDC-Session": fake_org.login()})
    assert response.status_code == 500 and "<exceptionCode>UNKNOWN_EXCEPTION</exceptionCode>" in response.text
    fake_org.faults.server_error(502, body="<html>Bad Gateway</html>", content_type="text/html")
    gateway = requests.get(f"{fake_org.instance_url}/services/data/v59.0/limits")
    assert (gateway.status_code, gateway.text) == (502, "<html>Bad Gateway</html>")


def test_slow_responses_still_answer(fake_org):
    fault = fake_org.faults.slow(0.01, path=r"/limits", times=1)
    assert "DailyApiRequests" in fake_org.client().limits()
    assert fault.hits == 1


def test_hang_in_process_times_the_client_out(fake_org):
    fake_org.faults.hang(path=r"/query")
    with pytest.raises(requests.exceptions.ReadTimeout):
        fake_org.client().query("SELECT Id FROM Account")


def test_hang_on_the_server_until_the_client_gives_up(fake_org_server):
    fake_org_server.org.faults.hang(path=r"/query", seconds=5)
    sf = fake_org_server.client()
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.query("SELECT Id FROM Account", timeout=0.3)
    fake_org_server.org.faults.release()
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_quota_exhaustion(fake_org):
    sf = fake_org.client()
    fake_org.faults.exhaust_quota()
    with pytest.raises(SalesforceRefusedRequest) as error:
        sf.query("SELECT Id FROM Account")
    assert error.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    response = requests.get(f"{fake_org.instance_url}/services/async/59.0/job/750x",
                            headers={"X-SFDC-Session": fake_org.login()})
    assert response.status_code == 403 and "<exceptionCode>ExceededQuota</exceptionCode>" in response.text
