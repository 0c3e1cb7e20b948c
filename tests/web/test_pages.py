"""The pages through Flask's test client, on both backends: sign-in, CSRF, roles, paging,
error states, headers, and the admin actions on conflicts."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from tether.core.api.tokens import issue_token
from tether.core.store.models import Company
from tether.core.sync.writeback_models import SyncConflict
from tether.web import issue_signin_link, signin_url
from tether.webhooks.app import create_app

USERS = [{"username": "boss", "role": "admin"}, {"username": "ana", "role": "user"},
         {"username": "vic", "role": "viewer_analytics"}]
SF_CONFIG = {"instance_url": "https://acme.my.salesforce.com", "username": "sync@acme.test",
             "password": {"$env": "PAGES_SF_PASSWORD"}, "security_token": {"$env": "PAGES_SF_TOKEN"},
             "webhook_secret": {"$env": "PAGES_WEBHOOK_SECRET"}, "check_mappings_on_apply": False,
             "conflict_policy": "manual"}


@pytest.fixture
def site(make_tenant, tether_runtime, monkeypatch):
    monkeypatch.setenv("PAGES_SF_PASSWORD", "pw")
    monkeypatch.setenv("PAGES_SF_TOKEN", "tok")
    monkeypatch.setenv("PAGES_WEBHOOK_SECRET", "s3cret-never-shown")
    make_tenant("acme", plugins={"salesforce": SF_CONFIG, "timeline": {}}, users=USERS)
    make_tenant("globex", users=[{"username": "gina", "role": "admin"}])
    return create_app(tether_runtime)


def sign_in(app, tenant: str, username: str):
    client = app.test_client()
    token = issue_token(app.extensions["tether.runtime"].store, tenant, username)
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/signin").get_data(as_text=True)).group(1)
    response = client.post("/signin", data={"nonce": nonce, "token": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    client.tether_token = token
    return client


def csrf_of(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_pages_ask_to_sign_in_and_keep_the_token_out_of_scripts(site):
    client = site.test_client()
    response = client.get("/t/acme/companies?name=x")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin?next=")
    page = client.get("/signin")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert client.post("/signin", data={"token": "tth_x"}).status_code == 400  # no double-submit value
    refused = client.post("/signin", data={"nonce": nonce, "token": "tth_unknown"})
    assert refused.status_code == 401 and "unknown, revoked" in refused.get_data(as_text=True)
    token = issue_token(site.extensions["tether.runtime"].store, "acme", "ana")
    accepted = client.post("/signin", data={"nonce": nonce, "token": token, "next": "/t/acme/companies?name=x"})
    assert accepted.headers["Location"] == "/t/acme/companies?name=x"
    cookie = accepted.headers["Set-Cookie"]
    assert "tether_token=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert signin_url("http://127.0.0.1:8000/", token) == f"http://127.0.0.1:8000/signin#token={token}"


def test_a_sign_in_link_signs_in_with_a_fresh_token(site):
    link = issue_signin_link(site.extensions["tether.runtime"].store, "acme", "boss")
    assert link.startswith("http://127.0.0.1:8000/signin#token=tth_")
    client = site.test_client()
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/signin").get_data(as_text=True)).group(1)
    response = client.post("/signin", data={"nonce": nonce, "token": link.split("#token=")[1]})
    assert response.headers["Location"] == "/t/acme/renewals/forecast"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/t/globex/companies"])
def test_sign_in_never_redirects_off_site_or_to_another_tenant(site, target):
    client = site.test_client()
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/signin").get_data(as_text=True)).group(1)
    token = issue_token(site.extensions["tether.runtime"].store, "acme", "ana")
    response = client.post("/signin", data={"nonce": nonce, "token": token, "next": target})
    assert response.headers["Location"] == "/t/acme/renewals/forecast"


def test_forms_without_the_session_csrf_token_change_nothing(site):
    client = sign_in(site, "acme", "ana")
    refused = client.post("/t/acme/renewals/analyze/starter", data={"csrf_token": "forged"})
    assert refused.status_code == 403 and "Form expired" in refused.get_data(as_text=True)
    assert "No views yet" in client.get("/t/acme/renewals/analyze").get_data(as_text=True)
    made = client.post("/t/acme/renewals/analyze/starter", data={"csrf_token": csrf_of(client, "/t/acme/renewals/analyze")})
    assert made.status_code == 303
    assert "Renewals overview" in client.get("/t/acme/renewals/analyze").get_data(as_text=True)


def test_api_calls_made_with_the_cookie_need_the_csrf_header(site):
    client = sign_in(site, "acme", "ana")
    body = {"name": "Mine", "widgets": [{"kind": "kpi", "measure": "renewal_forecast"}]}
    assert client.get("/api/v1/tenants/acme/renewals/views").status_code == 200  # reads need no proof
    refused = client.post("/api/v1/tenants/acme/renewals/views", json=body)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "csrf"
    csrf = csrf_of(client, "/t/acme/renewals/analyze")
    assert client.post("/api/v1/tenants/acme/renewals/views", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    bearer = site.test_client().post("/api/v1/tenants/acme/renewals/views", json=body,
                                     headers={"Authorization": f"Bearer {client.tether_token}"})
    assert bearer.status_code == 201


def test_pages_follow_the_api_roles_and_tenants(site):
    viewer = sign_in(site, "acme", "vic")
    forbidden = viewer.get("/t/acme/renewals/forecast")
    assert forbidden.status_code == 403 and "Viewer+Analytics" in forbidden.get_data(as_text=True)
    assert viewer.get("/t/acme/").headers["Location"] == "/t/acme/renewals/analyze"
    assert viewer.get("/t/acme/companies").status_code == 200
    user = sign_in(site, "acme", "ana")
    assert user.get("/t/acme/admin").status_code == 403
    assert b">Admin<" not in user.get("/t/acme/companies").data
    assert user.get("/t/globex/companies").status_code == 404
    admin = sign_in(site, "acme", "boss")
    assert admin.get("/t/acme/admin").status_code == 200


def test_company_list_pages_on_the_server(site, tether_store):
    with tether_store.tenant_transaction("acme") as session:
        session.add_all(Company(name=f"Customer {i:02d}", arr=Decimal(1000 * i)) for i in range(30))
    client = sign_in(site, "acme", "ana")
    first = client.get("/t/acme/companies").get_data(as_text=True)
    assert first.count("/t/acme/companies/") == 25 and "Customer 24" in first and "Customer 25" not in first
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(next_url).get_data(as_text=True)
    assert second.count("/t/acme/companies/") == 5 and "Customer 29" in second and "Last page" in second
    empty = client.get("/t/acme/companies?name=nobody").get_data(as_text=True)
    assert "No companies match." in empty


def test_bad_input_is_shown_beside_the_form_with_the_apis_words(site):
    client = sign_in(site, "acme", "ana")
    bad_period = client.get("/t/acme/renewals/forecast?period=someday")
    assert bad_period.status_code == 200
    text = bad_period.get_data(as_text=True)
    assert "someday" in text and 'role="alert"' in text
    missing = client.get("/t/acme/companies/999999")
    assert missing.status_code == 404 and "no company 999999" in missing.get_data(as_text=True)


def test_pages_carry_security_headers_and_serve_their_own_assets(site):
    client = sign_in(site, "acme", "ana")
    page = client.get("/t/acme/companies")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    assets = re.findall(r'(?:href|src)="(/assets/[^"]+)"', page.get_data(as_text=True))
    assert len(assets) == 2 and all(client.get(a.replace("&amp;", "&")).status_code == 200 for a in assets)
    assert "http" not in "".join(assets)  # nothing from the internet
    assert "Content-Security-Policy" not in client.get("/api/v1/tenants/acme/me").headers


def test_admin_sees_webhook_urls_without_the_secret(site):
    admin = sign_in(site, "acme", "boss")
    text = admin.get("/t/acme/admin").get_data(as_text=True)
    assert "http://localhost/webhooks/acme/salesforce/outbound-message?token=&lt;webhook secret&gt;" in text
    assert "PAGES_WEBHOOK_SECRET" in text and "s3cret-never-shown" not in text
    assert "No sync has run yet." in text


def test_admin_resolves_a_conflict_from_the_queue(site, tether_store):
    with tether_store.tenant_transaction("acme") as session:
        company = Company(name="Local name", external_source="salesforce", external_id="001000000000001AAA")
        session.add(company)
        session.flush()
        conflict = SyncConflict(connector="salesforce", object_name="Account", entity="company", local_id=company.id,
                                external_id=company.external_id, field="name", source_field="Name", policy="manual",
                                values={"base": "Old name", "local": "Local name", "remote": "Remote name"})
        session.add(conflict)
        session.flush()
        company_id, conflict_id = company.id, conflict.id
    admin = sign_in(site, "acme", "boss")
    queue = admin.get("/t/acme/admin/conflicts").get_data(as_text=True)
    assert f'id="conflict-{conflict_id}"' in queue and "Remote name" in queue
    csrf = csrf_of(admin, "/t/acme/admin/conflicts")
    done = admin.post(f"/t/acme/admin/conflicts/{conflict_id}/resolve", data={"csrf_token": csrf, "keep": "remote"})
    assert done.status_code == 303
    assert "kept Salesforce's value" in html.unescape(admin.get(done.headers["Location"]).get_data(as_text=True))
    with tether_store.tenant_session("acme") as session:
        assert session.get(Company, company_id).name == "Remote name"
        assert session.scalar(select(SyncConflict.status).where(SyncConflict.id == conflict_id)) == "resolved"
    again = admin.post(f"/t/acme/admin/conflicts/{conflict_id}/resolve", data={"csrf_token": csrf, "keep": "local"})
    assert "already resolved" in admin.get(again.headers["Location"]).get_data(as_text=True)
