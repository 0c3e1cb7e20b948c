"""Logging activities: types and scopes, the entities an activity is about, authorship, roll-up to the company."""

from tests.core.domain.conftest import USERS, add_companies

from .conftest import at, client_for


def log(api, **fields):
    body = {"type": "Call", "subject": "Kick-off", **fields}
    return api.post("/activities", body)


def test_an_activity_with_every_field_is_logged_and_read_back(api, world):
    _, ids = world
    response = log(api, relationship_id=ids["rel"], opportunity_id=ids["opp"], notes="Agreed next steps.",
                   occurred_at=at(0), duration_minutes=45, internal_attendees=["ops@acme.example"],
                   external_attendees=["jane@acme.example", "Raj (CFO)"], reporting_category="Onboarding")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["company_id"] == ids["Acme"]  # derived from the relationship
    assert body["author"] == "csm@acme.example" and body["source"] == "tether"
    assert body["occurred_at"] == "2026-03-02T09:00:00+00:00"
    assert body["external_attendees"] == ["jane@acme.example", "Raj (CFO)"]
    assert api.get(f"/activities/{body['id']}").get_json()["subject"] == "Kick-off"


def test_bad_input_is_refused_field_by_field(api, world):
    _, ids = world
    missing = api.post("/activities", {"type": "Call", "subject": ""})
    assert set(missing.get_json()["error"]["fields"]) == {"subject"}
    no_context = log(api)
    assert no_context.get_json()["error"]["fields"] == {
        "company_id": ["an activity is about a company, a relationship or an opportunity: give one"]}
    naive = log(api, company_id=ids["Acme"], occurred_at="2026-03-02T09:00:00")
    assert "occurred_at" in naive.get_json()["error"]["fields"]
    unknown_type = log(api, company_id=ids["Acme"], type="Carrier pigeon")
    assert "'Carrier pigeon' is not an activity type (Update, Call, Meeting, Email, Milestone" in \
        unknown_type.get_json()["error"]["fields"]["type"][0]
    mismatch = log(api, company_id=ids["Globex"], relationship_id=ids["rel"])
    assert mismatch.get_json()["error"]["fields"] == {
        "company_id": [f"relationship {ids['rel']} belongs to company {ids['Acme']}"]}
    stranger = log(api, company_id=ids["Acme"], internal_attendees=["nobody@acme.example"])
    assert stranger.get_json()["error"]["fields"] == {
        "internal_attendees": ["not users of this tenant: nobody@acme.example"]}


def test_custom_types_are_scoped_globally_per_company_or_per_relationship_type(api, world, tether_store,
                                                                             plugin_host, tmp_path):
    tenant, ids = world
    admin = client_for(tether_store, plugin_host, "acme", "ops@acme.example", tmp_path)
    with tenant.session() as session:
        from sqlalchemy import select

        from tether.core.store import RelationshipType

        project_type = session.scalar(select(RelationshipType.id).where(RelationshipType.name == "Project"))
    assert api.post("/activity-types", {"name": "QBR"}).status_code == 403
    assert admin.post("/activity-types", {"name": "QBR", "scope": "company"}).status_code == 201
    assert admin.post("/activity-types", {"name": "Sprint review", "scope": "relationship",
                                          "relationship_type_id": project_type}).status_code == 201
    assert admin.post("/activity-types", {"name": "call"}).get_json()["error"]["fields"] == {
        "name": ["an activity type named 'call' already exists"]}
    assert admin.post("/activity-types", {"name": "X", "scope": "relationship"}).get_json()["error"]["fields"] == {
        "relationship_type_id": ["a relationship-scoped type names its relationship_type_id"]}

    assert log(api, type="QBR", company_id=ids["Acme"]).status_code == 201
    assert "is a company activity type" in log(api, type="QBR", relationship_id=ids["rel"]).get_json()["error"]["fields"]["type"][0]
    assert log(api, type="Sprint review", relationship_id=ids["project"]).status_code == 201
    wrong = log(api, type="sprint REVIEW", relationship_id=ids["rel"]).get_json()["error"]["fields"]["type"]
    assert wrong == ["'Sprint review' is for relationships of type 'Project'"]
    names = [t["name"] for t in api.get("/activity-types").get_json()]
    assert names == ["Update", "Call", "Meeting", "Email", "Milestone", "QBR", "Sprint review"]


