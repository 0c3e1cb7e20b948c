"""The upsert writer converts values column by column exactly as the ORM's bind processors do."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.dialects import sqlite

from tether.core.store.models import Opportunity
from tether.core.sync.domain_rules import rule_record
from tether.core.sync.upsert import UpsertWriter

UTC = dt.timezone.utc


def test_convert_matches_each_columns_bind_processor():
    dialect = sqlite.dialect()
    table = Opportunity.__table__
    columns = ["external_id", "amount", "close_date", "source_modstamp", "attributes", "is_closed"]
    writer = UpsertWriter(dialect, table, columns, merge_attributes=False, full_reload=False)
    shared = {}
    stamp = dt.datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    rows = [
        ("a", Decimal("10.005"), dt.date(2024, 1, 31), stamp, shared, True),
        ("b", None, dt.date(2024, 1, 31), stamp, {"tier": "gold"}, False),
        ("c", Decimal("10.005"), None, None, shared, None),
        ("d", Decimal("-3"), dt.date(2025, 2, 1), stamp.astimezone(dt.timezone(dt.timedelta(hours=2))), None, True),
    ]
    expected = []
    for row in rows:
        values = []
        for name, value in zip(columns, row):
            processor = table.c[name].type._cached_bind_processor(dialect)
            values.append(processor(value) if processor is not None and value is not None else value)
        expected.append(tuple(values))
    assert [tuple(r) for r in writer.convert(rows)] == expected
    assert writer.convert([]) == []


def test_rule_record_reads_attributes_whatever_each_records_keys():
    shapes: dict = {}
    plain = rule_record({"name": "A", "company_id": 1}, shapes)
    custom = rule_record({"name": "B", "attributes.product_line": "Analytics", "company_id": 2}, shapes)
    again = rule_record({"name": "C", "attributes.product_line": "Data", "company_id": 3}, shapes)
    assert plain["attributes"] == {}
    assert custom["attributes"] == {"product_line": "Analytics"} and custom["attributes.product_line"] == "Analytics"
    assert again["attributes"] == {"product_line": "Data"}
    assert rule_record({"attributes.x": 1}) == {"attributes.x": 1, "attributes": {"x": 1}}
