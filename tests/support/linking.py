"""Linking a test user's calendar through the real flow: GraphQL, browser redirects, sandbox."""

from __future__ import annotations

from typing import Any

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
    url = settings.google_sandbox_url if provider == "GOOGLE" else settings.microsoft_sandbox_url
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


async def follow(url: str, browser: httpx.AsyncClient) -> httpx.Response:
    """What a browser does with the authorization URL: follow every redirect."""
    return await browser.get(url, follow_redirects=True)


async def link_calendar(
    chronik: RunningChronik,
    token: str,
    provider: str,
    calendar_email: str,
    *,
    install: bool = True,
) -> dict[str, Any]:
    """Install (when asked), start, follow the sandbox's non-interactive path; the connection."""
    if install:
        (await chronik.graphql(INSTALL, {"p": provider}, token=token)).ok()
    await sandbox_user(chronik, provider, calendar_email)
    url = await start_link(chronik, token, provider, calendar_email)
    async with httpx.AsyncClient() as browser:
        final = await follow(url, browser)
    assert f"linked={provider.lower()}" in str(final.url), final.text
    connection = (await chronik.graphql(MY_CONNECTION, token=token)).ok()["calendarConnection"]
    assert connection is not None
    return dict(connection)
