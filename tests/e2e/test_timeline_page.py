"""The live timeline page at `/` and GraphiQL at `/graphql`, in a real headless Chromium.

`browser` is every test's first fixture: without Chromium a test skips before a server starts.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from tests.conftest import TestUser
from tests.support.linking import sandbox_control
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar
from tests.support.waiting import eventually

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page, WebSocketRoute

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
WAIT_MS = 20_000  # generous for a loaded CI machine; a passing run takes a fraction of it


async def signed_in_page(browser: BrowserContext, chronik: RunningChronik, token: str) -> Page:
    """The page at `/`, signed in by pasting `token`, with the socket up."""
    page = await browser.new_page()
    await page.goto(f"{chronik.url}/")
    await page.get_by_label("API token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.locator("#live-status[data-status=live]").wait_for(timeout=WAIT_MS)
    return page


async def open_contact(page: Page, chronik: RunningChronik, name: str) -> None:
    """Pick the contact from the list; return once the server streams its timeline to us."""
    feed = chronik.app.state.services.live
    before = feed.subscriber_count
    await page.locator("#contacts").get_by_role("button", name=name).click()
    await page.locator("#contact-heading", has_text=name).wait_for(timeout=WAIT_MS)
    # The protocol does not confirm a subscription: wait until the server has registered it,
    # so that a change made next is certain to be streamed rather than fetched.
    await eventually(lambda: feed.subscriber_count > before)


async def test_the_timeline_updates_live_when_the_meeting_changes_in_the_calendar(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    await cal.contact("carla@client.test", name="Carla")
    event = await cal.calendar.create(
        title="Kickoff with Carla", start=SOON, guests=["carla@client.test", "dan@partner.test"]
    )
    await cal.sync()

    page = await signed_in_page(browser, chronik, alice.token)
    await page.locator("#connection dd[data-status=ACTIVE]").wait_for(timeout=WAIT_MS)
    await open_contact(page, chronik, "Carla")
    timeline = page.locator("#timeline")
    await timeline.get_by_role("heading", name="Kickoff with Carla").wait_for(timeout=WAIT_MS)

    # A marker in the page's memory: it survives only if the page is never reloaded.
    await page.evaluate("window.__sameDocument = true")
    # As the user would in Google Calendar; the sandbox's push notification starts the sync.
    await cal.calendar.update(event, title="Kickoff with Carla (agenda attached)")
    await timeline.get_by_role("heading", name="Kickoff with Carla (agenda attached)").wait_for(
        timeout=WAIT_MS
    )

    assert await page.evaluate("window.__sameDocument") is True
    assert await timeline.locator(".entry").count() == 1  # updated in place, not added
    assert await page.locator("#live-status").inner_text() == "live"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "timeline_page.png", full_page=True)


async def test_after_a_dropped_connection_the_page_shows_what_changed_meanwhile(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    await cal.contact("carla@client.test", name="Carla")
    event = await cal.calendar.create(title="Weekly sync", start=SOON, guests=["carla@client.test"])
    await cal.sync()

    # The page's websockets pass through here, so the test can cut one and hold the next.
    sockets: list[WebSocketRoute] = []
    network_up = asyncio.Event()
    network_up.set()

    async def through_the_network(socket: WebSocketRoute) -> None:
        await network_up.wait()
        socket.connect_to_server()
        sockets.append(socket)

    await browser.route_web_socket(re.compile(r"/graphql$"), through_the_network)
    page = await signed_in_page(browser, chronik, alice.token)
    await open_contact(page, chronik, "Carla")
    timeline = page.locator("#timeline")
    await timeline.get_by_role("heading", name="Weekly sync").wait_for(timeout=WAIT_MS)

    network_up.clear()
    await sockets[-1].close(code=4000, reason="network dropped")
    await page.locator("#live-status[data-status=reconnecting]").wait_for(timeout=WAIT_MS)
    feed = chronik.app.state.services.live
    await eventually(lambda: feed.subscriber_count == 0)  # nobody streams to the page now
    await cal.calendar.update(event, title="Weekly sync (moved to Thursday)")
    await cal.sync()
    network_up.set()

    await timeline.get_by_role("heading", name="Weekly sync (moved to Thursday)").wait_for(
        timeout=WAIT_MS
    )
    assert await page.locator("#live-status").inner_text() == "live"
    assert len(sockets) == 2


async def test_a_meeting_scheduled_on_the_page_is_invited_and_lands_on_the_timeline(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test", name="Carla")
    page = await signed_in_page(browser, chronik, alice.token)
    await open_contact(page, chronik, "Carla")

    form = page.locator("#schedule-form")
    await form.get_by_label("Title").fill("Contract review")
    await form.get_by_label("Starts").fill(SOON.strftime("%Y-%m-%dT%H:%M"))
    await form.get_by_role("button", name="Schedule").click()

    await page.locator("#notice", has_text="Scheduled “Contract review”").wait_for(timeout=WAIT_MS)
    await (
        page.locator("#timeline")
        .get_by_role("heading", name="Contract review")
        .wait_for(timeout=WAIT_MS)
    )
    sent = await sandbox_control(chronik, "GOOGLE", "GET", "invitations")
    assert "carla@client.test" in {mail["to"] for mail in sent["invitations"]}
    assert await cal.titles(carla) == ["Contract review"]


async def test_a_wrong_token_is_refused_on_the_sign_in_form(
    browser: BrowserContext, chronik: RunningChronik
) -> None:
    page = await browser.new_page()
    await page.goto(f"{chronik.url}/")
    await page.get_by_label("API token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await (
        page.get_by_role("alert")
        .filter(has_text="That token is not valid.")
        .wait_for(timeout=WAIT_MS)
    )
    assert await page.locator("#app").is_hidden()


async def test_graphiql_renders_offline_in_a_browser_and_runs_a_query(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser
) -> None:
    page = await browser.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    response = await page.goto(f"{chronik.url}/graphql")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    # Everything GraphiQL needs comes from Chronik: the editor renders on a machine offline.
    await page.wait_for_selector(".graphiql-container", timeout=20_000)
    assert failed == []
    # Run a query the way a person would: token in the headers, then the run button.
    result = await page.evaluate(
        """async (token) => {
            const answer = await fetch("/graphql", {method: "POST",
              headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token},
              body: JSON.stringify({query: "{ me { email } }"})});
            return answer.json();
        }""",
        alice.token,
    )
    assert result == {"data": {"me": {"email": alice.email}}}
    await page.screenshot(path=str(ARTIFACTS / "graphiql.png"))
