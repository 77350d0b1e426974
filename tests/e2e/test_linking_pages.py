"""Linking a calendar as a person does it, in a real headless Chromium: the README's steps
(open `authorizationUrl`, sign in, type an address on the sandbox's consent page, Allow), the
live page's "Link …" buttons, and a link URL sent to someone else.

`browser` is every test's first fixture: without Chromium a test skips before a server starts.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import TestUser
from tests.e2e.test_timeline_page import WAIT_MS, signed_in_page
from tests.support.linking import INSTALL, MY_CONNECTION, link_calendar, prove, start_link
from tests.support.server import RunningChronik

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

PROVIDERS = ["GOOGLE", "MICROSOFT"]
ATTEMPT = "{ calendarLinkAttempt { status problem message } }"


async def _install(chronik: RunningChronik, user: TestUser, provider: str) -> None:
    (await chronik.graphql(INSTALL, {"p": provider}, token=user.token)).ok()


async def _connection(chronik: RunningChronik, user: TestUser) -> dict[str, str] | None:
    found = (await chronik.graphql(MY_CONNECTION, token=user.token)).ok()["calendarConnection"]
    return dict(found) if found else None


async def _consent(page: Page, address: str) -> None:
    """On either sandbox's consent page: type the address, press Allow."""
    await page.get_by_label("Email", exact=True).fill(address)
    await page.get_by_role("button", name="Allow").click()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_linking_as_the_readme_says(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser, provider: str
) -> None:
    await _install(chronik, alice, provider)
    url = await start_link(chronik, alice.token, provider, None)
    page = await browser.new_page()
    await page.goto(url)
    await page.get_by_label("Your Chronik API token").fill(alice.token)
    await page.get_by_role("button", name=re.compile("^Continue to")).click()
    await _consent(page, "ana.cal@acme.test")

    await page.wait_for_url(re.compile(r"^" + re.escape(chronik.url) + "/"), timeout=WAIT_MS)
    # The live page, signed in by the token pasted on the way, says so.
    notice = page.locator("#notice")
    await notice.get_by_text("Calendar linked: ana.cal@acme.test").wait_for(timeout=WAIT_MS)
    connection = await _connection(chronik, alice)
    assert connection is not None
    assert connection["calendarEmail"] == "ana.cal@acme.test"
    assert connection["status"] == "ACTIVE"


async def test_an_unticked_calendar_permission_is_named_and_nothing_is_linked(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser
) -> None:
    await _install(chronik, alice, "GOOGLE")
    url = await start_link(chronik, alice.token, "GOOGLE", None)
    page = await browser.new_page()
    await page.goto(url)
    await page.get_by_label("Your Chronik API token").fill(alice.token)
    await page.get_by_role("button", name=re.compile("^Continue to")).click()
    await page.get_by_label("https://www.googleapis.com/auth/calendar.events").uncheck()
    await _consent(page, "ana.cal@acme.test")

    await page.get_by_role("heading", name="Calendar not linked").wait_for(timeout=WAIT_MS)
    message = await page.locator("#message").inner_text()
    assert "View and edit events on all your calendars" in message
    assert "https://www.googleapis.com/auth/calendar.events" in message
    assert "calendar.readonly" not in message  # still ticked, so not named
    assert await _connection(chronik, alice) is None
    attempt = (await chronik.graphql(ATTEMPT, token=alice.token)).ok()["calendarLinkAttempt"]
    assert attempt["status"] == "FAILED" and attempt["problem"] == "PERMISSION_MISSING"


