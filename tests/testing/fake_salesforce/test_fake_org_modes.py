"""The client libraries, unmodified, against both ways of serving the fake org."""

from __future__ import annotations

import csv
import io

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceMoreThanOneRecord


def _accounts(org, count, **extra):
    return [org.insert("Account", {"Name": f"Account {i:04d}", **extra}) for i in range(count)]


def test_query_all_iter_follows_next_records_url_paths(mode):
    ids = _accounts(mode.org, 450)
    sf = mode.client()

    first = sf.query("SELECT Id, Name FROM Account ORDER BY Name", headers={"Sforce-Query-Options": "batchSize=200"})
    assert first["totalSize"] == 450
    assert first["done"] is False
    assert len(first["records"]) == 200
    locator = first["nextRecordsUrl"]
    assert locator.startswith("/services/data/v59.0/query/01g") and locator.endswith("-200")
    assert list(first) == ["totalSize", "done", "nextRecordsUrl", "records"]

    records = list(sf.query_all_iter("SELECT Id, Name FROM Account ORDER BY Name"))
    assert [r["Id"] for r in records] == ids
    assert records[0]["attributes"] == {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{ids[0]}"}


def test_crud_and_upsert_status_codes(mode):
    mode.org.add_custom_field("Opportunity", "Ext_Id__c", external_id=True, unique=True)
    sf = mode.client()
    account = sf.Account.create({"Name": "Acme"})
    assert account == {"id": account["id"], "success": True, "errors": []}

    assert sf.Opportunity.upsert("Ext_Id__c/OPP-1", {"Name": "Renewal", "StageName": "Prospecting",
                                                      "CloseDate": "2024-09-30", "AccountId": account["id"]}) == 201
    assert sf.Opportunity.upsert("Ext_Id__c/OPP-1", {"Amount": 5000}) == 200
    response = sf.Opportunity.upsert("Ext_Id__c/OPP-1", {"Amount": 6000}, raw_response=True)
    assert response.json() == {"id": response.json()["id"], "success": True, "errors": [], "created": False}
    opportunity = sf.Opportunity.get_by_custom_id("Ext_Id__c", "OPP-1")
    assert opportunity["Amount"] == 6000.0 and opportunity["Probability"] == 10.0

    assert sf.Opportunity.update(opportunity["Id"], {"StageName": "Closed Won"}) == 204
    assert sf.Opportunity.get(opportunity["Id"])["IsWon"] is True
    assert sf.Opportunity.delete(opportunity["Id"]) == 204

    mode.org.insert("Opportunity", {"Name": "a", "StageName": "Prospecting", "CloseDate": "2024-09-30",
                                    "Ext_Id__c": "DUP"})
    mode.org.insert("Opportunity", {"Name": "b", "StageName": "Prospecting", "CloseDate": "2024-09-30",
                                    "Ext_Id__c": "dup"})
    with pytest.raises(SalesforceMoreThanOneRecord) as multiple:
        sf.Opportunity.upsert("Ext_Id__c/DUP", {"Amount": 1})
    assert multiple.value.status == 300
    assert all(url.startswith("/services/data/v59.0/sobjects/Opportunity/006") for url in multiple.value.content)


def test_collections_through_restful(mode):
    sf = mode.client()
    created = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Name": "One"},
        {"attributes": {"type": "Account"}},
    ]})
    assert created[0]["success"] is True and created[0]["errors"] == []
    assert created[1] == {"success": False, "errors": [
        {"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Name]", "fields": ["Name"]}]}
    fetched = sf.restful("composite/sobjects/Account", params={"ids": created[0]["id"], "fields": "Id,Name"})
    assert fetched[0]["Name"] == "One"
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": created[0]["id"]})
    assert deleted == [{"id": created[0]["id"], "success": True, "errors": []}]


