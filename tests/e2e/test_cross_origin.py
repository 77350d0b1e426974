"""A frontend served from another origin calls Chronik from a real Chromium.

A second tiny HTTP server (another port: another origin) serves the frontend's page; the page
queries `/graphql` with `fetch` and subscribes over a graphql-transport-ws websocket, as an app
on `http://localhost:5173` would. The browser enforces CORS: without `CHRONIK_CORS_ORIGINS`
naming the page's origin, it gets nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest
from aiohttp import web

from app.settings import Settings
from tests.conftest import TestUser
from tests.support.server import RunningChronik, free_port, running_chronik
from tests.support.sync import linked_calendar
from tests.support.waiting import eventually

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
WAIT_MS = 20_000

# The frontend's calls, run in its page: a query over fetch, and a subscription whose
# messages collect in `window.updates`.
QUERY = """async ([api, token, query]) => {
  try {
    const answer = await fetch(api + "/graphql", {method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token},
      body: JSON.stringify({query})});
    return await answer.json();
  } catch (error) {
    return {failed: String(error)};
  }
}"""
SUBSCRIBE = """([api, token, query]) => new Promise((resolve) => {
  window.updates = [];
  const socket = new WebSocket(api.replace("http", "ws") + "/graphql", "graphql-transport-ws");
  socket.onopen = () => socket.send(JSON.stringify(
    {type: "connection_init", payload: {Authorization: "Bearer " + token}}));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      socket.send(JSON.stringify({id: "1", type: "subscribe", payload: {query}}));
      resolve("subscribed");
    } else if (message.type === "next") {
      window.updates.push(message.payload);
    }
  };
  socket.onclose = (event) => resolve("closed " + event.code);
})"""


@pytest.fixture
async def frontend_origin() -> AsyncIterator[str]:
    """The frontend's own server: one empty page, on another port than Chronik."""
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>Frontend</title>", content_type="text/html")

    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def frontend_page(browser: BrowserContext, origin: str) -> Page:
    page = await browser.new_page()
    await page.goto(f"{origin}/")
    return page


async def test_a_page_of_a_listed_origin_queries_and_subscribes(
    browser: BrowserContext,
    frontend_origin: str,
    settings: Settings,
    alice: TestUser,
    db: asyncpg.Connection,
) -> None:
    allowed = settings.model_copy(update={"cors_origins": [frontend_origin]})
    async with running_chronik(allowed) as chronik:
        cal = await linked_calendar(chronik, alice, db, "GOOGLE")
        carla = await cal.contact("carla@client.test", name="Carla")
        event = await cal.calendar.create(title="Kickoff", start=SOON, guests=["carla@client.test"])
        await cal.sync()

        page = await frontend_page(browser, frontend_origin)
        answer: dict[str, Any] = await page.evaluate(
            QUERY, [chronik.url, alice.token, "{ contacts(first: 5) { edges { node { name } } } }"]
        )
        assert answer == {"data": {"contacts": {"edges": [{"node": {"name": "Carla"}}]}}}

        subscription = (
            f'subscription {{ contactTimeline(contactId: "{carla}") '
            "{ kind meeting { title } } }"
        )
        assert await page.evaluate(SUBSCRIBE, [chronik.url, alice.token, subscription]) == (
            "subscribed"
        )
        feed = chronik.app.state.services.live
        await eventually(lambda: feed.subscriber_count == 1)
        await cal.calendar.update(event, title="Kickoff (moved)")
        await page.wait_for_function("window.updates.length > 0", timeout=WAIT_MS)
        [update] = await page.evaluate("window.updates")
        assert update == {
            "data": {
                "contactTimeline": {"kind": "UPDATED", "meeting": {"title": "Kickoff (moved)"}}
            }
        }


async def test_a_page_of_an_unlisted_origin_gets_nothing(
    browser: BrowserContext, frontend_origin: str, chronik: RunningChronik, alice: TestUser
) -> None:
    page = await frontend_page(browser, frontend_origin)
    answer = await page.evaluate(QUERY, [chronik.url, alice.token, "{ me { email } }"])
    assert answer == {"failed": "TypeError: Failed to fetch"}  # the browser's CORS refusal
    closed = await page.evaluate(SUBSCRIBE, [chronik.url, alice.token, "subscription { x }"])
    assert closed == "closed 1006"  # refused at the handshake (HTTP 403)
