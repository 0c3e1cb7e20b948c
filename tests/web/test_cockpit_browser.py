"""The Cockpit page in headless Chromium against `tether serve` on loopback: a CSM signs in,
filters their calls to action, opens one, sees its linked opportunity, completes a task and
closes it (the closing lands on the relationship's timeline); a Viewer+Analytics user reads
the same CTA and its opportunity and cannot change anything."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tether.core.manifests import validate_tenant_manifest
from tether.core.store.models import Opportunity
from tether.core.tenants import apply_manifest
from tether.plugins.cockpit.models import Cta
from tether.web.session import CSRF_FIELD

from .test_browser import api, shot, signed_in
from .world import TENANT, USERS, World, manifest

pytestmark = pytest.mark.slow
COCKPIT = {"list_fields": ["company.segment", "company.health", "relationship.type", "relationship.arr"],
           "playbooks": [{"name": "Renewal rescue", "type": "risk", "tasks": [
               {"name": "Call the economic buyer", "due_in_days": 2},
               {"name": "Send the usage review", "due_in_days": 5}]}]}


@pytest.fixture(scope="module")
def cockpit(world: World):
    """The world's tenant with the Cockpit enabled and three CTAs: two of the CSM's, one of the admin's."""
    with_cockpit = manifest(world.org)
    with_cockpit["plugins"] = with_cockpit["plugins"] + [{"name": "cockpit", "config": COCKPIT}]
    host, store = world.runtime.host, world.runtime.store
    apply_manifest(store, host, validate_tenant_manifest(with_cockpit, host, source="cockpit browser tests"))
    world.runtime.forget_context()
    with world.tenant.session() as session:
        renewal = session.scalars(select(Opportunity).where(
            Opportunity.booking_type == "renewal", Opportunity.is_closed.is_(False),
            Opportunity.company_id.is_not(None)).order_by(Opportunity.id)).first()
        other_company = session.scalars(select(Opportunity.company_id).where(
            Opportunity.company_id.is_not(None), Opportunity.company_id != renewal.company_id)).first()
    relationship = api(world, "admin", "POST", "/relationships", json={
        "company_id": renewal.company_id, "type_name": "Product", "name": "Analytics Suite", "arr": "84000.00"})
    soon = (date.today() + timedelta(days=6)).isoformat()
    rescue = api(world, "user", "POST", "/cockpit/ctas", json={
        "name": "Renewal at risk: Analytics Suite", "relationship_id": relationship["id"], "priority": "high",
        "reason": "Usage fell 30% this quarter", "due_date": soon, "opportunity_ids": [renewal.id],
        "playbook": "Renewal rescue"})
    onboarding = api(world, "user", "POST", "/cockpit/ctas", json={
        "name": "Finish onboarding", "company_id": other_company, "type": "lifecycle", "priority": "low",
        "due_date": (date.today() + timedelta(days=30)).isoformat(), "tasks": [{"name": "Admin training"}]})
    admins = api(world, "admin", "POST", "/cockpit/ctas", json={
        "name": "Executive sponsor change", "company_id": other_company, "type": "activity"})
    return {"rescue": rescue, "onboarding": onboarding, "admins": admins, "renewal": renewal,
            "relationship": relationship}


