"""Plugin-owned entities (``tether_entity_appliers``) through the engine, with the in-memory
connector: its ``Note`` object mapped to Timeline's ``activity``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tether.core.contracts import EntityApplierSpec, TimelineQuery
from tether.core.errors import PermanentConnectorError
from tether.core.hookspecs import hookimpl
from tether.core.manifests import validate_tenant_manifest
from tether.core.plugins import PluginHost
from tether.core.store.models import Company, JobRun, Opportunity, SyncCursor
from tether.core.sync.engine import SyncOptions, sync_object, sync_tenant
from tether.core.sync.mappings import resolve_mappings
from tether.core.tenants import apply_manifest, load_context, set_plugin_enabled
from tether.plugins.timeline.feed import local_feed
from tether.plugins.timeline.measures import days_since_last_activity
from tether.plugins.timeline.models import ActivityRecord

from .memory_connector import MANIFEST, SOURCES, MemorySource

NOTES = {"connector": "memory", "object": "Note", "entity": "activity", "fields": [
    {"source": "Subject", "target": "subject"},
    {"source": "When", "target": "occurred_at", "type": "datetime"},
    {"source": "OrgId", "target": "company_external_id", "type": "reference"},
    {"source": "DealId", "target": "opportunity_external_id", "type": "reference"},
    {"source": "Kind", "target": "type", "type": "picklist"},
    {"source": "Done", "target": "done", "type": "boolean"},
]}


class BrokenNotes:
    """A plugin whose applier fails, or that claims an entity another plugin owns."""

    # Manifests accept the entity names of contracts.EntityKind only: "user" is one the core does not apply.
    def __init__(self, entity: str = "user") -> None:
        self.entity = entity

    @hookimpl
    def tether_entity_appliers(self, tenant) -> list[EntityApplierSpec]:
        def apply(tenant, session, page):
            raise KeyError("Subject")
        return [EntityApplierSpec(entity=self.entity, apply=apply, fields={"subject": "the subject"},
                                  plugin="broken-notes")]


BROKEN_MANIFEST = {"name": "broken-notes", "version": "1.0.0", "description": "An applier that fails",
                   "hooks": ["tether_entity_appliers"]}


@pytest.fixture
def notes_tenant(tether_store, memory_host):
    """``notes_tenant(plugins=("timeline",), mappings=[NOTES])`` → (context, source)."""
    created: list[str] = []

    def make(tenant_id: str = "acme", *, plugins: tuple[str, ...] = ("timeline",), mappings=(NOTES,), **sections):
        manifest = {"tenant": {"id": tenant_id, "name": tenant_id.title()},
                    "plugins": [{"name": "memory"}, *({"name": p} for p in plugins)],
                    "mappings": list(mappings), **sections}
        apply_manifest(tether_store, memory_host, validate_tenant_manifest(manifest, memory_host, source="test"))
        source = SOURCES[tenant_id] = MemorySource()
        created.append(tenant_id)
        return load_context(tether_store, memory_host, tenant_id), source

    yield make
    for tenant_id in created:
        SOURCES.pop(tenant_id, None)


def _activities(tenant) -> dict[str, ActivityRecord]:
    with tenant.session() as session:
        return {a.external_id: a for a in session.scalars(select(ActivityRecord))}


def _ids(tenant, model) -> dict[str, int]:
    with tenant.session() as session:
        return dict(session.execute(select(model.external_id, model.id)).all())


def _book(source: MemorySource) -> None:
    source.put("Org", "o1", Name="Acme")
    source.put("Deal", "d1", Name="Acme renewal", OrgId="o1", Amount="100", Close="2025-01-01", Stage="Prospecting")
    source.tick()
    source.put("Note", "n1", Subject="Kick-off call", When="2023-12-20T10:00:00Z", OrgId="o1", Kind="Call", Done=True)
    source.put("Note", "n2", Subject="Pricing review", When="2023-12-21T10:00:00Z", DealId="d1", Kind="Review",
               Done=True)
    source.put("Note", "n3", Subject="Send contract", When="2023-12-22T10:00:00Z", OrgId="o1", Done=False)
    source.tick()


def test_a_plugin_entity_is_synced_after_the_core_entities_and_rolls_up(notes_tenant, memory_plugin):
    tenant, source = notes_tenant()
    _book(source)
    results = sync_tenant(tenant)
    assert [(r.object_name, r.entity, r.status) for r in results] == [
        ("Org", "company", "success"), ("Deal", "opportunity", "success"), ("Note", "activity", "success")]
    notes = results[-1]
    assert (notes.records_read, notes.records_applied, notes.records_unchanged) == (3, 2, 1)
    companies, deals, activities = _ids(tenant, Company), _ids(tenant, Opportunity), _activities(tenant)
    assert set(activities) == {"n1", "n2"}  # n3 is planned, not done: not on the timeline
    call, review = activities["n1"], activities["n2"]
    assert (call.type, call.company_id, call.opportunity_id, call.author) == ("Call", companies["o1"], None, "memory")
    # On an opportunity: its company too (so it rolls up); an unknown type is an Update.
    assert (review.type, review.opportunity_id, review.company_id) == ("Update", deals["d1"], companies["o1"])
    timeline = local_feed(tenant, TimelineQuery(company_id=companies["o1"]))
    assert [a.subject for a in timeline] == ["Pricing review", "Kick-off call"]
    assert days_since_last_activity(tenant, "company", [companies["o1"]])[companies["o1"]] > 0
    # Plugins are told after the page commits, with the entity's name.
    [change] = [c for c in memory_plugin.changes() if c.entity == "activity"]
    assert sorted(change.created) == sorted([call.id, review.id]) and change.connector == "memory"


def test_the_page_and_its_cursor_commit_together(notes_tenant, no_sleep):
    tenant, source = notes_tenant()
    source.put("Org", "o1", Name="Acme")
    sync_object(tenant, "memory", "Org")
    for index in range(5):
        source.tick()
        source.put("Note", f"n{index}", Subject=f"Note {index}", When="2023-12-20T10:00:00Z", OrgId="o1", Done=True)
    source.calls = 0

    def fault(call: int) -> None:  # 1 discover, 2 count, 3.. one per page: the second page fails
        if call == 4:
            raise PermanentConnectorError("INVALID_QUERY_LOCATOR: invalid query locator")
    source.fault = fault
    failed = sync_object(tenant, "memory", "Note", options=SyncOptions(page_size=2, backoff=no_sleep))
    assert failed.status == "failed" and "INVALID_QUERY_LOCATOR" in failed.error
    assert set(_activities(tenant)) == {"n0", "n1"}
    with tenant.session() as session:
        cursor = session.scalar(select(SyncCursor).where(SyncCursor.object_name == "Note"))
    assert cursor.value.endswith("|n1")
    source.fault = None
    resumed = sync_object(tenant, "memory", "Note", options=SyncOptions(page_size=2, backoff=no_sleep))
    assert (resumed.status, resumed.records_read, resumed.records_applied) == ("success", 3, 3)
    assert len(_activities(tenant)) == 5


def test_changes_deletes_and_undeletes_at_the_source(notes_tenant):
    tenant, source = notes_tenant()
    _book(source)
    sync_tenant(tenant)
    first = _activities(tenant)["n1"]
    source.put("Note", "n1", Subject="Kick-off call (rescheduled)")
    source.put("Note", "n3", Done=True)  # the planned one is done now
    source.tick()
    changed = sync_object(tenant, "memory", "Note")
    assert changed.records_applied == 2
    now = _activities(tenant)
    assert now["n1"].id == first.id and now["n1"].subject == "Kick-off call (rescheduled)"
    assert not now["n3"].is_deleted
    source.delete("Note", "n1")
    source.tick()
    assert sync_object(tenant, "memory", "Note").records_deleted == 1
    company = _ids(tenant, Company)["o1"]
    assert "Kick-off call (rescheduled)" not in [a.subject for a in local_feed(tenant, TimelineQuery(company_id=company))]
    source.undelete("Note", "n1")
    source.tick()
    assert sync_object(tenant, "memory", "Note").records_applied == 1
    assert not _activities(tenant)["n1"].is_deleted
    assert len(_activities(tenant)) == 3


def test_an_activity_that_arrives_before_its_company_is_linked_when_it_lands(notes_tenant):
    tenant, source = notes_tenant()
    source.put("Note", "n1", Subject="Intro call", When="2023-12-20T10:00:00Z", OrgId="o-late", Kind="Call", Done=True)
    source.tick()
    sync_object(tenant, "memory", "Note")
    assert _activities(tenant)["n1"].company_id is None
    source.put("Org", "o-late", Name="Late Ltd")
    source.tick()
    sync_object(tenant, "memory", "Org")
    assert _activities(tenant)["n1"].company_id == _ids(tenant, Company)["o-late"]


def test_an_entity_whose_plugin_was_disabled_after_apply_is_not_synced_inbound(notes_tenant, tether_store, memory_host):
    # Applying refuses such a mapping (tests/core/test_tenants.py); disabling the plugin later must not sync it either.
    notes_tenant(plugins=("timeline",))
    assert set_plugin_enabled(tether_store, memory_host, "acme", "timeline", False)
    tenant, source = load_context(tether_store, memory_host, "acme"), SOURCES["acme"]
    source.put("Note", "n1", Subject="Intro call", Done=True)
    result = sync_object(tenant, "memory", "Note")
    assert result.status == "failed"
    assert "entity 'activity' cannot be synced inbound: no enabled plugin applies it" in result.error
    assert "enable the plugin that owns it (e.g. timeline for 'activity')" in result.error


def test_a_default_mapping_of_an_entity_nobody_applies_stays_outbound_only(notes_tenant, memory_plugin, monkeypatch):
    from tests.core.sync import memory_connector

    notes = memory_connector.ObjectMapping(connector="memory", object_name="Note", entity="activity",
                                           fields=(memory_connector._f("Subject", "subject"),))
    monkeypatch.setattr(memory_connector, "MAPPINGS", memory_connector.MAPPINGS + (notes,))
    without, _ = notes_tenant("plain", plugins=(), mappings=())
    note = resolve_mappings(without).for_object("memory", "Note")
    assert [(f.source, f.direction) for f in note.fields] == [("Subject", "outbound")]
    assert [r.object_name for r in sync_tenant(without)] == ["Org", "Deal"]
    with_timeline, _ = notes_tenant("timed", mappings=())
    assert [f.direction for f in resolve_mappings(with_timeline).for_object("memory", "Note").fields] == ["both"]


def test_a_failing_plugin_applier_fails_the_run_naming_the_plugin(tether_store, memory_plugin):
    host = PluginHost.from_entry_points()
    host.register(memory_plugin, manifest=MANIFEST)
    host.register(BrokenNotes(), manifest=BROKEN_MANIFEST)
    mapping = {**NOTES, "entity": "user", "fields": [{"source": "Subject", "target": "subject"}]}
    manifest = {"tenant": {"id": "acme", "name": "Acme"}, "plugins": [{"name": "memory"}, {"name": "broken-notes"}],
                "mappings": [mapping]}
    apply_manifest(tether_store, host, validate_tenant_manifest(manifest, host, source="test"))
    source = SOURCES["acme"] = MemorySource()
    try:
        source.put("Note", "n1", Subject="Intro call")
        tenant = load_context(tether_store, host, "acme")
        result = sync_object(tenant, "memory", "Note")
    finally:
        SOURCES.pop("acme", None)
    assert result.status == "failed"
    assert "plugin 'broken-notes' failed in hook tether_entity_appliers (user apply)" in result.error
    assert "KeyError" in result.error
    with tenant.session() as session:
        assert session.scalar(select(SyncCursor.value).where(SyncCursor.object_name == "Note")) is None
        assert session.get(JobRun, result.run_id).status == "failed"


def test_two_plugins_claiming_one_entity_are_refused(tether_store, memory_plugin):
    host = PluginHost.from_entry_points()
    host.register(memory_plugin, manifest=MANIFEST)
    host.register(BrokenNotes("activity"), manifest=BROKEN_MANIFEST)
    manifest = {"tenant": {"id": "acme", "name": "Acme"},
                "plugins": [{"name": "memory"}, {"name": "broken-notes"}, {"name": "timeline"}], "mappings": [NOTES]}
    apply_manifest(tether_store, host, validate_tenant_manifest(manifest, host, source="test"))
    SOURCES["acme"] = MemorySource()
    try:
        result = sync_object(load_context(tether_store, host, "acme"), "memory", "Note")
    finally:
        SOURCES.pop("acme", None)
    assert result.status == "failed"
    assert "entity 'activity' is applied by two plugins" in result.error and "disable one of them" in result.error
