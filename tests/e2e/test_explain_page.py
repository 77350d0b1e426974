"""The page's "Why?": next to each meeting, and for an event link pasted by the user, in a
real headless Chromium (skips without it, see conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from tests.conftest import TestUser
from tests.e2e.test_timeline_page import ARTIFACTS, WAIT_MS, open_contact, signed_in_page
from tests.support.linking import sandbox_control, sandbox_url
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)


async def test_why_explains_a_meeting_and_a_pasted_event_link(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    await cal.contact("carla@client.test", name="Carla")
    await cal.calendar.create(title="Kickoff", start=SOON, guests=["carla@client.test"])
    hidden = await cal.calendar.create(
        title="Intro call", start=SOON, guests=["dana@prospect.test"]
    )
    await cal.sync()
    minted = await sandbox_control(chronik, "GOOGLE", "POST", f"users/{alice.email}/token", {})
    event = await chronik.http.get(
        f"{sandbox_url(chronik, 'GOOGLE')}/calendar/v3/calendars/primary/events/{hidden}",
        headers={"Authorization": f"Bearer {minted['access_token']}"},
    )
    html_link = event.json()["htmlLink"]

    page = await signed_in_page(browser, chronik, alice.token)
    await open_contact(page, chronik, "Carla")
    entry = page.locator("#timeline .entry", has_text="Kickoff")
    await entry.get_by_role("button", name="Why?").click()
    answer = entry.locator(".why-answer")
    await answer.wait_for(timeout=WAIT_MS)
    assert await answer.get_attribute("data-reason") == "ON_TIMELINE"
    assert "“Kickoff” is on the timeline of Carla." in await answer.inner_text()

    # The meeting that is on no timeline: the user pastes its link from Google Calendar.
    await page.get_by_label("Event link or id").fill(html_link)
    await page.get_by_role("button", name="Explain").click()
    pasted = page.locator("#explain-answer .why-answer")
    await pasted.wait_for(timeout=WAIT_MS)
    assert await pasted.get_attribute("data-reason") == "NO_CONTACT_GUEST"
    assert "dana@prospect.test matches no contact" in await pasted.inner_text()

    # Something that is not an event link gets the server's reason, not silence.
    await page.get_by_label("Event link or id").fill("https://example.com/nope")
    await page.get_by_role("button", name="Explain").click()
    refused = page.locator("#explain-answer .why-answer[data-reason=VALIDATION]")
    await refused.wait_for(timeout=WAIT_MS)
    assert "not a Google Calendar event link" in await refused.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "explain_page.png", full_page=True)
