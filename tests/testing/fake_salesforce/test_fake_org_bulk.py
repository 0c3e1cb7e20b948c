"""Bulk API 1.0 and 2.0 wire details: envelopes, states, headers, errors."""

from __future__ import annotations

import csv
import io
import re

import pytest
import requests
from salesforce_bulk.salesforce_bulk import BulkApiError

ASYNC = "http://www.force.com/2009/06/asyncapi/dataload"


def _bulk_headers(org, content_type="application/xml; charset=UTF-8"):
    return {"X-SFDC-Session": org.login(), "Content-Type": content_type}


def test_job_and_batch_xml_envelopes(fake_org):
    fake_org.insert("Account", {"Name": "Acme"})
    base = f"{fake_org.instance_url}/services/async/59.0"
    headers = _bulk_headers(fake_org)
    created = requests.post(f"{base}/job", headers=headers, data=(
        f'<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="{ASYNC}"><operation>query</operation>'
        "<object>Account</object><contentType>CSV</contentType></jobInfo>"))
    assert created.status_code == 201 and created.headers["Content-Type"] == "application/xml"
    job_id = re.search(r"<id>(\w+)</id>", created.text).group(1)
    assert created.text.startswith(f'<?xml version="1.0" encoding="UTF-8"?><jobInfo\n   xmlns="{ASYNC}">\n <id>750')
    for element in ("<operation>query</operation>", "<state>Open</state>", "<concurrencyMode>Parallel</concurrencyMode>",
                    "<contentType>CSV</contentType>", "<apiVersion>59.0</apiVersion>"):
        assert element in created.text
    batch = requests.post(f"{base}/job/{job_id}/batch", data="SELECT Id, Name FROM Account",
                          headers={**headers, "Content-Type": "text/csv; charset=UTF-8"})
    assert "<state>Queued</state>" in batch.text and f"<jobId>{job_id}</jobId>" in batch.text
    batch_id = re.search(r"<id>(\w+)</id>", batch.text).group(1)
    status = requests.get(f"{base}/job/{job_id}/batch/{batch_id}", headers=headers).text
    assert "<state>Completed</state>" in status and "<numberRecordsProcessed>1</numberRecordsProcessed>" in status
    result_list = requests.get(f"{base}/job/{job_id}/batch/{batch_id}/result", headers=headers).text
    result_id = re.search(r"<result>(752\w+)</result>", result_list).group(1)
    assert result_list == f'<?xml version="1.0" encoding="UTF-8"?><result-list xmlns="{ASYNC}"><result>{result_id}' \
                          "</result></result-list>"
    data = requests.get(f"{base}/job/{job_id}/batch/{batch_id}/result/{result_id}", headers=headers)
    assert data.headers["Content-Type"] == "text/csv"
    assert data.text.splitlines()[0] == '"Id","Name"'


def test_bulk_errors_are_async_api_xml(fake_org):
    base = f"{fake_org.instance_url}/services/async/59.0"
    response = requests.get(f"{base}/job/750000000000000AAA", headers={"X-SFDC-Session": "nope"})
    assert response.status_code == 400
    assert response.text == (f'<?xml version="1.0" encoding="UTF-8"?><error\n   xmlns="{ASYNC}">\n'
                             " <exceptionCode>InvalidSessionId</exceptionCode>\n"
                             " <exceptionMessage>Invalid session id</exceptionMessage>\n</error>")
    bulk = fake_org.bulk_client()
    with pytest.raises(BulkApiError) as error:
        bulk.create_query_job("Nope__c")
    assert error.value.status_code == 400 and "<exceptionCode>InvalidJob</exceptionCode>" in str(error.value)


def test_batch_states_progress_while_polled(fake_org):
    fake_org.bulk_polls_before_complete = 2
    fake_org.insert("Account", {"Name": "Acme"})
    bulk = fake_org.bulk_client()
    job = bulk.create_query_job("Account", contentType="CSV")
    batch = bulk.query(job, "SELECT Id FROM Account")
    assert [bulk.batch_state(batch, job, reload=True) for _ in range(3)] == ["InProgress", "InProgress", "Completed"]
    assert bulk.job_status(job)["numberBatchesCompleted"] == "1"


def test_failed_query_batch_carries_state_message(fake_org):
    bulk = fake_org.bulk_client()
    job = bulk.create_query_job("Account", contentType="CSV")
    batch = bulk.query(job, "SELECT Nope FROM Account")
    status = bulk.batch_status(batch, job, reload=True)
    assert status["state"] == "Failed"
    assert status["stateMessage"].startswith("InvalidBatch : Failed to process query: INVALID_FIELD: \nSELECT Nope")