def test_bulk_v1_through_simple_salesforce(mode):
    sf = mode.client()
    results = sf.bulk.Account.insert([{"Name": "Bulk A"}, {"Name": "Bulk B"}, {"Name": ""}])
    assert [r["success"] for r in results] == [True, True, False]
    assert results[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    rows = sf.bulk.Account.query("SELECT Id, Name, CreatedDate FROM Account ORDER BY Name", wait=0)
    assert [r["Name"] for r in rows] == ["Bulk A", "Bulk B"]
    # Bulk API 1.0 JSON sends datetimes as epoch milliseconds.
    assert rows[0]["CreatedDate"] == mode.org.clock.now_ms()


def test_bulk_v2_query_pages_with_locators(mode):
    _accounts(mode.org, 25)
    sf = mode.client()
    pages = list(sf.bulk2.Account.query("SELECT Id, Name FROM Account", max_records=10, wait=0))
    assert len(pages) == 3
    rows = [row for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert len(rows) == 25 and rows[0]["Name"] == "Account 0000"
    assert pages[0].splitlines()[0] == '"Id","Name"'


def test_bulk_v2_ingest_reports_failures(mode):
    sf = mode.client()
    [result] = sf.bulk2.Account.insert(records=[{"Name": "Ok", "Site": "HQ"}, {"Name": "", "Site": "Branch"}],
                                       wait=0)
    assert result["numberRecordsProcessed"] == 2 and result["numberRecordsFailed"] == 1
    failed = sf.bulk2.Account.get_failed_records(result["job_id"])
    header, *rows = failed.splitlines()
    assert header.split(",")[:2] == ['"sf__Id"', '"sf__Error"'] and sorted(header.split(",")[2:]) == ['"Name"', '"Site"']
    assert len(rows) == 1
    assert rows[0].startswith('"","REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --",')


@pytest.mark.parametrize("pk_chunking", [False, 4])
def test_salesforce_bulk_query_job(mode, pk_chunking):
    _accounts(mode.org, 10)
    with mode.trust():
        bulk = mode.bulk_client()
        job = bulk.create_query_job("Account", contentType="CSV", pk_chunking=pk_chunking)
        batch = bulk.query(job, "SELECT Id, Name FROM Account")
        bulk.close_job(job)
        batches = bulk.get_batch_list(job)
        if pk_chunking:
            states = {b["id"]: b["state"] for b in batches}
            assert states.pop(batch) == "NotProcessed"
            chunk_ids = list(states)
            assert len(chunk_ids) == 3
        else:
            chunk_ids = [batch]
        names = []
        for chunk in chunk_ids:
            assert bulk.is_batch_done(chunk, job)
            for result in bulk.get_all_results_for_query_batch(chunk, job):
                names += [row["Name"] for row in csv.DictReader(io.TextIOWrapper(result, "utf-8"))]
    assert sorted(names) == [f"Account {i:04d}" for i in range(10)]


def test_malformed_query_error_body(mode):
    sf = mode.client()
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.query("SELECT Id FROM Account WHERE")
    assert error.value.status == 400
    assert error.value.content == [{
        "message": "\nSELECT Id FROM Account WHERE\n                            ^\nERROR at Row:1:Column:29\n"
                   "unexpected token: '<EOF>'",
        "errorCode": "MALFORMED_QUERY"}]


def test_headers_on_the_wire(mode):
    for index in range(2500):
        mode.org.insert("Account", {"Name": f"A{index:04d}"})
    sf = mode.client()
    auth = {"Authorization": f"Bearer {sf.session_id}"}
    base = f"{mode.org.instance_url}/services/data/v59.0"
    page = sf.session.get(f"{base}/query", params={"q": "SELECT Id FROM Account"}, headers=auth)
    assert page.status_code == 200 and page.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert page.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert len(page.json()["records"]) == 2000 and page.json()["nextRecordsUrl"].endswith("-2000")
    job = sf.session.post(f"{base}/jobs/query", headers=auth,
                          json={"operation": "query", "query": "SELECT Name FROM Account"}).json()
    results = sf.session.get(f"{base}/jobs/query/{job['id']}/results", params={"maxRecords": 2000}, headers=auth)
    assert (results.headers["Sforce-NumberOfRecords"], results.headers["Sforce-Locator"]) == ("2000", "MjAwMA")
    assert results.headers["Content-Type"] == "text/csv" and results.text.count("\n") == 2001
    expired = sf.session.get(f"{base}/limits", headers={"Authorization": "Bearer expired"})
    assert (expired.status_code, expired.json()) == (401, [{"message": "Session expired or invalid",
                                                            "errorCode": "INVALID_SESSION_ID"}])
