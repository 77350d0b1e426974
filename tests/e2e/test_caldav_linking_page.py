"""Linking a CalDAV calendar from the live page in a real headless Chromium, against a real
Radicale server: the page learns the provider's fields from the server (`calendarProviders`),
a wrong app password is shown and links nothing, the right one links.

`browser` is the first fixture: without Chromium the test skips before a server starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.conftest import TestUser, make_user
from tests.e2e.test_timeline_page import WAIT_MS, signed_in_page
from tests.support.caldav_servers import (  # noqa: F401 (fixture)
    OWNER,
    CalDavServer,
    http_session,
    make_calendar,
    radicale_server,
)
from tests.support.linking import INSTALL, MY_CONNECTION
from tests.support.server import RunningChronik

if TYPE_CHECKING:
    import asyncpg
    from playwright.async_api import BrowserContext


async def test_a_caldav_calendar_links_from_the_live_page(
    browser: BrowserContext,
    chronik: RunningChronik,
    db: asyncpg.Connection,
    radicale_server: CalDavServer,  # noqa: F811
) -> None:
    ana: TestUser = await make_user(db, "Acme", OWNER, ("acme.test",))
    (await chronik.graphql(INSTALL, {"p": "CALDAV"}, token=ana.token)).ok()
    async with http_session() as http:
        calendar_url = await make_calendar(http, radicale_server, "Work")
    page = await signed_in_page(browser, chronik, ana.token)
    form = page.locator("form.link-credentials[data-provider=CALDAV]")
    await form.get_by_label("Server").fill(calendar_url)
    await form.get_by_label("Username").fill(radicale_server.username)
    await form.get_by_label("App password").fill("wrong-password")
    await form.get_by_role("button", name="Link CalDAV").click()
    await page.get_by_text("wrong username or app password").first.wait_for(timeout=WAIT_MS)
    mine = (await chronik.graphql(MY_CONNECTION, token=ana.token)).ok()
    assert mine["calendarConnection"] is None

    await form.get_by_label("App password").fill(radicale_server.password)
    await form.get_by_role("button", name="Link CalDAV").click()
    await page.locator("#connection dd[data-status=ACTIVE]").wait_for(timeout=WAIT_MS)
    mine = (await chronik.graphql(MY_CONNECTION, token=ana.token)).ok()
    assert mine["calendarConnection"]["calendarEmail"] == OWNER
    assert mine["calendarConnection"]["provider"] == "CALDAV"
