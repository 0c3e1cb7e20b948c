"""Source values become exact tether values: Decimal money, UTC datetimes, dates, booleans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tether.core.sync.coerce import CoercionError, coerce, format_datetime, to_jsonable

UTC = dt.timezone.utc


@pytest.mark.parametrize("type_name, value, expected", [
    ("money", "120000.5", Decimal("120000.5")),
    ("money", 0.1, Decimal("0.1")),  # a JSON float keeps its shortest form, not its binary expansion
    ("money", Decimal("3.14159"), Decimal("3.14159")),
    ("money", "", None),
    ("datetime", "2024-05-01T10:00:00.000+0000", dt.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("datetime", "2024-05-01T12:30:00.000+02:30", dt.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("datetime", "2024-05-01T10:00:00.123456789Z", dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ("datetime", "2024-05-01T10:00:00", dt.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("date", "2025-03-31", dt.date(2025, 3, 31)),
    ("boolean", "true", True), ("boolean", "FALSE", False), ("boolean", False, False), ("boolean", None, None),
    ("integer", "120", 120), ("integer", 12.0, 12),
    ("percent", "12.5", 12.5), ("picklist", "Closed Won", "Closed Won"), ("string", 42, "42"),
    ("json", '{"a": 1}', {"a": 1}),
])
def test_values_convert_by_type(type_name, value, expected):
    result = coerce("Field", type_name, value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("type_name, value", [
    ("money", "12,00"), ("money", "NaN"), ("integer", "12.5"), ("boolean", "maybe"), ("datetime", "yesterday"),
    ("date", "31/03/2025"),
])
def test_bad_values_name_the_field(type_name, value):
    with pytest.raises(CoercionError, match=f"field 'Amount__c': '{value}' is not a valid {type_name}"):
        coerce("Amount__c", type_name, value)


def test_json_forms_are_exact_and_utc():
    assert to_jsonable({"amount": Decimal("1200.50"), "at": dt.datetime(2025, 1, 2, 17, tzinfo=dt.timezone(
        dt.timedelta(hours=2))), "on": dt.date(2025, 1, 2), "tags": ("a",)}) == {
        "amount": "1200.50", "at": "2025-01-02T15:00:00Z", "on": "2025-01-02", "tags": ["a"]}
    with pytest.raises(ValueError, match="naive datetime"):
        to_jsonable(dt.datetime(2025, 1, 2))


def test_salesforce_datetime_literals_have_milliseconds():
    assert format_datetime(dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)) == "2024-05-01T10:00:00.123Z"
