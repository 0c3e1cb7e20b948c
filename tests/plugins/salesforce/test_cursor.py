"""Cursors and windows: what a stored cursor means, and where a stopped run resumes."""

from __future__ import annotations

import datetime as dt

import pytest

from tether.core.errors import PermanentConnectorError
from tether.plugins.salesforce.cursor import BulkResume, Position, make_window, parse_cursor

UTC = dt.timezone.utc
T = dt.datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)


def test_cursor_strings_round_trip():
    for text in ("2024-06-03T09:00:00.000Z", "2024-06-03T09:00:00.000Z|0068d0000010000AAA",
                 "bulk|7508d0000010000AAA|3|120|2024-06-01T00:00:00.000Z|2024-06-03T08:58:00.000Z",
                 "bulk|7508d0000010000AAA|0|0|-|2024-06-03T08:58:00.000Z"):
        parsed = parse_cursor(text)
        assert parsed.encode() == text
        assert len(text) <= 100
    assert parse_cursor(None) == Position()


def test_a_foreign_cursor_is_refused_with_the_way_out():
    with pytest.raises(PermanentConnectorError, match="not one this connector writes") as refused:
        parse_cursor("page=7")
    assert "--full" in refused.value.hint


def test_positions_only_move_forward():
    watermark, keyset = Position(T), Position(T, "006B")
    assert watermark.at_least(keyset) == keyset and keyset.at_least(watermark) == keyset
    assert keyset.at_least(Position(T, "006A")) == keyset
    assert keyset.at_least(Position(T + MINUTE)) == Position(T + MINUTE)
    assert Position().at_least(watermark) == watermark


def test_window_is_half_open_and_its_watermark_stays_behind_the_lookback():
    window = make_window(Position(T - 10 * MINUTE), T, MINUTE, dt.timedelta(seconds=300))
    assert window.where() == ("SystemModstamp >= 2024-06-03T08:50:00.000Z AND "
                              "SystemModstamp < 2024-06-03T09:01:00.000Z")
    assert window.watermark == Position(T - 5 * MINUTE)


def test_keyset_cursors_only_where_nothing_can_still_commit():
    window = make_window(Position(), T, MINUTE, dt.timedelta(seconds=300))
    settled = T - 10 * MINUTE
    assert window.page_cursor(settled, "006A") == "2024-06-03T08:50:00.000Z|006A"
    assert window.page_cursor(T - MINUTE, "006B") == "2024-06-03T08:55:00.000Z"  # inside the lookback


def test_keyset_where_clause_resumes_after_the_last_record():
    assert Position(T, "006A").soql() == ("(SystemModstamp > 2024-06-03T09:00:00.000Z OR "
                                          "(SystemModstamp = 2024-06-03T09:00:00.000Z AND Id > '006A'))")


def test_a_future_start_makes_an_empty_window():
    assert make_window(Position(T + 60 * MINUTE), T, MINUTE, dt.timedelta(0)).empty
    assert not make_window(Position(T - MINUTE), T, MINUTE, dt.timedelta(0)).empty


def test_bulk_resume_keeps_the_window_start_and_watermark():
    resume = BulkResume("750A", 2, 5, Position(T - MINUTE, "006A"), T)
    assert resume.encode() == "bulk|750A|2|5|2024-06-03T08:59:00.000Z|2024-06-03T09:00:00.000Z"
