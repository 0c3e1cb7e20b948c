"""The engine's side of failures, with the in-memory connector: retries, quota, bad mappings, dead runs."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import select

from tether.core.errors import PermanentConnectorError, TransientConnectorError
from tether.core.store.models import Company, JobRun
from tether.core.sync.engine import SyncOptions, sync_object, sync_tenant
from tether.core.sync.runs import SyncAlreadyRunning, start_run


def _names(tenant) -> set[str]:
    with tenant.session() as session:
        return set(session.scalars(select(Company.external_id)))


def _orgs(source, count: int) -> None:
    for index in range(count):
        source.put("Org", f"o{index:03d}", Name=f"Org {index}")
        source.tick()


def test_a_transient_error_mid_run_resumes_from_the_last_committed_page(memory_tenant, no_sleep):
    tenant, source = memory_tenant()
    _orgs(source, 10)
    failed = []

    def fault(call: int) -> None:  # calls: 1 discover, 2 count, then one per page
        if call == 5 and not failed:  # the third page, once
            failed.append(call)
            raise TransientConnectorError("unable to obtain exclusive access", code="UNABLE_TO_LOCK_ROW")
    source.fault = fault
    result = sync_object(tenant, "memory", "Org", options=SyncOptions(page_size=3, backoff=no_sleep))
    assert result.status == "success" and _names(tenant) == {f"o{i:03d}" for i in range(10)}
    assert result.records_read == 10  # the failed page was never applied, so nothing is read twice
    assert len(no_sleep.waits) == 1


def test_a_permanent_error_fails_the_run_and_keeps_what_was_applied(memory_tenant, no_sleep):
    tenant, source = memory_tenant()
    _orgs(source, 10)

    def fault(n):
        if n == 4:
            raise PermanentConnectorError("INVALID_FIELD: No such column 'Size'")
    source.fault = fault
    result = sync_object(tenant, "memory", "Org", options=SyncOptions(page_size=3, backoff=no_sleep))
    assert result.status == "failed" and result.error == "INVALID_FIELD: No such column 'Size'"
    assert len(_names(tenant)) == 3 and no_sleep.waits == []
    source.fault = None
    again = sync_object(tenant, "memory", "Org", options=SyncOptions(page_size=3, backoff=no_sleep))
    assert (again.status, again.records_read) == ("success", 7)


def test_the_quota_guard_stops_before_the_run_share(memory_tenant, no_sleep):
    tenant, source = memory_tenant()
    _orgs(source, 30)
    source.limit = 20  # 25 % per run: 5 calls
    throttled = sync_object(tenant, "memory", "Org", options=SyncOptions(page_size=3, backoff=no_sleep))
    assert throttled.status == "throttled" and throttled.api_calls <= 5
    assert "25%" in throttled.error
    source.limit, source.calls = 100_000, 0
    done = sync_object(tenant, "memory", "Org", options=SyncOptions(page_size=3, backoff=no_sleep))
    assert done.status == "success" and len(_names(tenant)) == 30
    assert throttled.records_read + done.records_read == 30


def test_mapping_targets_are_checked(memory_tenant):
    tenant, source = memory_tenant(mappings=[{
        "connector": "memory", "object": "Org", "entity": "company",
        "fields": [{"source": "Industry", "target": "industri"}, {"source": "ParentId", "target": "parent_id"}]}])
    source.put("Org", "o1", Name="Acme", Industry="Banking")
    result = sync_object(tenant, "memory", "Org")
    assert result.status == "failed"
    assert "company has no field 'industri'" in result.error and "attributes.industri" in result.error
    assert "'parent_id' of company is maintained by the sync engine" in result.error


def test_unknown_source_fields_are_named(memory_tenant):
    tenant, source = memory_tenant(mappings=[{"connector": "memory", "object": "Org", "entity": "company",
                                              "fields": [{"source": "Tier__c", "target": "attributes.tier"}]}])
    result = sync_object(tenant, "memory", "Org")
    assert result.status == "failed" and "'Tier__c'" in result.error and "does not exist on Org" in result.error


def test_attributes_are_merged_not_replaced(memory_tenant):
    tenant, source = memory_tenant(mappings=[{"connector": "memory", "object": "Org", "entity": "company",
                                              "fields": [{"source": "Industry", "target": "attributes.sector"}]}])
    source.put("Org", "o1", Name="Acme", Industry="Banking")
    sync_object(tenant, "memory", "Org")
    with tenant.transaction() as session:
        company = session.scalar(select(Company))
        company.attributes = {**company.attributes, "tier": "gold"}  # set locally
    source.tick()
    source.put("Org", "o1", Industry="Retail")
    sync_object(tenant, "memory", "Org")
    with tenant.session() as session:
        assert session.scalar(select(Company.attributes)) == {"sector": "Retail", "tier": "gold"}


def test_a_failing_change_listener_does_not_undo_the_page(memory_tenant, monkeypatch):
    tenant, source = memory_tenant()
    _orgs(source, 2)

    def broken(tenant, changes):
        raise RuntimeError("listener down")
    for impl in tenant.hooks.tether_records_changed.get_hookimpls():
        if impl.plugin_name == "memory":
            monkeypatch.setattr(impl, "function", broken)
    result = sync_object(tenant, "memory", "Org")
    assert result.status == "success" and len(_names(tenant)) == 2
    with tenant.session() as session:
        run = session.get(JobRun, result.run_id)
    assert "listener down" in run.details["hook_errors"][0]


def test_a_run_whose_process_died_is_closed_and_a_live_one_refuses_a_second(memory_tenant):
    tenant, source = memory_tenant()
    dead = start_run(tenant.store, tenant.id, connector="memory", object_name="Org", mode="incremental")
    with tenant.transaction() as session:
        run = session.get(JobRun, dead)
        run.details = {**run.details, "pid": 2 ** 22 + 12345}  # no such process
    result = sync_object(tenant, "memory", "Org")
    assert result.status == "success"
    with tenant.session() as session:
        closed = session.get(JobRun, dead)
    assert closed.status == "failed" and closed.error.startswith("interrupted")

    other_host = start_run(tenant.store, tenant.id, connector="memory", object_name="Org", mode="incremental")
    with tenant.transaction() as session:
        run = session.get(JobRun, other_host)
        run.details = {"pid": os.getpid() + 1, "host": "worker-2", "heartbeat": dt.datetime.now(dt.timezone.utc).isoformat()}
    with pytest.raises(SyncAlreadyRunning, match="already running"):
        sync_tenant(tenant, objects=["Org"])
