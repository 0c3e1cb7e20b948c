"""Reading a drop folder: arrival order, settling, keys, formats, cursors and errors."""

from __future__ import annotations

import datetime as dt
import os
import time

import pyarrow as pa
import pytest

from tether.core.connectors import ReadRequest, WriteOperation
from tether.core.errors import PermanentConnectorError, TransientConnectorError
from tether.core.store.types import utcnow
from tether.plugins.filedrop.storage import parse_location

from .conftest import read_all, records
from .drop import usage

DAY = "2024-06-01"


def test_each_sub_folder_is_an_object_with_the_union_of_its_files_columns(drop, open_drop):
    drop.csv("usage", [usage("a1", "logins", DAY, 3)])
    drop.csv("usage", [{**usage("a2", "logins", DAY, 4), "region": "EMEA"}])
    drop.parquet("accounts", [{"account_id": "a1", "name": "Acme", "seats": 12, "renews": dt.date(2025, 1, 1)}])
    drop.clock.advance(60)
    catalog = open_drop().discover()
    assert [o.name for o in catalog.objects] == ["accounts", "usage"]
    usage_fields = {f.name: f.type for f in catalog.get("usage").fields}
    assert usage_fields == {"_id": "id", "_file": "string", "_row": "integer", "_arrived": "datetime",
                            "account": "string", "metric": "string", "date": "string", "value": "string",
                            "region": "string"}
    account_fields = {f.name: f.type for f in catalog.get("accounts").fields}
    assert account_fields["seats"] == "integer" and account_fields["renews"] == "date"
    assert catalog.get("usage").primary_key == "_id" and catalog.get("usage").cursor_field == "_arrived"


def test_files_are_read_in_arrival_order_and_a_correction_replaces_rows_by_key(drop, open_drop):
    drop.csv("usage", [usage("a1", "logins", DAY, 3), usage("a2", "logins", DAY, 5)], name="zz-first.csv")
    drop.clock.advance(5)
    drop.csv("usage", [usage("a1", "logins", DAY, 30)], name="aa-correction.csv")
    drop.clock.advance(60)
    rows = records(read_all(open_drop(), "usage"))
    assert [(r["_file"], r["_id"], r["value"]) for r in rows] == [
        ("zz-first.csv", f"a1|logins|{DAY}", "3"), ("zz-first.csv", f"a2|logins|{DAY}", "5"),
        ("aa-correction.csv", f"a1|logins|{DAY}", "30")]
    assert rows[0]["_arrived"] < rows[2]["_arrived"]


def test_a_file_copied_with_an_old_modification_time_still_arrives_when_it_lands(drop, open_drop):
    drop.csv("usage", [usage("a1", "logins", DAY, 1)], when=utcnow() - dt.timedelta(minutes=10))
    time.sleep(0.05)  # file times tick with the kernel's coarse clock: keep the two arrivals apart
    connector = open_drop()
    first = read_all(connector, "usage")
    # `cp -p`: the modification time is a year old, but the file arrives now (its inode change time).
    late = drop.csv("usage", [usage("a9", "logins", DAY, 9)], when=drop.clock.now() - dt.timedelta(days=365))
    assert late.stat().st_mtime < late.stat().st_ctime
    drop.clock.advance(3600)
    later = read_all(open_drop(), "usage", cursor=first[-1].cursor)
    assert [r["account"] for r in records(later)] == ["a9"]


def test_files_still_settling_are_left_for_the_next_read(drop, open_drop):
    drop.csv("usage", [usage("a1", "logins", DAY, 1)])
    assert records(read_all(open_drop(settle_seconds=30), "usage")) == []
    drop.clock.advance(31)
    assert len(records(read_all(open_drop(settle_seconds=30), "usage"))) == 1


def test_hidden_partial_and_other_files_are_not_read(drop, open_drop):
    drop.csv("usage", [usage("a1", "logins", DAY, 1)])
    for name in (".hidden.csv", "~lock.csv", "upload.csv.part", "export.csv.tmp", "notes.txt"):
        (drop.folder("usage") / name).write_text("account,metric,date,value\nx,y,2024-06-01,1\n")
    drop.clock.advance(60)
    assert [r["account"] for r in records(read_all(open_drop(), "usage"))] == ["a1"]


def test_resuming_inside_a_parquet_file_skips_whole_row_groups(drop, open_drop):
    rows = [usage(f"a{n:03d}", "logins", DAY, n) for n in range(100)]
    drop.parquet("usage", rows, row_group_size=10)
    drop.clock.advance(60)
    connector = open_drop()
    pages = read_all(connector, "usage", page_size=25)
    assert [len(p.records) for p in pages] == [25, 25, 25, 25]
    resumed = records(read_all(connector, "usage", cursor=pages[1].cursor, page_size=25))
    assert [r["_row"] for r in resumed] == list(range(51, 101))
    request = ReadRequest("usage", ("_id",), cursor=pages[2].cursor)
    assert connector.count(request) == 25
    assert isinstance(resumed[0]["value"], int)