@pytest.mark.parametrize(
    ("provider", "button"),
    [("GOOGLE", "Link Google Calendar"), ("MICROSOFT", "Link Microsoft 365")],
)
async def test_linking_from_the_live_page(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser, provider: str, button: str
) -> None:
    await _install(chronik, alice, provider)
    page = await signed_in_page(browser, chronik, alice.token)
    await page.get_by_role("button", name=button).click()
    # The start page continues by itself: this browser is signed in as the starting user.
    await _consent(page, "ana.cal@acme.test")

    await page.locator("#connection dd[data-status=ACTIVE]").wait_for(timeout=WAIT_MS)
    await (
        page.locator("#notice")
        .get_by_text("Calendar linked: ana.cal@acme.test")
        .wait_for(timeout=WAIT_MS)
    )
    connection = await _connection(chronik, alice)
    assert connection is not None and connection["calendarEmail"] == "ana.cal@acme.test"


async def test_linking_with_credentials_from_the_live_page(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser
) -> None:
    """A provider that links with typed credentials (the tests' dummy provider) gets a form
    of its fields on the live page, learnt from the server (`calendarProviders`)."""
    from tests.support import dummy_provider

    dummy_provider.calendar(alice.email, "app-password")
    await _install(chronik, alice, "DUMMY")
    page = await signed_in_page(browser, chronik, alice.token)
    form = page.locator("form.link-credentials[data-provider=DUMMY]")
    await form.get_by_label("Calendar address").fill(alice.email)
    await form.get_by_label("App password").fill("app-password")
    await form.get_by_role("button", name="Link Dummy Calendar").click()

    await page.locator("#connection dd[data-status=ACTIVE]").wait_for(timeout=WAIT_MS)
    connection = await _connection(chronik, alice)
    assert connection is not None and connection["calendarEmail"] == alice.email


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_link_sent_to_another_person_links_nothing(
    browser: BrowserContext,
    chronik: RunningChronik,
    alice: TestUser,
    bob: TestUser,
    provider: str,
) -> None:
    # Bob (account Globex) starts a link and sends it to Alice (account Acme), who uses
    # Chronik in her browser.
    await _install(chronik, bob, provider)
    url = await start_link(chronik, bob.token, provider, None)
    page = await signed_in_page(browser, chronik, alice.token)
    await page.goto(url)
    refusal = page.locator("#link-error")
    await refusal.get_by_text("started by another Chronik user").wait_for(timeout=WAIT_MS)
    assert page.url.startswith(chronik.url)  # never sent on to the provider

    # Bob goes further: he proves himself in his own browser and sends Alice the provider's
    # consent page instead. Alice consents; the callback in her browser links nothing.
    async with httpx.AsyncClient() as bobs_browser:
        proof = await prove(url, bobs_browser, bob.token)
    await page.goto(proof.json()["providerUrl"])
    await _consent(page, "alice.cal@acme.test")
    await page.get_by_role("heading", name="Calendar not linked").wait_for(timeout=WAIT_MS)
    assert "another user or in another browser" in await page.locator("#message").inner_text()

    assert await _connection(chronik, bob) is None
    assert await _connection(chronik, alice) is None
    attempt = (await chronik.graphql(ATTEMPT, token=bob.token)).ok()["calendarLinkAttempt"]
    assert attempt["status"] == "AT_PROVIDER"  # not used: Bob's own browser alone could finish


async def test_a_calendar_linked_elsewhere_is_refused_and_the_live_page_says_why(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser, bob: TestUser
) -> None:
    await link_calendar(chronik, alice.token, "GOOGLE", "shared.cal@acme.test")
    await _install(chronik, bob, "GOOGLE")
    page = await signed_in_page(browser, chronik, bob.token)
    await page.get_by_role("button", name="Link Google Calendar").click()
    await _consent(page, "shared.cal@acme.test")

    await page.get_by_role("heading", name="Calendar not linked").wait_for(timeout=WAIT_MS)
    assert (
        "already linked to Chronik by someone else" in await page.locator("#message").inner_text()
    )
    await page.get_by_role("link", name="Back to Chronik").click()
    problem = page.locator("#link-problem")
    await problem.get_by_text("one place at a time").wait_for(timeout=WAIT_MS)
    assert await _connection(chronik, bob) is None
    still = await _connection(chronik, alice)
    assert still is not None and still["status"] == "ACTIVE"
