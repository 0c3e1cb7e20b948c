"""Companies over the API and CLI: hierarchy edits with clear refusals, rollups, and the 360 read models."""

import datetime as dt
from decimal import Decimal

from click.testing import CliRunner
from sqlalchemy import select

from tether.core.cli import build_cli
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.core.store import OutboxEntry

from .conftest import add_companies, add_opportunity, add_relationship


def test_companies_are_created_listed_and_edited(client, acme):
    parent = client.post("/companies", {"name": "Acme Group", "arr": "1000.00", "segment": "Enterprise"}).get_json()
    child = client.post("/companies", {"name": "Acme Labs", "parent_id": parent["id"], "arr": "250.10"})
    assert child.status_code == 201, child.get_json()
    assert child.get_json()["parent_id"] == parent["id"]
    assert client.post("/companies", {"name": "", "employees": -1}).get_json()["error"]["fields"] == {
        "name": ["Length must be between 1 and 255."], "employees": ["Must be greater than or equal to 0."]}
    top = client.get("/companies", top_level="true").get_json()
    assert [c["name"] for c in top["items"]] == ["Acme Group"]
    found = client.get("/companies", name="LABS").get_json()["items"]
    assert [c["name"] for c in found] == ["Acme Labs"] and found[0]["arr"] == "250.10"
    edited = client.patch(f"/companies/{parent['id']}", {"csm": "Ann", "attributes": {"nps": 42}})
    assert edited.get_json()["csm"] == "Ann" and edited.get_json()["attributes"] == {"nps": 42}
    assert client.as_user("exec@acme.example").patch(f"/companies/{parent['id']}", {"csm": "Bob"}).status_code == 403
    assert client.get("/companies/987654").status_code == 404


def test_hierarchy_refusals_answer_422_naming_the_companies(client, acme):
    ids = add_companies(acme, [{"name": "North"}, {"name": "North East", "parent": "North"},
                               {"name": "North East Coast", "parent": "North East"}])
    refused = client.put(f"/companies/{ids['North']}/parent", {"parent_id": ids["North East Coast"]})
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "refused"
    assert "North › North East › North East Coast › North" in error["message"]
    assert list(error["fields"]) == ["parent_id"]
    moved = client.put(f"/companies/{ids['North East Coast']}/parent", {"parent_id": ids["North"]})
    assert moved.status_code == 200 and moved.get_json()["parent_id"] == ids["North"]
    detached = client.patch(f"/companies/{ids['North East']}", {"parent_id": None})
    assert detached.get_json()["parent_id"] is None


def test_hierarchy_endpoint_gives_path_tree_and_rollup(client, acme):
    ids = add_companies(acme, [{"name": "Root", "arr": Decimal("10.00")},
                               {"name": "Branch", "parent": "Root", "arr": Decimal("5.50")},
                               {"name": "Leaf", "parent": "Branch", "arr": Decimal("1.25")}])
    body = client.get(f"/companies/{ids['Branch']}/hierarchy").get_json()
    assert [p["name"] for p in body["path"]] == ["Root", "Branch"]
    assert [c["name"] for c in body["children"]] == ["Leaf"]
    assert body["tree"] == {"id": ids["Branch"], "name": "Branch", "level": 0,
                            "children": [{"id": ids["Leaf"], "name": "Leaf", "level": 1, "children": []}]}
    assert body["rollup"]["arr"] == "6.75" and body["rollup"]["companies"] == 2


def test_company_360_without_plugins(client, acme):
    ids = add_companies(acme, [{"name": "Holding"}, {"name": "Acme", "parent": "Holding", "csm": "Ann",
                                                      "arr": Decimal("900.00")}])
    rel = add_relationship(acme, ids["Acme"], "Analytics", arr=Decimal("300.00"), attributes={"tier": "Premium"})
    add_opportunity(acme, ids["Acme"], "Renewal 2026", stage="Negotiation", close_date=dt.date(2026, 6, 30),
                    amount=Decimal("900.00"), relationship_id=rel)
    add_opportunity(acme, ids["Acme"], "New 2024", is_closed=True, is_won=True, close_date=dt.date(2024, 1, 31),
                    amount=Decimal("800.00"))
    add_opportunity(acme, ids["Acme"], "Lost 2025", is_closed=True, close_date=dt.date(2025, 2, 1))
    view = client.get(f"/companies/{ids['Acme']}/360").get_json()
    assert view["company"]["csm"] == "Ann" and view["company"]["arr"] == "900.00"
    assert [p["name"] for p in view["hierarchy"]["path"]] == ["Holding", "Acme"]
    assert [r["name"] for r in view["relationships"]] == ["Analytics"]
    assert [o["name"] for o in view["opportunities"]["open"]] == ["Renewal 2026"]
    assert [o["name"] for o in view["opportunities"]["closed"]] == ["Lost 2025", "New 2024"]
    assert view["opportunities"]["closed_total"] == 2
    # Health and timeline belong to plugins this tenant has not enabled.
    assert view["health"] is None and view["timeline"] == [] and view["relationships"][0]["health"] is None
    r360 = client.get(f"/relationships/{rel}/360").get_json()
    assert r360["relationship"]["attributes"] == {"tier": "Premium"}
    assert r360["type"]["name"] == "Product" and r360["company"]["name"] == "Acme"
    assert [o["name"] for o in r360["opportunities"]["open"]] == ["Renewal 2026"]
    assert [p["name"] for p in r360["hierarchy"]["path"]] == ["Holding", "Acme"]
    assert client.get("/companies/424242/360").status_code == 404