def test_a_csm_filters_opens_works_and_closes_a_cta(browser, world, cockpit):
    page = signed_in(browser, world, "user")
    nav = page.get_by_role("navigation", name="Sections")
    nav.get_by_role("link", name="Cockpit").click()
    page.wait_for_url(re.compile(r".*/cockpit$"))
    table = page.get_by_role("region", name="Calls to action")
    assert table.locator("tbody tr").count() == 2  # the CSM's own, open
    headers = table.locator("thead th").all_inner_texts()
    assert {"Company segment", "Company health", "Relationship type", "Relationship ARR"} <= set(headers)
    row = table.locator("tbody tr").filter(has_text="Renewal at risk")
    assert "Analytics Suite" in row.inner_text() and "Product" in row.inner_text() and "High" in row.inner_text()
    shot(world, page, "cockpit")

    page.get_by_label("Priority").select_option("low")
    page.get_by_role("button", name="Filter").click()
    assert table.locator("tbody tr").all_inner_texts()[0].startswith("Finish onboarding")
    assert table.locator("tbody tr").count() == 1
    page.get_by_label("Priority").select_option("")
    page.get_by_label("Owner").select_option("any")
    page.get_by_role("button", name="Filter").click()
    assert table.locator("tbody tr").count() == 3

    table.get_by_role("link", name="Renewal at risk: Analytics Suite").click()
    assert page.get_by_role("heading", name="Renewal at risk: Analytics Suite", level=1).is_visible()
    opportunities = page.locator("section[aria-labelledby=opps-title]")
    assert cockpit["renewal"].name in opportunities.inner_text()
    tasks = page.locator("#tasks")
    assert "Call the economic buyer" in tasks.inner_text() and "2 open of 2" in tasks.inner_text()
    shot(world, page, "cockpit-cta")
    tasks.get_by_role("button", name="Complete Call the economic buyer").click()
    assert "Task completed: Call the economic buyer." in page.get_by_role("status").inner_text()
    assert "1 open of 2" in page.locator("#tasks").inner_text()

    page.locator("#close-cta summary").click()
    page.get_by_label("Outcome").select_option("closed_success")
    page.get_by_label(re.compile("^Note")).fill("Renewal saved with a training plan.")
    page.get_by_role("button", name="Close CTA").click()
    assert "Closed (closed success)" in page.get_by_role("status").inner_text()
    assert page.get_by_role("button", name="Reopen", exact=True).is_visible()
    assert "Renewal saved with a training plan." in page.locator("#comments").inner_text()

    # The closing is on the relationship's timeline.
    page.get_by_role("link", name="Analytics Suite").first.click()
    timeline = page.locator("#timeline .timeline")
    assert "CTA closed (closed success): Renewal at risk: Analytics Suite" in timeline.inner_text()
    with world.tenant.session() as session:
        closed = session.get(Cta, cockpit["rescue"]["id"])
        assert (closed.status, closed.closed_by) == ("closed_success", USERS["user"])
    page.context.close()


def test_viewer_analytics_reads_a_cta_and_its_opportunities_but_cannot_change_it(browser, world, cockpit):
    page = signed_in(browser, world, "viewer_analytics")
    nav = page.get_by_role("navigation", name="Sections")
    assert "Cockpit" in nav.get_by_role("link").all_inner_texts()
    onboarding = cockpit["onboarding"]
    page.goto(f"{world.base_url}/t/{TENANT}/cockpit/ctas/{cockpit['rescue']['id']}")
    assert cockpit["renewal"].name in page.locator("section[aria-labelledby=opps-title]").inner_text()
    assert "Read-only" in page.locator("section[aria-labelledby=about-title]").inner_text()
    assert page.locator("#close-cta").count() == 0 and page.get_by_role("button", name="Reopen").count() == 0
    assert page.locator("#tasks button").count() == 0 and page.locator("#comment-body").count() == 0
    shot(world, page, "cockpit-viewer")
    # A crafted form post (with the session's own CSRF token) is refused for the role, and nothing changes.
    token = page.locator(f"input[name={CSRF_FIELD}]").first.get_attribute("value")
    response = page.request.post(f"{world.base_url}/t/{TENANT}/cockpit/ctas/{onboarding['id']}/close",
                                 form={"status": "closed_lost", CSRF_FIELD: token})
    assert response.status == 403 and "Not available to your role" in response.text()
    assert api(world, "user", "GET", f"/cockpit/ctas/{onboarding['id']}")["is_closed"] is False
    page.context.close()


def test_the_cockpit_list_at_tablet_width_scrolls_inside_its_card(browser, world, cockpit):
    page = signed_in(browser, world, "user", viewport={"width": 800, "height": 1024})
    page.goto(f"{world.base_url}/t/{TENANT}/cockpit?owner=any&status=all")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.context.close()