def test_only_the_author_edits_and_the_author_or_an_admin_deletes(api, world, tether_store, plugin_host, tmp_path):
    _, ids = world
    created = log(api, company_id=ids["Acme"], occurred_at=at(0)).get_json()
    other = client_for(tether_store, plugin_host, "acme", "exec@acme.example", tmp_path)
    refused = other.patch(f"/activities/{created['id']}", {"subject": "Mine now"})
    assert refused.status_code == 403 and "only the author (csm@acme.example)" in refused.get_json()["error"]["message"]
    edited = api.patch(f"/activities/{created['id']}", {"subject": "Kick-off (rescheduled)", "type": "Meeting"})
    assert edited.status_code == 200 and edited.get_json()["type"] == "Meeting"
    assert other.delete(f"/activities/{created['id']}").status_code == 403
    admin = client_for(tether_store, plugin_host, "acme", "ops@acme.example", tmp_path)
    assert admin.delete(f"/activities/{created['id']}").status_code == 204
    assert api.get(f"/activities/{created['id']}").status_code == 404


def test_viewer_analytics_users_read_and_log_too(world, tether_store, plugin_host, tmp_path):
    _, ids = world
    viewer = client_for(tether_store, plugin_host, "acme", "exec@acme.example", tmp_path)
    assert log(viewer, company_id=ids["Acme"]).status_code == 201
    assert viewer.get("/activities", company_id=ids["Acme"]).status_code == 200


def test_relationship_activities_roll_up_to_the_company_timeline(api, world):
    _, ids = world
    log(api, company_id=ids["Acme"], subject="Company call", occurred_at=at(1))
    log(api, relationship_id=ids["rel"], subject="Relationship call", occurred_at=at(2))
    log(api, opportunity_id=ids["globex_opp"], subject="Other company", occurred_at=at(3))
    company = api.get("/activities", company_id=ids["Acme"]).get_json()["items"]
    assert [a["subject"] for a in company] == ["Relationship call", "Company call"]
    rel = api.get("/activities", relationship_id=ids["rel"]).get_json()["items"]
    assert [a["subject"] for a in rel] == ["Relationship call"]
    view = api.get(f"/companies/{ids['Acme']}/360").get_json()
    assert [a["subject"] for a in view["timeline"]] == ["Relationship call", "Company call"]
    assert [a["subject"] for a in api.get(f"/relationships/{ids['rel']}/360").get_json()["timeline"]] == \
        ["Relationship call"]


def test_the_rollup_can_be_switched_off(make_tenant, tether_store, plugin_host, tmp_path):
    tenant = make_tenant("solo", plugins={"timeline": {"relationship_rollup": False}},
                         relationship_types=[{"name": "Product"}], users=USERS)
    ids = add_companies(tenant, [{"name": "Solo"}])
    from tests.core.domain.conftest import add_relationship

    rel = add_relationship(tenant, ids["Solo"], "Main")
    api = client_for(tether_store, plugin_host, "solo", "csm@acme.example", tmp_path)
    log(api, company_id=ids["Solo"], subject="On the company", occurred_at=at(1))
    log(api, relationship_id=rel, subject="On the relationship", occurred_at=at(2))
    assert [a["subject"] for a in api.get("/activities", company_id=ids["Solo"]).get_json()["items"]] == \
        ["On the company"]


def test_a_tenant_without_the_plugin_has_no_timeline_endpoints(make_tenant, tether_store, plugin_host, tmp_path):
    make_tenant("plain", users=USERS)
    api = client_for(tether_store, plugin_host, "plain", "csm@acme.example", tmp_path)
    response = api.get("/activities")
    assert response.status_code == 404 and "plugin 'timeline' is not enabled" in response.get_json()["error"]["message"]
