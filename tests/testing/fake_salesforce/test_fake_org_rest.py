"""REST API shapes: CRUD, system fields, errors, limits, replication, describe."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (SalesforceExpiredSession, SalesforceMalformedRequest,
                                          SalesforceRefusedRequest, SalesforceResourceNotFound)

from tether.testing.fake_salesforce import FakeOrg, fake_org_responses, is_valid_id
from tether.testing.fake_salesforce.org import ADMIN_USERNAME, DEFAULT_PASSWORD, DEFAULT_TOKEN


def _opportunity(sf, **values):
    return sf.Opportunity.create({"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2024-07-01", **values})["id"]


def test_create_sets_system_fields_with_millisecond_stamps(fake_org, fake_clock):
    sf = fake_org.client()
    fake_clock.advance(ms=7)
    record_id = _opportunity(sf, Amount=1200)
    record = sf.Opportunity.get(record_id)
    assert is_valid_id(record_id) and record_id.startswith("006") and len(record_id) == 18
    assert record["CreatedDate"] == record["LastModifiedDate"] == record["SystemModstamp"] == \
        "2024-06-03T09:00:00.007+0000"
    assert record["CreatedById"] == record["LastModifiedById"] == record["OwnerId"] == fake_org.admin_user_id
    assert record["IsDeleted"] is False
    assert (record["Probability"], record["ForecastCategoryName"], record["ExpectedRevenue"]) == (10.0, "Pipeline", 120.0)


def test_many_writes_can_share_one_system_modstamp(fake_org):
    sf = fake_org.client()
    ids = [_opportunity(sf, Name=f"Deal {i}") for i in range(5)]
    stamps = {r["SystemModstamp"] for r in sf.query_all("SELECT SystemModstamp FROM Opportunity")["records"]}
    assert len(ids) == 5 and len(stamps) == 1


def test_stage_change_drives_probability_forecast_and_flags(fake_org, fake_clock):
    sf = fake_org.client()
    record_id = _opportunity(sf, Amount=1000)
    fake_clock.advance(seconds=1)
    sf.Opportunity.update(record_id, {"StageName": "Closed Won"})
    won = sf.Opportunity.get(record_id)
    assert (won["IsClosed"], won["IsWon"], won["Probability"], won["ForecastCategory"]) == (True, True, 100.0, "Closed")
    sf.Opportunity.update(record_id, {"StageName": "Negotiation/Review", "Probability": 80})
    reopened = sf.Opportunity.get(record_id)
    assert (reopened["IsClosed"], reopened["Probability"], reopened["ForecastCategoryName"]) == (False, 80.0, "Pipeline")
    history = fake_org.query(f"SELECT StageName, Probability FROM OpportunityHistory WHERE OpportunityId = '{record_id}'")
    assert [h["StageName"] for h in history] == ["Prospecting", "Closed Won", "Negotiation/Review"]


def test_custom_stage_table_drives_derivation(fake_org):
    fake_org.set_opportunity_stages([
        {"ApiName": "Discovery", "DefaultProbability": 15.0, "ForecastCategoryName": "Pipeline", "IsClosed": False,
         "IsWon": False},
        {"ApiName": "Signed", "DefaultProbability": 100.0, "ForecastCategoryName": "Closed", "IsClosed": True,
         "IsWon": True}])
    sf = fake_org.client()
    record_id = _opportunity(sf, StageName="Signed")
    assert sf.Opportunity.get(record_id)["IsWon"] is True
    stages = sf.query("SELECT ApiName, DefaultProbability FROM OpportunityStage ORDER BY SortOrder")["records"]
    assert [(s["ApiName"], s["DefaultProbability"]) for s in stages] == [("Discovery", 15.0), ("Signed", 100.0)]


def test_read_only_fields_are_refused_with_salesforce_error(fake_org):
    sf = fake_org.client()
    with pytest.raises(SalesforceMalformedRequest) as error:
        _opportunity(sf, IsWon=True, ExpectedRevenue=5)
    assert error.value.content == [{
        "message": "Unable to create/update fields: IsWon, ExpectedRevenue. Please check the security settings of this "
                   "field and verify that it is read/write for your profile or permission set.",
        "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE", "fields": ["IsWon", "ExpectedRevenue"]}]


@pytest.mark.parametrize("body, expected", [
    ({"Name": "x"}, [{"message": "Required fields are missing: [StageName, CloseDate]",
                      "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["StageName", "CloseDate"]}]),
    ({"Name": "x", "StageName": "Prospecting", "CloseDate": "2024-01-01", "Bogus__c": 1},
     [{"message": "No such column 'Bogus__c' on sobject of type Opportunity", "errorCode": "INVALID_FIELD"}]),
    ({"Name": "x", "StageName": "Prospecting", "CloseDate": "2024-01-01", "AccountId": "0068d0000010000AAA"},
     [{"message": "Account ID: id value of incorrect type: 0068d0000010000AAA",
       "errorCode": "FIELD_INTEGRITY_EXCEPTION", "fields": ["AccountId"]}]),
])
def test_invalid_bodies(fake_org, body, expected):
    with pytest.raises(SalesforceMalformedRequest) as error:
        fake_org.client().Opportunity.create(body)
    assert error.value.content == expected


def test_not_found_and_deleted(fake_org):
    sf = fake_org.client()
    record_id = _opportunity(sf)
    sf.Opportunity.delete(record_id)
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.Opportunity.get(record_id)
    assert missing.value.content == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    with pytest.raises(SalesforceResourceNotFound) as deleted:
        sf.Opportunity.update(record_id, {"Name": "again"})
    assert deleted.value.content == [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}]
    with pytest.raises(SalesforceResourceNotFound) as unknown:
        sf.Foo__c.get("a008d0000010000AAA")
    assert unknown.value.status == 404


def test_recycle_bin_query_all_and_undelete(fake_org):
    sf = fake_org.client()
    account = sf.Account.create({"Name": "Acme"})["id"]
    opportunity = _opportunity(sf, AccountId=account)
    sf.Account.delete(account)  # cascades to the opportunity
    assert sf.query("SELECT Id FROM Opportunity")["totalSize"] == 0
    rows = sf.query_all("SELECT Id, IsDeleted FROM Opportunity", include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(opportunity, True)]
    fake_org.undelete(account)
    assert sf.Opportunity.get(opportunity)["IsDeleted"] is False
    fake_org.delete(account)
    fake_org.empty_recycle_bin()
    assert sf.query_all("SELECT Id FROM Opportunity", include_deleted=True)["totalSize"] == 0


def test_updated_and_deleted_replication(fake_org, fake_clock):
    sf = fake_org.client()
    start = fake_clock.now()
    first = _opportunity(sf, Name="first")
    fake_clock.advance(minutes=2)
    second = _opportunity(sf, Name="second")
    fake_clock.advance(minutes=2)
    sf.Opportunity.delete(first)
    fake_clock.advance(minutes=1)
    end = fake_clock.now()
    updated = sf.Opportunity.updated(start, end)
    assert updated == {"ids": [second], "latestDateCovered": "2024-06-03T09:05:00.000+0000"}
    deleted = sf.Opportunity.deleted(start, end)
    assert deleted["deletedRecords"] == [{"id": first, "deletedDate": "2024-06-03T09:04:00.000+0000"}]
    assert deleted["latestDateCovered"] == "2024-06-03T09:05:00.000+0000"
    with pytest.raises(SalesforceMalformedRequest) as too_old:
        sf.Opportunity.updated(start - timedelta(days=31), end)
    assert too_old.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_limit_header_and_request_limit_exceeded(fake_clock):
    with fake_org_responses(FakeOrg(clock=fake_clock, api_limit=3)) as org:
        sf = org.client()
        sf.query("SELECT Id FROM Account")
        assert sf.api_usage["api-usage"] == (1, 3)
        response = requests.get(f"{org.instance_url}/services/data/v59.0/limits",
                                headers={"Authorization": f"Bearer {org.login()}"})
        assert response.headers["Sforce-Limit-Info"] == "api-usage=2/3"
        assert response.json()["DailyApiRequests"] == {"Max": 3, "Remaining": 1}
        sf.query("SELECT Id FROM Account")
        with pytest.raises(SalesforceRefusedRequest) as refused:
            sf.query("SELECT Id FROM Account")
        assert refused.value.status == 403
        assert refused.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        fake_clock.advance(hours=24)  # the window rolls; the old session has timed out by now
        assert org.client().query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_expired_session_is_401_and_password_clients_log_in_again(fake_org, fake_clock):
    direct = fake_org.client()
    relogin = Salesforce(username=ADMIN_USERNAME, password=DEFAULT_PASSWORD, security_token=DEFAULT_TOKEN)
    fake_org.faults.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as expired:
        direct.query("SELECT Id FROM Account")
    assert expired.value.status == 401
    assert expired.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert relogin.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    fake_clock.advance(hours=2, seconds=1)  # inactivity timeout
    with pytest.raises(SalesforceExpiredSession):
        fake_org.client().session_id and direct.query("SELECT Id FROM Account")


def test_describe_reports_custom_objects_and_read_only_flags(fake_org):
    fake_org.add_custom_object("Health_Score__c", fields=[
        {"name": "Score__c", "type": "double", "precision": 5, "scale": 1},
        {"name": "Account__c", "type": "reference", "referenceTo": "Account"}])
    sf = fake_org.client()
    describe = sf.Health_Score__c.describe()
    assert describe["custom"] is True and describe["keyPrefix"] == "a00"
    fields = {f["name"]: f for f in describe["fields"]}
    assert fields["Account__c"]["relationshipName"] == "Account__r"
    assert fields["Score__c"]["soapType"] == "xsd:double"
    opportunity = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert (opportunity["IsWon"]["createable"], opportunity["IsWon"]["updateable"]) == (False, False)
    assert opportunity["StageName"]["nillable"] is False
    names = [o["name"] for o in sf.describe()["sobjects"]]
    assert {"Account", "Opportunity", "OpportunityStage", "Task", "Event", "User", "RecordType",
            "Health_Score__c"} <= set(names)
    record = sf.Health_Score__c.create({"Name": "Q2", "Score__c": 7.25,
                                         "Account__c": sf.Account.create({"Name": "Acme"})["id"]})
    row = sf.query(f"SELECT Score__c, Account__r.Name FROM Health_Score__c WHERE Id = '{record['id']}'")["records"][0]
    assert (row["Score__c"], row["Account__r"]["Name"]) == (7.3, "Acme")


def test_unknown_resource_and_method(fake_org):
    token = fake_org.login()
    base = f"{fake_org.instance_url}/services/data/v59.0"
    missing = requests.get(f"{base}/nothing/here/at/all", headers={"Authorization": f"Bearer {token}"})
    assert (missing.status_code, missing.json()) == (404, [{"errorCode": "NOT_FOUND",
                                                             "message": "The requested resource does not exist"}])
    versions = requests.get(f"{fake_org.instance_url}/services/data/").json()
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions


def test_upsert_below_api_46_answers_204_on_update(fake_org):
    fake_org.add_custom_field("Account", "Ext__c", external_id=True)
    sf = fake_org.client(version="45.0")
    assert sf.Account.upsert("Ext__c/A-1", {"Name": "Acme"}) == 201
    assert sf.Account.upsert("Ext__c/A-1", {"Name": "Acme 2"}) == 204


def test_query_cursor_expires(fake_org, fake_clock):
    for index in range(250):
        fake_org.insert("Account", {"Name": f"A{index}"})
    sf = fake_org.client()
    first = sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=200"})
    fake_clock.advance(minutes=16)
    with pytest.raises(SalesforceMalformedRequest) as expired:
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert expired.value.content == [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]


def test_datetime_inputs_are_normalised(fake_org):
    sf = fake_org.client()
    task = sf.Event.create({"Subject": "Demo", "StartDateTime": "2024-06-10T10:00:00+02:00", "DurationInMinutes": 30})
    event = sf.Event.get(task["id"])
    assert (event["StartDateTime"], event["EndDateTime"], event["ActivityDate"]) == (
        "2024-06-10T08:00:00.000+0000", "2024-06-10T08:30:00.000+0000", "2024-06-10")
    assert datetime(2024, 6, 3, 9, tzinfo=timezone.utc) == fake_org.clock.now()
