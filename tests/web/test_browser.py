"""The pages in headless Chromium against `tether serve` on loopback, seeded from the fake org.

Each scenario is what a CSM, renewal manager, analyst or admin does in a browser; the
screenshots of the SQLite run are kept in docs/screenshots/ (linked from the README), or in
the folder ``TETHER_SCREENSHOTS`` names.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
import requests
from sqlalchemy import select

from tether.core.store.models import OutboxEntry
from tether.core.sync.push import push_outbox
from tether.plugins.timeline.models import ActivityRecord
from tether.web.formatting import compact_money

from .world import TENANT, World

pytestmark = pytest.mark.slow
VIEWPORT = {"width": 1280, "height": 800}


def api(world: World, role: str, method: str, path: str, **kwargs):
    """The REST API as a script would call it (bearer token), to set up or check a scenario."""
    response = requests.request(method, f"{world.base_url}/api/v1/tenants/{TENANT}{path}",
                                headers={"Authorization": f"Bearer {world.tokens[role]}"}, timeout=30, **kwargs)
    assert response.status_code < 400, response.text
    return response.json() if response.content else None


def signed_in(browser, world: World, role: str, *, viewport=VIEWPORT):
    """A fresh browser signed in through a sign-in link (the token rides in the fragment)."""
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{world.base_url}/signin#token={world.tokens[role]}")
    page.wait_for_url(re.compile(rf".*/t/{TENANT}/.*"))
    return page


def shot(world: World, page, name: str) -> None:
    if world.screenshots is not None:
        world.screenshots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(world.screenshots / f"{name}.png"))


def outbox(world: World, status: str | None = None) -> list[OutboxEntry]:
    with world.tenant.session() as session:
        query = select(OutboxEntry).order_by(OutboxEntry.id)
        if status:
            query = query.where(OutboxEntry.status == status)
        return list(session.scalars(query))


def test_sign_in_with_a_token_then_out(browser, world):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(world.base_url + "/")
    assert page.url.endswith("/signin")
    shot(world, page, "signin")
    page.get_by_label("API token").fill("tth_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    assert "unknown, revoked" in page.get_by_role("alert").inner_text()
    page.get_by_label("API token").fill(world.tokens["user"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/renewals/forecast$"))
    nav = page.get_by_role("navigation", name="Sections")
    assert [link.inner_text() for link in nav.get_by_role("link").all()] == ["Forecast", "Analyze", "Companies"]
    cookie = next(c for c in context.cookies() if c["name"] == "tether_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find("tth_") == -1  # scripts never see the token
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/signin$"))
    assert "Signed out" in page.get_by_role("status").inner_text()
    page.goto(f"{world.base_url}/t/{TENANT}/renewals/forecast")
    assert "/signin" in page.url
    context.close()


def test_enter_a_forecast_call_and_see_it_in_the_outbox(browser, world):
    page = signed_in(browser, world, "user")
    assert page.get_by_role("heading", name="Renewal Center — Forecast").is_visible()
    assert page.get_by_role("row", name=re.compile("^Renewal forecast")).is_visible()
    shot(world, page, "forecast")
    row = page.locator("tr[id^=opp-]").filter(has=page.get_by_text("Enter call")).first
    opportunity_id = int(row.get_attribute("id").split("-")[1])
    row.get_by_text("Enter call").click()
    row.get_by_label("Category").select_option("commit")
    row.get_by_label(re.compile("^Amount")).fill("12500")
    row.get_by_label("Comment").fill("Champion confirmed budget")
    row.scroll_into_view_if_needed()
    shot(world, page, "forecast-call")
    row.get_by_role("button", name="Save call").click()
    assert "Forecast call saved: commit, 12500.00" in page.get_by_role("status").inner_text()
    saved = page.locator(f"#opp-{opportunity_id}")
    assert "Commit" in saved.inner_text() and "csm@acme.test" in saved.inner_text()

    queued = [e for e in outbox(world, "pending") if e.local_id == opportunity_id]
    assert [e.changes.get("forecast_call_category") for e in queued] == ["commit"]
    admin = signed_in(browser, world, "admin")
    admin.goto(f"{world.base_url}/t/{TENANT}/admin/outbox")
    entry = admin.locator(f"#outbox-{queued[0].id}")
    assert "forecast_call_category" in entry.inner_text() and "commit" in entry.inner_text()
    shot(world, admin, "admin-outbox")
    page.context.close()
    admin.context.close()


def test_retry_a_failed_record(browser, world):
    org = world.org.org
    target = next((e for e in outbox(world, "pending") if e.changes.get("forecast_call_category")), None)
    if target is None:  # this scenario stands alone too: queue a call through the API
        item = api(world, "user", "GET", "/renewals/opportunities", params={"status": "open", "limit": 1})["items"][0]
        api(world, "user", "POST", f"/renewals/opportunities/{item['id']}/calls", json={"category": "commit"})
        target = next(e for e in outbox(world, "pending") if e.changes.get("forecast_call_category"))
    rule = org.faults.validation_rule("Opportunity", field="Renewal_Call__c", value="commit",
                                      message="Renewal calls are locked during the quarter close",
                                      error_field="Renewal_Call__c")
    pushed = push_outbox(world.tenant)
    assert pushed.failed >= 1
    failed = {e.id: e for e in outbox(world, "failed")}
    assert target.id in failed and "locked during the quarter close" in failed[target.id].last_error

    page = signed_in(browser, world, "admin")
    page.goto(f"{world.base_url}/t/{TENANT}/admin")
    assert page.get_by_role("link", name="1 failed").is_visible()
    assert "/webhooks/acme/salesforce/outbound-message?token=" in page.locator("code.url").inner_text()
    shot(world, page, "admin")
    page.get_by_role("link", name="Failed records").click()
    row = page.locator(f"#failed-{target.id}")
    assert "locked during the quarter close" in row.inner_text()
    shot(world, page, "admin-failures")
    org.faults.clear()
    del rule
    row.get_by_role("button", name=re.compile("^Retry")).click()
    assert "Queued 1 record again" in page.get_by_role("status").inner_text()
    assert page.locator(f"#failed-{target.id}").count() == 0
    assert {e.id for e in outbox(world, "pending")} >= {target.id}
    assert push_outbox(world.tenant).failed == 0
    assert org.get(target.external_id)["Renewal_Call__c"] == "commit"
    page.context.close()


def test_drill_down_from_a_chart_and_export_csv(browser, world):
    page = signed_in(browser, world, "user")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Analyze").click()
    page.get_by_role("button", name=re.compile("Renewals overview")).click()
    assert "Saved and shared the view" in page.get_by_role("status").inner_text()
    shot(world, page, "analyze")
    bars = page.locator("#widget-3 svg a")  # "Renewals due by forecast category"
    assert bars.count() >= 1
    label = bars.first.get_attribute("aria-label")
    group, shown = re.match(r"(.+): (.+), open the renewals", label).groups()
    bars.first.click()
    page.wait_for_url(re.compile(r".*/drilldown\?.*"))
    assert page.get_by_role("heading", level=1).inner_text().endswith(group)
    rows = page.locator("table tbody tr")
    assert rows.count() >= 1
    shot(world, page, "drilldown")
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Export CSV").click()
    content = open(waiting.value.path(), encoding="utf-8").read()
    exported = list(csv.DictReader(io.StringIO(content)))
    assert exported and "contribution" in exported[0]
    # The bar, the drill-down and the export agree: the rows add up to the figure charted.
    total = sum(Decimal(r["contribution"]) for r in exported)
    assert compact_money(total, "USD") == shown
    on_page = {int(tid) for tid in page.locator("table tbody tr td:first-child a").evaluate_all(
        "links => links.map(a => a.href.split('/').pop())")}
    assert on_page <= {int(r["opportunity_id"]) for r in exported}
    page.context.close()


def test_open_a_company_360_and_add_an_activity(browser, world):
    company = api(world, "user", "GET", "/companies", params={"limit": 1})["items"][0]
    relationship = api(world, "user", "POST", "/relationships",
                       json={"company_id": company["id"], "type_name": "Product", "name": "Data Cloud", "csm": "Dana"})
    page = signed_in(browser, world, "user")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Companies").click()
    shot(world, page, "companies")
    page.get_by_role("link", name=company["name"], exact=True).click()
    assert page.get_by_role("heading", name=company["name"], level=1).is_visible()
    health = page.locator("section[aria-labelledby=health-title]")
    assert health.locator("svg.chart").count() == 1 and "Company Employees" in health.inner_text()
    shot(world, page, "company-360")
    form = page.locator("#add-activity")
    if form.get_attribute("open") is None:  # open already when the timeline is empty
        form.locator("summary").click()
    page.locator("#act-type").select_option("Call")
    page.get_by_label("Subject").fill("QBR prep call")
    page.get_by_label("Notes").fill("Walked through the renewal plan.")
    page.get_by_role("button", name="Add activity").click()
    assert "Activity added: Call — QBR prep call." in page.get_by_role("status").inner_text()
    assert "QBR prep call" in page.locator("#timeline .timeline").inner_text()
    with world.tenant.session() as session:
        logged = session.scalars(select(ActivityRecord).where(ActivityRecord.subject == "QBR prep call")).all()
    assert [(a.company_id, a.author) for a in logged] == [(company["id"], "csm@acme.test")]
    page.get_by_role("link", name="Data Cloud", exact=True).click()
    assert page.get_by_role("heading", name="Data Cloud", level=1).is_visible()
    shot(world, page, "relationship-360")
    assert relationship["id"] == int(page.url.rstrip("/").split("/")[-1])
    page.context.close()


def test_viewer_analytics_cannot_reach_the_forecast_page(browser, world):
    private = api(world, "user", "POST", "/renewals/views", json={"name": "My private view", "widgets": [
        {"kind": "kpi", "measure": "renewal_forecast"}]})
    shared = api(world, "user", "POST", "/renewals/views", json={"name": "Team forecast", "shared": True, "widgets": [
        {"kind": "kpi", "measure": "renewal_forecast"}]})
    page = signed_in(browser, world, "viewer_analytics")
    assert page.url.endswith("/renewals/analyze")
    nav = page.get_by_role("navigation", name="Sections")
    assert [link.inner_text() for link in nav.get_by_role("link").all()] == ["Analyze", "Companies"]
    names = page.locator("table tbody tr td:first-child a").all_inner_texts()
    assert shared["name"] in names and private["name"] not in names
    assert page.get_by_role("button", name=re.compile("Renewals overview")).count() == 0
    shot(world, page, "analyze-viewer")
    response = page.goto(f"{world.base_url}/t/{TENANT}/renewals/forecast")
    assert response.status == 403
    assert page.get_by_role("heading", name="Not available to your role").is_visible()
    shot(world, page, "forbidden")
    assert page.goto(f"{world.base_url}/t/{TENANT}/admin").status == 403
    assert page.goto(f"{world.base_url}/t/{TENANT}/renewals/analyze/{private['id']}").status == 404
    page.context.close()


def test_keyboard_focus_and_tablet_width(browser, world):
    page = signed_in(browser, world, "user", viewport={"width": 800, "height": 1024})
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.textContent, getComputedStyle(document.activeElement).left]")
    assert focused[0] == "Skip to content" and focused[1] != "-999px"  # the skip link shows when focused
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    style = page.evaluate("(() => { const s = getComputedStyle(document.activeElement); "
                          "return [document.activeElement.textContent, s.outlineStyle, s.outlineWidth]; })()")
    assert style[0] == "Forecast" and style[1] == "solid" and style[2] == "3px"
    for path in ("/renewals/forecast", "/companies"):
        page.goto(f"{world.base_url}/t/{TENANT}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 800, path
    shot(world, page, "forecast-tablet")
    page.context.close()
