"""Record ids and the controllable clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tether.testing.fake_salesforce import FakeClock, IdFactory, is_valid_id, to15, to18
from tether.testing.fake_salesforce.ids import KEY_PREFIXES


@pytest.mark.parametrize("id15, id18", [
    # Real ids from the Outbound Message samples in shared/reference.
    ("0067F000003pmdW", "0067F000003pmdWQAQ"),
    ("00D7F00000107Xs", "00D7F00000107XsUAI"),
    ("0015w00002BFDeL", "0015w00002BFDeLAAX"),
    ("a29e0000000K4P0", "a29e0000000K4P0AAK"),
    ("04l7F000008aeAy", "04l7F000008aeAyQAI"),
])
def test_case_safe_suffix_matches_salesforce(id15, id18):
    assert to18(id15) == id18 and to18(id18) == id18 and to15(id18) == id15
    assert is_valid_id(id15) and is_valid_id(id18)


def test_invalid_ids():
    assert not is_valid_id("0067F000003pmdWQAA")  # wrong suffix
    assert not is_valid_id("006xyz") and not is_valid_id(None) and not is_valid_id("0067F000003pmd!")
    with pytest.raises(ValueError):
        to18("short")


def test_factory_issues_increasing_ids_with_real_key_prefixes():
    factory = IdFactory(pod="5w", seed=2)
    ids = factory.next_ids(KEY_PREFIXES["Opportunity"], 5000) + [factory.next_id("006")]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(i.startswith("0065w") and len(i) == 18 and to18(i[:15]) == i for i in ids)
    assert KEY_PREFIXES["Account"] == "001" and KEY_PREFIXES["Task"] == "00T" and KEY_PREFIXES["Event"] == "00U"


def test_clock_is_frozen_until_advanced():
    clock = FakeClock("2024-02-28T23:59:59.999Z")
    assert clock.tick() == clock.tick()
    clock.advance(ms=1)
    assert clock.now() == datetime(2024, 2, 29, tzinfo=timezone.utc)
    clock.advance(days=1, hours=1)
    assert clock.today().isoformat() == "2024-03-01"
    clock.set("2025-01-01T00:00:00+01:00")
    assert clock.now() == datetime(2024, 12, 31, 23, tzinfo=timezone.utc)


def test_stepping_clock_and_frozen_block():
    clock = FakeClock("2024-01-01T00:00:00Z", step_ms=1)
    assert [clock.tick() for _ in range(3)] == [1704067200000, 1704067200001, 1704067200002]
    with clock.frozen() as at:
        assert [clock.tick() for _ in range(3)] == [at, at, at]
    assert clock.tick() == at


def test_realtime_clock_moves_and_can_be_advanced():
    clock = FakeClock(realtime=True)
    before = clock.now_ms()
    clock.advance(hours=3)
    assert clock.now_ms() - before >= 3 * 3_600_000
