"""The merged timeline: plugin feeds and local activities in one order, paged without loss or repeats."""

import datetime as dt

import pytest
from sqlalchemy import update

from tests.core.domain.conftest import PRODUCT, USERS, add_companies, add_opportunity, add_relationship
from tether.core.contracts import Activity
from tether.core.hookspecs import hookimpl
from tether.core.manifests import validate_tenant_manifest
from tether.core.plugins import PluginHost
from tether.core.tenants import apply_manifest, load_context
from tether.plugins.timeline.models import ActivityRecord

from .conftest import T0, at, client_for


class CrmFeed:
    """Stands in for a CRM plugin's feed (Salesforce Tasks, Events and stage milestones)."""

    TETHER_MANIFEST = {"name": "crmfeed", "version": "1.0.0", "description": "a CRM activity feed",
                       "hooks": ["tether_timeline_activities"]}

    def __init__(self):
        self.entries: list[Activity] = []
        self.queries = []

    def add(self, hours, subject, type="Email", **fields):
        key = f"00T{len(self.entries):05d}"
        self.entries.append(Activity(type=type, subject=subject, occurred_at=T0 + dt.timedelta(hours=hours),
                                     source="salesforce", key=key, **fields))

    @hookimpl
    def tether_timeline_activities(self, tenant, query):
        self.queries.append(query)
        found = [a for a in self.entries
                 if (query.company_id is None or a.company_id == query.company_id)
                 and (query.relationship_id is None or a.relationship_id == query.relationship_id)
                 and (not query.types or a.type in query.types)
                 and (query.since is None or a.occurred_at >= query.since)
                 and (query.until is None or a.occurred_at <= query.until)
                 and (query.author is None or a.author == query.author)]
        found.sort(key=lambda a: (-a.occurred_at.timestamp(), a.key))
        return found[:query.limit]


@pytest.fixture
def setup(tether_store, tmp_path):
    host = PluginHost.from_entry_points()
    feed = CrmFeed()
    host.register(feed)
    manifest = {"tenant": {"id": "acme", "name": "Acme"}, "plugins": [{"name": "timeline"}, {"name": "crmfeed"}],
                "relationship_types": [PRODUCT], "users": USERS}
    apply_manifest(tether_store, host, validate_tenant_manifest(manifest, host, source="test"))
    tenant = load_context(tether_store, host, "acme")
    ids = add_companies(tenant, [{"name": "Acme"}])
    ids["rel"] = add_relationship(tenant, ids["Acme"], "Analytics")
    ids["opp"] = add_opportunity(tenant, ids["Acme"], "Renewal")
    api = client_for(tether_store, host, "acme", "csm@acme.example", tmp_path)
    return tenant, ids, feed, api


def log(api, hours, subject, **fields):
    response = api.post("/activities", {"type": "Call", "subject": subject, "occurred_at": at(hours), **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_plugin_feeds_and_local_activities_merge_newest_first(setup):
    tenant, ids, feed, api = setup
    log(api, 1, "local 1", company_id=ids["Acme"])
    feed.add(2, "Email from Jane", company_id=ids["Acme"], author="jane@acme.example")
    log(api, 3, "local 3", relationship_id=ids["rel"])
    feed.add(4, "Stage: Negotiation", type="Milestone", company_id=ids["Acme"], opportunity_id=ids["opp"])
    log(api, 5, "local 5", company_id=ids["Acme"])
    page = api.get("/activities", company_id=ids["Acme"]).get_json()
    assert [(a["subject"], a["source"]) for a in page["items"]] == [
        ("local 5", "tether"), ("Stage: Negotiation", "salesforce"), ("local 3", "tether"),
        ("Email from Jane", "salesforce"), ("local 1", "tether")]
    assert page["items"][1]["id"] is None and page["items"][0]["id"] is not None
    view = api.get(f"/companies/{ids['Acme']}/360").get_json()
    assert [a["subject"] for a in view["timeline"]][:2] == ["local 5", "Stage: Negotiation"]


def test_an_activity_written_back_and_pulled_again_shows_once(setup):
    tenant, ids, feed, api = setup
    local = log(api, 1, "Logged in tether", company_id=ids["Acme"])
    with tenant.transaction() as session:  # what the pusher records once Salesforce created the Task
        session.execute(update(ActivityRecord).where(ActivityRecord.id == local["id"]).values(external_id="00TXYZ"))
    feed.add(1, "Logged in tether", type="Call", company_id=ids["Acme"], external_id="00TXYZ")
    items = api.get("/activities", company_id=ids["Acme"]).get_json()["items"]
    assert [(a["subject"], a["source"]) for a in items] == [("Logged in tether", "tether")]


def test_pages_never_skip_or_repeat_even_when_many_entries_share_a_time(setup):
    tenant, ids, feed, api = setup
    for index in range(7):
        log(api, 10, f"local tie {index}", company_id=ids["Acme"])
    for index in range(6):
        feed.add(10, f"crm tie {index}", company_id=ids["Acme"])
    for index in range(4):
        log(api, 5 - index, f"local older {index}", company_id=ids["Acme"])
        feed.add(4.5 - index, f"crm older {index}", company_id=ids["Acme"])
    everything = api.get("/activities", company_id=ids["Acme"], limit=200).get_json()["items"]
    assert len(everything) == 21
    feed.queries.clear()
    seen, cursor, pages = [], None, 0
    while True:
        query = {"company_id": ids["Acme"], "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/activities", **query).get_json()
        pages += 1
        seen += [(a["source"], a["key"]) for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [(a["source"], a["key"]) for a in everything]
    assert pages == 7 and len(feed.queries) == pages  # one feed call per page, never per entry


def test_filters_reach_every_feed(setup):
    tenant, ids, feed, api = setup
    log(api, 1, "a call", company_id=ids["Acme"])
    log(api, 2, "a meeting", company_id=ids["Acme"], type="Meeting")
    log(api, 30, "a late call", company_id=ids["Acme"])
    feed.add(3, "crm meeting", type="Meeting", company_id=ids["Acme"], author="csm@acme.example")
    feed.add(4, "crm email", company_id=ids["Acme"], author="someone@else")
    by_type = api.get("/activities", company_id=ids["Acme"], type="Meeting,Call", until=at(24)).get_json()["items"]
    assert [a["subject"] for a in by_type] == ["crm meeting", "a meeting", "a call"]
    since = api.get("/activities", company_id=ids["Acme"], since=at(2), until=at(3)).get_json()["items"]
    assert [a["subject"] for a in since] == ["crm meeting", "a meeting"]
    mine = api.get("/activities", author="csm@acme.example", type="Meeting").get_json()["items"]
    assert [a["subject"] for a in mine] == ["crm meeting", "a meeting"]
    assert (feed.queries[-1].author, feed.queries[-1].types) == ("csm@acme.example", ("Meeting",))
    assert api.get("/activities", cursor="eyJ4IjoxfQ").status_code == 422
    assert api.get("/activities", since="yesterday").status_code == 422
