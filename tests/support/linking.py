"""Linking a test user's calendar through the real flow: GraphQL, browser redirects, sandbox."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.server import RunningChronik

INSTALL = """
mutation($p: CalendarProvider!) {
  installCalendarIntegration(provider: $p) { integrationProvider }
}"""
START = """
mutation($p: CalendarProvider!, $hint: String) {
  startCalendarLink(provider: $p, loginHint: $hint) { authorizationUrl expiresAt }
}"""
MY_CONNECTION = """
{ calendarConnection { id provider calendarEmail userEmail status linkedAt lastError } }"""


def sandbox_url(chronik: RunningChronik, provider: str) -> str:
    settings = chronik.settings
    url = settings.provider(provider.lower()).sandbox_url
    assert url
    return url


async def sandbox_user(chronik: RunningChronik, provider: str, email: str) -> None:
    response = await chronik.http.post(
        f"{sandbox_url(chronik, provider)}/_sandbox/users", json={"email": email}
    )
    assert response.status_code in (200, 201), response.text


async def sandbox_control(
    chronik: RunningChronik, provider: str, method: str, path: str, body: Any = None
) -> Any:
    response = await chronik.http.request(
        method, f"{sandbox_url(chronik, provider)}/_sandbox/{path}", json=body
    )
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def start_link(chronik: RunningChronik, token: str, provider: str, hint: str | None) -> str:
    result = await chronik.graphql(START, {"p": provider, "hint": hint}, token=token)
    return str(result.ok()["startCalendarLink"]["authorizationUrl"])


async def prove(
    url: str, browser: httpx.AsyncClient, token: str, *, origin: str | None = None
) -> httpx.Response:
    """What the start page's script does in the user's browser: POST the state and the user's
    API token from Chronik's own origin (or `origin`). On success the browser holds the
    binding cookie and the answer names the provider URL."""
    parts = urlsplit(url)
    state = parse_qs(parts.query)["state"][0]
    return await browser.post(
        f"{parts.scheme}://{parts.netloc}{parts.path}",
        json={"state": state, "token": token},
        headers={"Origin": origin or f"{parts.scheme}://{parts.netloc}"},
    )


async def follow(url: str, browser: httpx.AsyncClient, token: str) -> httpx.Response:
    """What the starting user's browser does with the authorization URL: open the start page,
    prove to be the user, and follow every redirect from the provider back to Chronik."""
    page = await browser.get(url)
    assert page.status_code == 200, page.text
    proof = await prove(url, browser, token)
    assert proof.status_code == 200, proof.text
    return await browser.get(proof.json()["providerUrl"], follow_redirects=True)


async def link_calendar(
    chronik: RunningChronik,
    token: str,
    provider: str,
    calendar_email: str,
    *,
    install: bool = True,
) -> dict[str, Any]:
    """Install (when asked), start, continue in the user's browser and follow the sandbox's
    non-interactive path (`loginHint`); the connection."""
    if install:
        (await chronik.graphql(INSTALL, {"p": provider}, token=token)).ok()
    await sandbox_user(chronik, provider, calendar_email)
    url = await start_link(chronik, token, provider, calendar_email)
    async with httpx.AsyncClient() as browser:
        final = await follow(url, browser, token)
    assert f"linked={provider.lower()}" in str(final.url), final.text
    connection = (await chronik.graphql(MY_CONNECTION, token=token)).ok()["calendarConnection"]
    assert connection is not None
    return dict(connection)
