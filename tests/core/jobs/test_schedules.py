"""Which schedules a tenant gets: core defaults, plugin jobs, manifest overrides."""

from __future__ import annotations

import datetime as dt

import pytest

from tether.core.errors import JobError
from tether.core.jobs.schedules import load_schedules, refresh_all, set_paused, tenant_schedules
from tether.core.jobs.timing import latest_fire, next_fire, parse_duration

UTC = dt.timezone.utc


def by_key(schedules):
    return {(s.job, s.object_name): s for s in schedules}


def test_defaults_cover_every_synced_object_and_plugin_job(jobs_tenant):
    tenant = jobs_tenant("acme")
    found = by_key(tenant_schedules(tenant).schedules)
    assert found[("sync", "Org")].every_seconds == 300
    assert found[("sync", "Org")].connector == "mem"
    assert found[("reconcile", "Org")].cron  # nightly
    assert found[("probe", None)].every_seconds == 60 and found[("probe", None)].source == "plugin:probe"
    # A plugin job without timing runs only when asked.
    assert ("manual", None) not in found and ("flaky", None) not in found


def test_manifest_overrides_timing_by_name_and_object(jobs_tenant):
    tenant = jobs_tenant("acme", schedules=[
        {"job": "sync", "object": "Org", "every": "1m"},
        {"job": "probe", "cron": "30 6 * * 1"},
        {"job": "reconcile", "every": "12h", "enabled": False},
        {"job": "manual", "every": "2h"},
    ])
    result = tenant_schedules(tenant)
    found = by_key(result.schedules)
    assert result.problems == []
    assert (found[("sync", "Org")].every_seconds, found[("sync", "Org")].source) == (60, "manifest")
    assert (found[("probe", None)].cron, found[("probe", None)].every_seconds) == ("30 6 * * 1", None)
    assert found[("reconcile", "Org")].enabled is False  # no object: applies to every object
    assert found[("manual", None)].every_seconds == 7200  # timing from the manifest only


def test_an_entry_for_one_object_beats_one_for_all_objects_in_any_order(jobs_tenant):
    tenant = jobs_tenant("acme", schedules=[{"job": "sync", "object": "Org", "every": "1m"},
                                            {"job": "sync", "every": "1d", "enabled": False}])
    found = by_key(tenant_schedules(tenant).schedules)
    assert (found[("sync", "Org")].every_seconds, found[("sync", "Org")].enabled) == (60, True)


def test_manifest_entries_that_cannot_apply_are_reported_not_fatal(jobs_tenant):
    tenant = jobs_tenant("acme", schedules=[
        {"job": "nightly_magic", "every": "1h"},
        {"job": "sync", "object": "Contact", "every": "5m"},
        {"job": "probe", "object": "Org", "every": "5m"},
    ])
    result = tenant_schedules(tenant)
    assert len(result.problems) == 3
    assert "schedules[0]: no job named 'nightly_magic'" in result.problems[0]
    assert "schedules[1].object: 'Contact' is not synced" in result.problems[1]
    assert "schedules[2].object: job 'probe' does not run per object" in result.problems[2]
    # The defaults still stand.
    assert by_key(result.schedules)[("sync", "Org")].every_seconds == 300


def test_cron_fires_in_the_tenants_time_zone(jobs_tenant):
    tenant = jobs_tenant("acme", settings={"timezone": "America/New_York"},
                         schedules=[{"job": "probe", "cron": "0 2 * * *"}])
    schedule = by_key(tenant_schedules(tenant).schedules)[("probe", None)]
    fire = next_fire(schedule.trigger(), dt.datetime(2026, 1, 10, 12, tzinfo=UTC))
    assert fire == dt.datetime(2026, 1, 11, 7, tzinfo=UTC)  # 02:00 EST


def test_interval_schedules_spread_over_the_interval_and_keep_their_offset(jobs_tenant):
    offsets = set()
    for index in range(20):
        tenant = jobs_tenant(f"t{index}")
        schedule = by_key(tenant_schedules(tenant).schedules)[("probe", None)]
        now = dt.datetime(2026, 1, 1, tzinfo=UTC)
        fire = next_fire(schedule.trigger(), now)
        again = next_fire(by_key(tenant_schedules(tenant).schedules)[("probe", None)].trigger(), now)
        assert fire == again
        offsets.add(round((fire - now).total_seconds()))
    assert len(offsets) > 10  # not all at second zero


def test_missed_fire_times_collapse_into_the_latest():
    from tether.core.jobs.timing import make_trigger

    trigger = make_trigger(every_seconds=60, cron=None, spread_key="x")
    now = dt.datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    first = next_fire(trigger, now - dt.timedelta(hours=3))
    latest, count = latest_fire(trigger, first, now)
    assert count == 180
    assert now - dt.timedelta(seconds=60) < latest <= now


def test_saved_schedules_keep_an_operators_pause_across_manifest_changes(jobs_tenant, tether_store, jobs_host):
    jobs_tenant("acme")
    refresh_all(tether_store, jobs_host)
    assert set_paused(tether_store, "acme", True, job="probe") == 1
    jobs_tenant("acme", schedules=[{"job": "probe", "every": "2m"}])  # the manifest changes the timing
    refresh_all(tether_store, jobs_host)
    rows = {(r.job, r.object_name): r for r in load_schedules(tether_store, ["acme"])}
    assert rows[("probe", "")].paused is True and rows[("probe", "")].every_seconds == 120
    assert rows[("probe_b", "")].paused is False
    with pytest.raises(JobError, match="no schedule for nothing"):
        set_paused(tether_store, "acme", True, job="nothing")


def test_durations():
    assert parse_duration("90s") == 90 and parse_duration("5m") == 300 and parse_duration("1d") == 86400
    with pytest.raises(JobError, match="not a duration"):
        parse_duration("5 minutes")
