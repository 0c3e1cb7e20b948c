"""The Cockpit pages through Flask's test client, on both backends: the navigation link only
where the plugin is enabled, CSRF on its forms, paging, filter errors, and another tenant."""

from __future__ import annotations

import re

import pytest

from tests.core.domain.conftest import add_companies
from tether.webhooks.app import create_app

from .test_pages import csrf_of, sign_in

USERS = [{"username": "boss", "role": "admin"}, {"username": "ana", "role": "user"},
         {"username": "vic", "role": "viewer_analytics"}]


@pytest.fixture
def site(make_tenant, tether_runtime):
    acme = make_tenant("acme", plugins={"cockpit": {}, "timeline": {}}, users=USERS)
    make_tenant("globex", plugins={"timeline": {}}, users=[{"username": "gina", "role": "admin"}])
    ids = add_companies(acme, [{"name": "Acme"}])
    app = create_app(tether_runtime)
    return app, acme, ids


def open_ctas(client, company_id: int, count: int) -> list[int]:
    token = client.tether_token
    made = []
    for i in range(count):
        response = client.post("/api/v1/tenants/acme/cockpit/ctas", json={"name": f"CTA {i:02d}",
                                                                          "company_id": company_id},
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.get_json()
        made.append(response.get_json()["id"])
    return made


def test_the_navigation_links_the_cockpit_only_where_it_is_enabled(site):
    app, _, _ = site
    acme = sign_in(app, "acme", "vic").get("/t/acme/companies").get_data(as_text=True)
    assert re.search(r'<a href="/t/acme/cockpit"[^>]*>Cockpit</a>', acme)
    globex = sign_in(app, "globex", "gina")
    assert "Cockpit" not in globex.get("/t/globex/companies").get_data(as_text=True)
    missing = globex.get("/t/globex/cockpit")
    assert missing.status_code == 404 and "not enabled" in missing.get_data(as_text=True)


def test_the_list_pages_on_the_server_and_shows_filter_errors(site):
    app, _, ids = site
    ana = sign_in(app, "acme", "ana")
    open_ctas(ana, ids["Acme"], 27)
    first = ana.get("/t/acme/cockpit?sort=name").get_data(as_text=True)
    assert first.count('href="/t/acme/cockpit/ctas/') == 25 and "CTA 00" in first and "CTA 25" not in first
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    rest = ana.get(next_url).get_data(as_text=True)
    assert rest.count('href="/t/acme/cockpit/ctas/') == 2 and "CTA 26" in rest
    bad = ana.get("/t/acme/cockpit?due_from=yesterday").get_data(as_text=True)
    assert "Not a valid date" in bad and 'role="alert"' in bad


def test_cockpit_forms_need_the_session_csrf_token(site):
    app, acme, ids = site
    ana = sign_in(app, "acme", "ana")
    [cta_id] = open_ctas(ana, ids["Acme"], 1)
    refused = ana.post(f"/t/acme/cockpit/ctas/{cta_id}/close", data={"status": "closed_lost"})
    assert refused.status_code == 403 and "Form expired" in refused.get_data(as_text=True)
    token = csrf_of(ana, f"/t/acme/cockpit/ctas/{cta_id}")
    closed = ana.post(f"/t/acme/cockpit/ctas/{cta_id}/close", data={"status": "closed_lost", "csrf_token": token})
    assert closed.status_code == 303
    page = ana.get(f"/t/acme/cockpit/ctas/{cta_id}").get_data(as_text=True)
    assert "Closed lost" in page and "Reopen" in page


def test_another_tenants_cta_page_is_not_found(site):
    app, _, ids = site
    [cta_id] = open_ctas(sign_in(app, "acme", "ana"), ids["Acme"], 1)
    assert sign_in(app, "globex", "gina").get(f"/t/acme/cockpit/ctas/{cta_id}").status_code == 404