def test_parquet_timestamps_without_a_zone_are_utc(drop, open_drop):
    schema = pa.schema([("account", pa.string()), ("occurred_at", pa.timestamp("ms")), ("type", pa.string()),
                        ("subject", pa.string())])
    drop.parquet("events", [{"account": "a1", "occurred_at": dt.datetime(2024, 6, 1, 9, 30), "type": "Login",
                             "subject": "Signed in"}], schema=schema)
    drop.clock.advance(60)
    [row] = records(read_all(open_drop(), "events"))
    assert row["occurred_at"] == dt.datetime(2024, 6, 1, 9, 30, tzinfo=dt.timezone.utc)
    assert row["_id"].startswith("drop-") and row["_id"].endswith(":1")  # no key columns: file and row


def test_keys_longer_than_the_engine_stores_are_hashed(drop, open_drop):
    drop.csv("usage", [usage("a" * 80, "logins", DAY, 1)])
    drop.clock.advance(60)
    [row] = records(read_all(open_drop(), "usage"))
    assert row["_id"].startswith("sha1:") and len(row["_id"]) <= 64


def test_a_row_without_its_key_names_the_file_row_and_column(drop, open_drop):
    drop.csv("usage", [usage("a1", "logins", DAY, 1), usage("", "logins", DAY, 2)], name="june.csv")
    drop.clock.advance(60)
    with pytest.raises(PermanentConnectorError, match="usage/june.csv row 2: key column 'account' is empty"):
        read_all(open_drop(), "usage")


def test_a_ragged_csv_line_is_a_permanent_error_naming_the_line(drop, open_drop):
    path = drop.folder("usage") / "bad.csv"
    path.write_text("account,metric,date,value\na1,logins,2024-06-01,1\na2,logins\n")
    drop.stamp(path)
    drop.clock.advance(60)
    with pytest.raises(PermanentConnectorError, match="usage/bad.csv line 3: 2 fields where the header has 4") as err:
        read_all(open_drop(), "usage")
    assert "fix or replace the file" in err.value.one_line()


def test_a_csv_in_another_encoding_or_delimiter_reads_with_its_settings(drop, open_drop):
    path = drop.folder("usage") / "latin.csv"
    path.write_bytes("account;metric;date;value\nSociété;logins;2024-06-01;4\n".encode("latin-1"))
    drop.stamp(path)
    drop.clock.advance(60)
    with pytest.raises(PermanentConnectorError, match="not utf-8 text"):
        read_all(open_drop(), "usage")
    [row] = records(read_all(open_drop(encoding="latin-1", csv_delimiter=";"), "usage"))
    assert row["account"] == "Société"


def test_a_vanished_file_is_transient_and_a_missing_folder_permanent(drop, open_drop, tmp_path):
    drop.csv("usage", [usage("a1", "logins", DAY, 1)])
    os.symlink(tmp_path / "gone.csv", drop.folder("usage") / "gone.csv")
    drop.clock.advance(60)
    with pytest.raises(TransientConnectorError, match="went away"):
        read_all(open_drop(), "usage")
    with pytest.raises(PermanentConnectorError, match="no folder 'events'"):
        list(open_drop().read(ReadRequest("events", ("_id",))))
    missing = open_drop(location=str(tmp_path / "nowhere"))
    with pytest.raises(PermanentConnectorError, match="does not exist"):
        missing.discover()


def test_a_future_or_foreign_cursor(drop, open_drop):
    drop.csv("usage", [usage("a1", "logins", DAY, 1)])
    drop.clock.advance(60)
    assert read_all(open_drop(), "usage", cursor="2999-01-01T00:00:00Z") == []
    with pytest.raises(PermanentConnectorError, match="not one this connector writes"):
        read_all(open_drop(), "usage", cursor="bulk|750x|1|2")


def test_writes_are_refused_as_permanent(open_drop):
    [result] = open_drop().write([WriteOperation("usage", "upsert", {"value": 1}, local_id=7)])
    assert (result.success, result.error_kind, result.local_id) == (False, "permanent", 7)


def test_locations(tmp_path):
    assert parse_location(f"file://{tmp_path}") == tmp_path
    assert parse_location("file:///data/my%20drop") == parse_location("/data/my drop")
    with pytest.raises(PermanentConnectorError, match="uses s3://, which this version cannot read"):
        parse_location("s3://bucket/drop")
