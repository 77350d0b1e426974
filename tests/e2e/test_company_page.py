"""A company on the live page, in a real headless Chromium: its timeline (the meetings of its
contacts), kept live, and a meeting scheduled from it, logged on it and on a deal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from tests.conftest import TestUser
from tests.e2e.test_timeline_page import ARTIFACTS, SOON, WAIT_MS, signed_in_page
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

DEAL_TIMELINE = """query($id: ID!) { deal(id: $id) { timeline { edges { node { meeting { title
  attendees { email } } } } } } }"""


async def test_a_company_shows_its_contacts_meetings_and_schedules_on_a_deal(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test", name="Carla")
    await cal.contact("erin@other.test", name="Erin")
    made = await chronik.graphql(
        'mutation { company: createCompany(input: {name: "Client Co", domains: ["client.test"]}) '
        '{ id } deal: createDeal(input: {name: "Renewal 2027"}) { id } }',
        token=alice.token,
    )
    company, deal = made.ok()["company"]["id"], made.ok()["deal"]["id"]
    linked = await chronik.graphql(
        "mutation($c: ID!, $p: [ID!]!) { addCompanyContacts(companyId: $c, contactIds: $p) "
        "{ id } }",
        {"c": company, "p": [carla]},
        token=alice.token,
    )
    linked.ok()
    kickoff = await cal.calendar.create(
        title="Kickoff with Carla", start=SOON, guests=["carla@client.test"]
    )
    await cal.calendar.create(title="Erin's call", start=SOON, guests=["erin@other.test"])
    await cal.sync()

    page = await signed_in_page(browser, chronik, alice.token)
    await page.locator("#companies").get_by_role("button", name="Client Co").click()
    panel = page.locator("#company-panel")
    await panel.locator("#company-heading", has_text="Client Co").wait_for(timeout=WAIT_MS)
    timeline = page.locator("#company-timeline")
    await timeline.get_by_role("heading", name="Kickoff with Carla").wait_for(timeout=WAIT_MS)
    assert await timeline.locator(".entry").count() == 1  # Erin is no contact of Client Co
    assert await page.locator("#timeline-panel").is_hidden()

    form = page.locator("#company-schedule-form")
    await form.get_by_label("Title").fill("Renewal pricing")
    await form.get_by_label("Starts").fill(SOON.strftime("%Y-%m-%dT%H:%M"))
    await form.get_by_label("Also on deal").select_option(label="Renewal 2027")
    await form.get_by_role("button", name="Schedule").click()
    await page.locator("#notice", has_text="Scheduled “Renewal pricing”").wait_for(timeout=WAIT_MS)
    await timeline.get_by_role("heading", name="Renewal pricing").wait_for(timeout=WAIT_MS)
    assert await page.locator("#company-count").inner_text() == "2 meetings"

    on_deal = await chronik.graphql(DEAL_TIMELINE, {"id": deal}, token=alice.token)
    [entry] = on_deal.ok()["deal"]["timeline"]["edges"]
    assert entry["node"]["meeting"]["title"] == "Renewal pricing"
    # The company's contacts were invited.
    assert "carla@client.test" in {a["email"] for a in entry["node"]["meeting"]["attendees"]}

    # Live: Carla's meeting changes in the calendar; the company's timeline follows, in place.
    await page.evaluate("window.__sameDocument = true")
    await cal.calendar.update(kickoff, title="Kickoff with Carla (agenda attached)")
    await timeline.get_by_role("heading", name="Kickoff with Carla (agenda attached)").wait_for(
        timeout=WAIT_MS
    )
    assert await page.evaluate("window.__sameDocument") is True
    assert await timeline.locator(".entry").count() == 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "company_page.png", full_page=True)
