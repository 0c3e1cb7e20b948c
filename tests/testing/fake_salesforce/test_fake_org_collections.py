"""sObject Collections through simple-salesforce's ``restful``."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

ROLLED_BACK = {"id": None, "success": False, "errors": [{
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": []}]}


def _account(name=None):
    record = {"attributes": {"type": "Account"}}
    if name is not None:
        record["Name"] = name
    return record


def test_all_or_none_rolls_everything_back(fake_org):
    sf = fake_org.client()
    results = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": True, "records": [_account("A"), _account(), _account("C")]})
    assert results == [ROLLED_BACK, {"success": False, "errors": [{
        "statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Name]", "fields": ["Name"]}]},
        ROLLED_BACK]
    assert fake_org.count("Account") == 0


def test_update_and_mixed_types(fake_org):
    sf = fake_org.client()
    created = sf.restful("composite/sobjects", method="POST", json={"records": [
        _account("Acme"), {"attributes": {"type": "Contact"}, "LastName": "Lovelace"}]})
    account_id, contact_id = (r["id"] for r in created)
    updated = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Id": account_id, "Name": "Acme 2"},
        {"attributes": {"type": "Contact"}, "Id": contact_id, "FirstName": "Ada"},
        {"attributes": {"type": "Account"}, "Name": "no id"}]})
    assert updated[:2] == [{"id": account_id, "success": True, "errors": []},
                           {"id": contact_id, "success": True, "errors": []}]
    assert updated[2] == {"success": False, "errors": [{"statusCode": "MISSING_ARGUMENT",
                                                        "message": "Id not specified in an update call", "fields": []}]}
    assert fake_org.get(contact_id)["Name"] == "Ada Lovelace"


def test_upsert_by_external_id(fake_org):
    fake_org.add_custom_field("Account", "Ext__c", external_id=True)
    sf = fake_org.client()
    first = sf.restful("composite/sobjects/Account/Ext__c", method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Ext__c": "A-1", "Name": "One"}]})
    again = sf.restful("composite/sobjects/Account/Ext__c", method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Ext__c": "A-1", "Name": "One again"},
        {"attributes": {"type": "Account"}, "Ext__c": "A-2", "Name": "Two"}]})
    assert first == [{"id": first[0]["id"], "success": True, "errors": [], "created": True}]
    assert [(r["id"] == first[0]["id"], r["created"]) for r in again] == [(True, False), (False, True)]


def test_delete_reports_per_id(fake_org):
    sf = fake_org.client()
    record_id = fake_org.insert("Account", {"Name": "Acme"})
    results = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": f"{record_id},001xx", "allOrNone": "false"})
    assert results == [{"id": record_id, "success": True, "errors": []},
                       {"success": False, "errors": [{"statusCode": "MALFORMED_ID", "message": "malformed id 001xx",
                                                       "fields": []}]}]


def test_more_than_200_records_is_a_request_error(fake_org):
    with pytest.raises(SalesforceMalformedRequest) as error:
        fake_org.client().restful("composite/sobjects", method="POST",
                                  json={"records": [_account(str(i)) for i in range(201)]})
    assert error.value.content == [{"message": "record limit reached. cannot submit more than 200 records into this "
                                               "call", "errorCode": "EXCEEDED_ID_LIMIT"}]


def test_retrieve_by_post_returns_null_for_missing(fake_org):
    record_id = fake_org.insert("Account", {"Name": "Acme"})
    records = fake_org.client().restful("composite/sobjects/Account", method="POST",
                                        json={"ids": [record_id, "0018d00000FFFFFAAA"], "fields": ["Name"]})
    assert records == [{"attributes": {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{record_id}"},
                        "Name": "Acme"}, None]