def test_local_company_edits_reach_the_outbox_for_mapped_fields(make_tenant, make_client):
    make_tenant("acme", plugins={"salesforce": {"instance_url": "https://acme.my.salesforce.com"}},
                users=[{"username": "ops@acme.example", "role": "admin"}])
    client = make_client("acme").as_user("ops@acme.example")
    created = client.post("/companies", {"name": "Acme", "industry": "Retail", "csm": "Ann"}).get_json()
    client.patch(f"/companies/{created['id']}", {"industry": "Banking"})
    with client.store.tenant_session("acme") as session:
        entries = [(e.object_name, e.changes) for e in session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))]
    # Only fields the Account mapping pushes travel; the CSM is tether's own.
    assert entries == [("Account", {"name": "Acme", "industry": "Retail"}), ("Account", {"industry": "Banking"})]


def test_cli_lists_and_shows_companies(acme, tether_store, plugin_host, tmp_path):
    ids = add_companies(acme, [{"name": "Root", "arr": Decimal("10.00")},
                               {"name": "Branch", "parent": "Root", "arr": Decimal("5.50")}])
    runtime = Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path)}), host=plugin_host, store=tether_store)
    cli = build_cli(runtime)
    runner = CliRunner()
    listed = runner.invoke(cli, ["companies", "list", "acme"], obj=runtime, env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "Root" in listed.output and "Branch" in listed.output
    tree = runner.invoke(cli, ["companies", "hierarchy", "acme", str(ids["Root"])], obj=runtime,
                         env={"COLUMNS": "200"})
    assert "Root (id" in tree.output and "ARR 15.50" in tree.output and "Branch (id" in tree.output
    shown = runner.invoke(cli, ["companies", "show", "acme", str(ids["Branch"])], obj=runtime, env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "path: Root › Branch" in shown.output
    missing = runner.invoke(cli, ["companies", "show", "acme", "999999"], obj=runtime)
    assert missing.exit_code == 1 and "no company 999999" in missing.output
    assert runner.invoke(cli, ["companies", "check-hierarchy", "acme"], obj=runtime).exit_code == 0
    types = runner.invoke(cli, ["relationships", "types", "acme"], obj=runtime, env={"COLUMNS": "200"})
    assert "Product" in types.output and "tier:picklist" in types.output


class Grumpy:
    """A plugin whose change listener fails."""

    TETHER_MANIFEST = {"name": "grumpy", "version": "1.0.0", "description": "fails on changes",
                       "hooks": ["tether_records_changed"]}

    from tether.core.hookspecs import hookimpl

    @hookimpl
    def tether_records_changed(self, tenant, changes):
        raise RuntimeError("cannot cope")


def test_a_failing_change_listener_does_not_turn_a_committed_write_into_an_error(tether_store, make_client, caplog):
    from tether.core.manifests import validate_tenant_manifest
    from tether.core.plugins import PluginHost
    from tether.core.tenants import apply_manifest

    host = PluginHost.from_entry_points()
    host.register(Grumpy())
    manifest = {"tenant": {"id": "acme", "name": "Acme"}, "plugins": [{"name": "grumpy"}],
                "users": [{"username": "ops@acme.example", "role": "admin"}]}
    apply_manifest(tether_store, host, validate_tenant_manifest(manifest, host, source="test"))
    client = make_client("acme", host=host).as_user("ops@acme.example")
    created = client.post("/companies", {"name": "Still saved"})
    assert created.status_code == 201
    assert client.get(f"/companies/{created.get_json()['id']}").status_code == 200
    assert "plugin 'grumpy' failed in hook tether_records_changed" in caplog.text
