"""The SOQL subset: what it selects, how it filters and sorts, and Salesforce's error messages."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


@pytest.fixture
def book(fake_org):
    """Three accounts in a hierarchy and a handful of opportunities."""
    org = fake_org
    root = org.insert("Account", {"Name": "Acme Holdings", "Industry": "Technology"})
    child = org.insert("Account", {"Name": "Acme EU", "ParentId": root})
    grandchild = org.insert("Account", {"Name": "Acme France", "ParentId": child})
    rows = [
        ("Alpha", "Prospecting", 1000, "2024-06-10", root, "New Customer"),
        ("Beta", "Closed Won", 5000, "2024-05-20", child, "Renewal"),
        ("Gamma", "Closed Lost", None, "2024-03-01", grandchild, "Renewal"),
        ("delta o'brien", "Negotiation/Review", 2500, "2024-06-03", grandchild, None),
    ]
    ids = {}
    for name, stage, amount, close, account, kind in rows:
        ids[name] = org.insert("Opportunity", {"Name": name, "StageName": stage, "Amount": amount, "CloseDate": close,
                                               "AccountId": account, "Type": kind})
    return org, ids


def names(org, where: str, order: str = "Name") -> list[str]:
    return [row["Name"] for row in org.query(f"SELECT Name FROM Opportunity WHERE {where} ORDER BY {order}")]


@pytest.mark.parametrize("where, expected", [
    ("Amount > 1000", ["Beta", "delta o'brien"]),
    ("Amount >= 1000 AND IsWon = false", ["Alpha", "delta o'brien"]),
    ("(Amount < 2000 OR Amount = null) AND NOT IsClosed = true", ["Alpha"]),
    ("Amount = null", ["Gamma"]),
    ("Amount != 1000", ["Beta", "delta o'brien", "Gamma"]),
    ("StageName IN ('Closed Won', 'closed lost')", ["Beta", "Gamma"]),
    ("Type NOT IN ('Renewal')", ["Alpha", "delta o'brien"]),
    ("Name LIKE 'DELTA%'", ["delta o'brien"]),
    ("Name LIKE '_eta'", ["Beta"]),
    ("Name = 'delta o\\'brien'", ["delta o'brien"]),
    ("CloseDate > 2024-05-31", ["Alpha", "delta o'brien"]),
    ("CloseDate = LAST_N_DAYS:30", ["Beta", "delta o'brien"]),
    ("CloseDate = NEXT_N_DAYS:7", ["Alpha"]),
    ("CloseDate = TODAY", ["delta o'brien"]),
    ("CloseDate < THIS_MONTH", ["Beta", "Gamma"]),
    ("CreatedDate = TODAY AND CreatedDate >= 2024-06-03T00:00:00Z", ["Alpha", "Beta", "delta o'brien", "Gamma"]),
    ("CreatedDate > 2024-06-03T11:00:00+02:00", []),
    ("Account.Name = 'Acme France'", ["delta o'brien", "Gamma"]),
    ("Account.Parent.Parent.Name = 'Acme Holdings'", ["delta o'brien", "Gamma"]),
    ("Account.Parent.Industry = null", ["Alpha", "delta o'brien", "Gamma"]),
])
def test_where_clauses(book, where, expected):
    org, _ = book
    assert names(org, where) == expected


def test_order_by_directions_nulls_limit_offset(book):
    org, _ = book
    assert names(org, "Name != null", "Amount DESC") == ["Beta", "delta o'brien", "Alpha", "Gamma"]
    assert names(org, "Name != null", "Amount ASC") == ["Gamma", "Alpha", "delta o'brien", "Beta"]
    assert names(org, "Name != null", "Amount ASC NULLS LAST") == ["Alpha", "delta o'brien", "Beta", "Gamma"]
    assert names(org, "Name != null", "Account.Name, Name DESC") == ["Beta", "Gamma", "delta o'brien", "Alpha"]
    rows = org.query("SELECT Name FROM Opportunity ORDER BY Name LIMIT 2 OFFSET 1")
    assert [r["Name"] for r in rows] == ["Beta", "delta o'brien"]


def test_rest_query_shapes_for_relationships_and_counts(book):
    org, ids = book
    sf = org.client()
    result = sf.query("SELECT Name, Account.Name, Account.Parent.Name FROM Opportunity WHERE Name = 'Alpha'")
    [record] = result["records"]
    assert record["Account"]["Name"] == "Acme Holdings"
    assert record["Account"]["Parent"] is None
    assert record["Account"]["attributes"]["type"] == "Account"
    count = sf.query("SELECT COUNT() FROM Opportunity WHERE IsClosed = true")
    assert count == {"totalSize": 2, "done": True, "records": []}
    aggregate = sf.query("SELECT COUNT(Amount) FROM Opportunity")
    assert aggregate["records"] == [{"attributes": {"type": "AggregateResult"}, "expr0": 3}]
    by_id = sf.query(f"SELECT Name FROM Opportunity WHERE Id = '{ids['Beta'][:15]}'")
    assert [r["Name"] for r in by_id["records"]] == ["Beta"]


@pytest.mark.parametrize("soql, code, message", [
    ("SELECT Id FROM Opportunity WHERE Amount > 1 AND Amount < 9 OR Name = 'x'", "MALFORMED_QUERY",
     "\nSELECT Id FROM Opportunity WHERE Amount > 1 AND Amount < 9 OR Name = 'x'\n"
     + " " * 59 + "^\nERROR at Row:1:Column:60\nunexpected token: 'OR'"),
    ("SELECT Id, Nmae FROM Opportunity", "INVALID_FIELD",
     "\nSELECT Id, Nmae FROM Opportunity\n           ^\nERROR at Row:1:Column:12\nNo such column 'Nmae' on entity "
     "'Opportunity'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field "
     "name. Please reference your WSDL or the describe call for the appropriate names."),
    ("SELECT Id FROM Opportunty", "INVALID_TYPE",
     "\nSELECT Id FROM Opportunty\n               ^\nERROR at Row:1:Column:16\nsObject type 'Opportunty' is not "
     "supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. "
     "Please reference your WSDL or the describe call for the appropriate names."),
    ("SELECT Acount.Name FROM Opportunity", "INVALID_FIELD",
     "\nSELECT Acount.Name FROM Opportunity\n       ^\nERROR at Row:1:Column:8\nDidn't understand relationship "
     "'Acount' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after "
     "the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."),
    ("SELECT Id FROM Opportunity WHERE Amount = '5'", "INVALID_FIELD",
     "\nSELECT Id FROM Opportunity WHERE Amount = '5'\n                                          ^\n"
     "ERROR at Row:1:Column:43\nvalue of filter criterion for field 'Amount' must be of type double and should not "
     "be enclosed in quotes"),
    ("SELECT Id FROM Opportunity WHERE CloseDate = 2024-01-01T00:00:00Z", "INVALID_FIELD",
     "\nSELECT Id FROM Opportunity WHERE CloseDate = 2024-01-01T00:00:00Z\n"
     "                                             ^\nERROR at Row:1:Column:46\nvalue of filter criterion for field "
     "'CloseDate' must be of type date and should not be enclosed in quotes"),
    ("SELECT Id FROM Opportunity WHERE Id = '006xyz'", "INVALID_QUERY_FILTER_OPERATOR",
     "\nSELECT Id FROM Opportunity WHERE Id = '006xyz'\n                                      ^\n"
     "ERROR at Row:1:Column:39\ninvalid ID field: 006xyz"),
    ("SELECT Id FROM Opportunity LIMIT 5 OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE",
     "Maximum SOQL offset allowed is 2000"),
])
def test_errors_match_salesforce_messages(fake_org, soql, code, message):
    with pytest.raises(SalesforceMalformedRequest) as error:
        fake_org.client().query(soql)
    assert error.value.content == [{"message": message, "errorCode": code}]


def test_query_all_sees_deleted_rows_and_pages_say_query(fake_org):
    for index in range(205):
        fake_org.insert("Account", {"Name": f"A{index:03d}"})
    for row in fake_org.query("SELECT Id FROM Account WHERE Name LIKE 'A00%'"):
        fake_org.delete(row["Id"])
    sf = fake_org.client()
    page = sf.query("SELECT Id, IsDeleted FROM Account", include_deleted=True,
                    headers={"Sforce-Query-Options": "batchSize=200"})
    assert page["totalSize"] == 205 and page["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    rest = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
    assert rest["done"] is True and "nextRecordsUrl" not in rest and len(rest["records"]) == 5
    assert sum(r["IsDeleted"] for r in page["records"] + rest["records"]) == 10
