"""The pages work under their Content-Security-Policy in a real Chromium, and the policy bites.

A policy too strict would break the page without any HTTP test noticing; one too loose would
let an injected script run. Both are checked where they matter: in the browser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.conftest import TestUser
from tests.support.server import RunningChronik

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

WAIT_MS = 20_000

# Every violation the browser reports, kept on the page's window.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) =>
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`));
"""
# What an injection would try: an inline script. It must not run.
INJECT_INLINE_SCRIPT = """() => {
  const script = document.createElement("script");
  script.textContent = "window.__injected = true";
  document.head.append(script);
  return window.__injected === true;
}"""


async def _page(browser: BrowserContext) -> Page:
    page = await browser.new_page()
    await page.add_init_script(RECORD_VIOLATIONS)
    return page


async def _violations(page: Page) -> list[str]:
    return list(await page.evaluate("window.__violations"))


async def test_the_live_page_runs_signed_in_and_live_without_a_violation(
    browser: BrowserContext, chronik: RunningChronik, alice: TestUser
) -> None:
    page = await _page(browser)
    await page.goto(f"{chronik.url}/")
    await page.get_by_label("API token").fill(alice.token)
    await page.get_by_role("button", name="Sign in").click()
    # The websocket is up and the contacts came over fetch: the policy let both through.
    await page.locator("#live-status[data-status=live]").wait_for(timeout=WAIT_MS)
    assert await _violations(page) == []
    assert await page.evaluate(INJECT_INLINE_SCRIPT) is False
    assert any(v.startswith("script-src") for v in await _violations(page))


async def test_graphiql_renders_and_queries_without_a_violation(
    browser: BrowserContext, chronik: RunningChronik
) -> None:
    page = await _page(browser)
    await page.goto(f"{chronik.url}/graphql")
    await page.wait_for_selector(".graphiql-container", timeout=WAIT_MS)
    # Run the default query with the toolbar's button: the answer comes back over fetch.
    await page.get_by_role("button", name="Execute query").first.click()
    await (
        page.locator(".result-window")
        .get_by_text("UNAUTHENTICATED")
        .first.wait_for(timeout=WAIT_MS)
    )
    assert await _violations(page) == []
    assert await page.evaluate(INJECT_INLINE_SCRIPT) is False


async def test_the_oauth_result_page_shows_its_message_without_a_violation(
    browser: BrowserContext, chronik: RunningChronik
) -> None:
    page = await _page(browser)
    response = await page.goto(f"{chronik.url}/oauth/google/callback?error=access_denied&state=x")
    assert response is not None and response.status == 400
    await page.get_by_text("nothing was linked").wait_for(timeout=WAIT_MS)
    assert await _violations(page) == []
    assert await page.evaluate(INJECT_INLINE_SCRIPT) is False
