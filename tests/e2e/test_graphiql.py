"""GraphiQL at `/graphql` runs the README's subscription in a real headless Chromium.

`browser` is every test's first fixture: without Chromium a test skips before a server starts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from tests.conftest import TestUser
from tests.e2e.test_page_policies import RECORD_VIOLATIONS
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar
from tests.support.waiting import eventually

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
WAIT_MS = 20_000

# GraphiQL's editors are CodeMirror instances; typing into them would fight its bracket
# completion, so the test sets their text as a paste would.
SET_EDITOR = """([selector, text]) => {
  document.querySelector(selector).CodeMirror.setValue(text);
}"""
PARSED = """([selector, text]) => {
  const ast = document.querySelector(selector).CodeMirror.documentAST;
  return Boolean(ast && ast.loc && ast.loc.source.body === text);
}"""
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"


async def graphiql_with_headers(
    page: Page, chronik: RunningChronik, headers: dict[str, str]
) -> None:
    """GraphiQL open, with `headers` typed into its Headers tab."""
    await page.goto(f"{chronik.url}/graphql")
    await page.wait_for_selector(".graphiql-container", timeout=WAIT_MS)
    await page.get_by_role("button", name="Headers", exact=True).click()
    await page.evaluate(SET_EDITOR, [HEADERS_EDITOR, json.dumps(headers)])


async def run(page: Page, query: str) -> None:
    await page.evaluate(SET_EDITOR, [QUERY_EDITOR, query])
    # GraphiQL parses the editor's text a moment after a change (debounced); it tells a
    # subscription from a query by that parse, so run only once it has caught up.
    await page.wait_for_function(PARSED, arg=[QUERY_EDITOR, query], timeout=WAIT_MS)
    await page.get_by_role("button", name="Execute query").first.click()


async def test_graphiql_runs_the_readmes_subscription_and_shows_a_change_from_the_calendar(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test", name="Carla")
    event = await cal.calendar.create(title="Kickoff", start=SOON, guests=["carla@client.test"])
    await cal.sync()

    page = await browser.new_page()
    await page.add_init_script(RECORD_VIOLATIONS)
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    await graphiql_with_headers(page, chronik, {"Authorization": f"Bearer {alice.token}"})
    feed = chronik.app.state.services.live
    await run(
        page,
        f'subscription {{ contactTimeline(contactId: "{carla}") {{ kind meeting {{ title }} }} }}',
    )
    # The token from the Headers tab signed the socket in: the server registered the subscriber.
    await eventually(lambda: feed.subscriber_count == 1)

    await cal.calendar.update(event, title="Kickoff (agenda attached)")
    result = page.locator(".result-window")
    await result.get_by_text("Kickoff (agenda attached)").wait_for(timeout=WAIT_MS)
    assert "UPDATED" in await result.inner_text()
    assert "INTERNAL" not in await result.inner_text()
    assert sockets == [chronik.url.replace("http://", "ws://") + "/graphql"]
    # The page's policy (connect-src 'self') let the websocket through: nothing was blocked.
    assert await page.evaluate("window.__violations") == []


async def test_graphiql_says_at_once_when_a_subscriptions_token_is_refused(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    # A newcomer with a typo in the token: the subscription must say what is wrong and stop,
    # not retry a refused token behind a spinner (graphql-ws retries close code 4403).
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test", name="Carla")
    page = await browser.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    await graphiql_with_headers(page, chronik, {"Authorization": f"Bearer {alice.token}x"})
    await run(page, f'subscription {{ contactTimeline(contactId: "{carla}") {{ kind }} }}')
    result = page.locator(".result-window")
    await result.get_by_text("The API token was refused").first.wait_for(timeout=WAIT_MS)
    assert "Headers tab" in await result.inner_text()
    assert len(sockets) == 1  # one attempt, no retries
    assert chronik.app.state.services.live.subscriber_count == 0