def test_pk_chunking_batches_cover_id_ranges(fake_org):
    ids = [fake_org.insert("Account", {"Name": f"A{i}"}) for i in range(7)]
    bulk = fake_org.bulk_client()
    job = bulk.create_query_job("Account", contentType="CSV", pk_chunking=3)
    original = bulk.query(job, "SELECT Id FROM Account WHERE Name != 'A4'")
    batches = {b["id"]: b for b in bulk.get_batch_list(job)}
    assert batches.pop(original)["state"] == "NotProcessed"
    requests_ = [bulk.get_query_batch_request(batch_id, job) for batch_id in batches]
    assert requests_ == [
        f"SELECT Id FROM Account WHERE Name != 'A4' AND Id >= '{ids[0][:15]}' AND Id < '{ids[3][:15]}'",
        f"SELECT Id FROM Account WHERE Name != 'A4' AND Id >= '{ids[3][:15]}' AND Id < '{ids[6][:15]}'",
        f"SELECT Id FROM Account WHERE Name != 'A4' AND Id >= '{ids[6][:15]}'"]
    counts = [int(b["numberRecordsProcessed"]) for b in batches.values()]
    assert counts == [3, 2, 1]
    with pytest.raises(Exception):  # the NotProcessed parent is an "error state" for salesforce-bulk
        bulk.is_batch_done(original, job)


def test_json_and_xml_ingest_results(fake_org):
    bulk = fake_org.bulk_client()
    job = bulk.create_insert_job("Account", contentType="JSON")
    batch = bulk.post_batch(job, '[{"Name": "A"}, {"Site": "x"}]')
    bulk.close_job(job)
    assert bulk.is_batch_done(batch, job)
    results = bulk.get_batch_results(batch, job)
    assert [(r.success, r.created) for r in results] == [(True, True), (False, False)]
    assert results[1].error == [{"statusCode": "REQUIRED_FIELD_MISSING",
                                 "message": "Required fields are missing: [Name]", "fields": ["Name"]}]
    csv_job = bulk.create_update_job("Account", contentType="CSV")
    csv_batch = bulk.post_batch(csv_job, f"Id,Name\n{results[0].id},Renamed\n001xx,Bad\n")
    bulk.close_job(csv_job)
    assert bulk.is_batch_done(csv_batch, csv_job)
    rows = bulk.get_batch_results(csv_batch, csv_job)
    assert rows[0] == (results[0].id, "true", "false", "")
    assert rows[1] == ("001xx", "false", "false", "MALFORMED_ID:malformed id 001xx: --")


def test_bulk2_query_headers_and_locators(fake_org):
    for index in range(5):
        fake_org.insert("Account", {"Name": f"A{index}"})
    token = fake_org.login()
    base = f"{fake_org.instance_url}/services/data/v59.0/jobs/query"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    job = requests.post(base, headers=headers, json={"operation": "query", "query": "SELECT Name FROM Account"}).json()
    assert job["state"] == "UploadComplete" and job["contentType"] == "CSV" and job["apiVersion"] == 59.0
    info = requests.get(f"{base}/{job['id']}", headers=headers).json()
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 5 and info["jobType"] == "V2Query"
    first = requests.get(f"{base}/{job['id']}/results", headers=headers, params={"maxRecords": 2})
    assert first.headers["Sforce-NumberOfRecords"] == "2" and first.headers["Sforce-Locator"] == "Mg"
    assert first.headers["Content-Type"] == "text/csv" and first.headers["Sforce-Limit-Info"].startswith("api-usage=")
    assert first.text == '"Name"\n"A0"\n"A1"\n'
    last = requests.get(f"{base}/{job['id']}/results", headers=headers, params={"maxRecords": 5, "locator": "Mg"})
    assert last.headers["Sforce-Locator"] == "null" and last.headers["Sforce-NumberOfRecords"] == "3"
    again = requests.get(f"{base}/{job['id']}/results", headers=headers, params={"maxRecords": 2, "locator": "Mg"})
    assert again.text == '"Name"\n"A2"\n"A3"\n'  # locators can be re-fetched


def test_bulk2_ingest_lifecycle_and_upsert(fake_org):
    fake_org.add_custom_field("Account", "Ext__c", external_id=True)
    fake_org.bulk_polls_before_complete = 1
    sf = fake_org.client()
    [result] = sf.bulk2.Account.upsert(records=[{"Ext__c": "A-1", "Name": "One"}, {"Ext__c": "A-2", "Name": "Two"}],
                                       external_id_field="Ext__c", wait=0)
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (2, 0)
    successful = list(csv.DictReader(io.StringIO(sf.bulk2.Account.get_successful_records(result["job_id"]))))
    assert [(r["sf__Created"], r["Ext__c"]) for r in successful] == [("true", "A-1"), ("true", "A-2")]
    # simple-salesforce builds the CSV header from a set, so its column order varies between runs.
    unprocessed = sf.bulk2.Account.get_unprocessed_records(result["job_id"]).splitlines()
    assert len(unprocessed) == 1 and sorted(unprocessed[0].split(",")) == ['"Ext__c"', '"Name"']
    [again] = sf.bulk2.Account.upsert(records=[{"Ext__c": "A-1", "Name": "One!"}], external_id_field="Ext__c", wait=0)
    rows = list(csv.DictReader(io.StringIO(sf.bulk2.Account.get_successful_records(again["job_id"]))))
    assert rows[0]["sf__Created"] == "false" and fake_org.query("SELECT Name FROM Account WHERE Ext__c = 'A-1'") == \
        [{"Name": "One!"}]


def test_bulk2_rejects_bad_soql_at_creation(fake_org):
    with pytest.raises(Exception) as error:
        list(fake_org.client().bulk2.Account.query("SELECT Nope FROM Account", wait=0))
    assert error.value.content[0]["errorCode"] == "INVALID_FIELD"
