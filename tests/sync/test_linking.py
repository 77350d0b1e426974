"""Linking calendars end to end: GraphQL → browser redirects → sandbox consent → callback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from sync.sandbox.runner import RunningSandboxes
from tests.conftest import TestUser, make_user
from tests.support.linking import (
    INSTALL,
    MY_CONNECTION,
    link_calendar,
    sandbox_control,
    sandbox_user,
    start_link,
)
from tests.support.server import RunningChronik

PROVIDERS = ["GOOGLE", "MICROSOFT"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_link_through_the_sandbox_makes_an_active_connection(
    chronik: RunningChronik, alice: TestUser, provider: str
) -> None:
    connection = await link_calendar(chronik, alice.token, provider, "alice.cal@acme.test")
    assert connection["provider"] == provider
    assert connection["calendarEmail"] == "alice.cal@acme.test"
    assert connection["userEmail"] == "alice@acme.test"
    assert connection["status"] == "ACTIVE"
    assert connection["lastError"] is None


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_linking_again_replaces_the_tokens_of_the_one_connection(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, provider: str
) -> None:
    first = await link_calendar(chronik, alice.token, provider, "alice.cal@acme.test")
    before = await db.fetchrow("SELECT token_ciphertext, token_version FROM calendar_connections")
    second = await link_calendar(
        chronik, alice.token, provider, "alice.cal@acme.test", install=False
    )
    after = await db.fetchrow("SELECT token_ciphertext, token_version FROM calendar_connections")
    assert await db.fetchval("SELECT count(*) FROM calendar_connections") == 1
    assert second["id"] == first["id"] and second["linkedAt"] == first["linkedAt"]
    assert after["token_ciphertext"] != before["token_ciphertext"]
    assert after["token_version"] > before["token_version"]


async def test_a_second_provider_on_the_same_account_is_a_conflict(
    chronik: RunningChronik, alice: TestUser
) -> None:
    (await chronik.graphql(INSTALL, {"p": "GOOGLE"}, token=alice.token)).ok()
    other = await chronik.graphql(INSTALL, {"p": "MICROSOFT"}, token=alice.token)
    assert other.error_codes == ["CONFLICT"]
    account = await chronik.graphql("{ account { integrationProvider } }", token=alice.token)
    assert account.ok()["account"]["integrationProvider"] == "GOOGLE"
    start = await chronik.graphql(
        "mutation { startCalendarLink(provider: MICROSOFT) { authorizationUrl } }",
        token=alice.token,
    )
    assert start.error_codes == ["CONFLICT"]


async def test_linking_needs_an_installed_integration(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    result = await chronik.graphql(
        "mutation { startCalendarLink(provider: GOOGLE) { authorizationUrl } }", token=alice.token
    )
    assert result.error_codes == ["PRECONDITION_FAILED"]
    assert "installCalendarIntegration" in result.errors[0]["message"]
    member = await make_user(db, "Acme", "max@acme.test")
    denied = await chronik.graphql(INSTALL, {"p": "GOOGLE"}, token=member.token)
    assert denied.error_codes == ["FORBIDDEN"]


async def _no_connection(chronik: RunningChronik, token: str, db: asyncpg.Connection) -> None:
    assert (await chronik.graphql(MY_CONNECTION, token=token)).ok()["calendarConnection"] is None
    assert await db.fetchval("SELECT count(*) FROM calendar_connections") == 0


async def _prepared(chronik: RunningChronik, user: TestUser) -> str:
    (await chronik.graphql(INSTALL, {"p": "GOOGLE"}, token=user.token)).ok()
    await sandbox_user(chronik, "GOOGLE", user.email)
    return await start_link(chronik, user.token, "GOOGLE", user.email)


async def _callback_url(authorization_url: str, browser: httpx.AsyncClient) -> httpx.URL:
    """Walk the redirects up to (not into) Chronik's callback; return the callback URL."""
    response = await browser.get(authorization_url)  # Chronik /start → provider
    while response.is_redirect:
        target = response.next_request.url if response.next_request else None
        assert target is not None
        if target.path.endswith("/callback"):
            return target
        response = await browser.get(target)
    raise AssertionError(f"no callback reached: {response.status_code} {response.text[:200]}")


async def test_tampered_state_is_refused_and_nothing_stored(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    url = await _prepared(chronik, alice)
    async with httpx.AsyncClient() as browser:
        callback = await _callback_url(url, browser)
        tampered = callback.copy_set_param("state", callback.params["state"][:-2] + "xx")
        page = await browser.get(tampered)
    assert page.status_code == 400 and "not valid" in page.text
    await _no_connection(chronik, alice.token, db)


async def test_replayed_state_is_refused(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    url = await _prepared(chronik, alice)
    async with httpx.AsyncClient() as browser:
        callback = await _callback_url(url, browser)
        first = await browser.get(callback)
        assert first.status_code == 302
        replay = await browser.get(callback)
    assert replay.status_code == 400 and "already used" in replay.text
    # Opening the same authorization URL again is refused too.
    async with httpx.AsyncClient() as browser:
        again = await browser.get(url)
    assert again.status_code == 400 and "already used" in again.text


async def test_expired_state_is_refused(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    url = await _prepared(chronik, alice)
    async with httpx.AsyncClient() as browser:
        callback = await _callback_url(url, browser)
        await db.execute("UPDATE oauth_link_states SET expires_at = now() - interval '1 second'")
        page = await browser.get(callback)
    assert page.status_code == 400 and "expired" in page.text
    await _no_connection(chronik, alice.token, db)


async def test_another_users_state_is_refused(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    url = await _prepared(chronik, alice)
    async with httpx.AsyncClient() as alices_browser:
        callback = await _callback_url(url, alices_browser)
    # Alice's callback URL lands in another person's browser (no binding cookie, or theirs).
    mallory = await make_user(db, "Acme", "mallory@acme.test")
    mallory_url = await start_link(chronik, mallory.token, "GOOGLE", None)
    async with httpx.AsyncClient() as mallorys_browser:
        await mallorys_browser.get(mallory_url)  # gets mallory's own cookie
        page = await mallorys_browser.get(callback)
    assert page.status_code == 400 and "another user or in another browser" in page.text
    await _no_connection(chronik, alice.token, db)


async def test_wrong_pkce_verifier_is_refused_by_the_provider(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    url = await _prepared(chronik, alice)
    async with httpx.AsyncClient() as browser:
        callback = await _callback_url(url, browser)
        # Swap the stored verifier for another attempt's: the code no longer matches it.
        other = await start_link(chronik, alice.token, "GOOGLE", None)
        assert other
        await db.execute(
            """UPDATE oauth_link_states SET verifier_cipher = (
                   SELECT verifier_cipher FROM oauth_link_states WHERE browser_hash IS NULL)
               WHERE browser_hash IS NOT NULL"""
        )
        page = await browser.get(callback)
    assert page.status_code == 400 and "did not complete the link" in page.text
    await _no_connection(chronik, alice.token, db)


async def test_declined_consent_stores_nothing(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    url = await _prepared(chronik, alice)
    async with httpx.AsyncClient() as browser:
        callback = await _callback_url(url, browser)
        declined = callback.copy_remove_param("code").copy_set_param("error", "access_denied")
        page = await browser.get(declined)
    assert page.status_code == 400 and "did not allow" in page.text
    await _no_connection(chronik, alice.token, db)


async def test_no_token_in_plaintext_anywhere_in_the_database(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, sandboxes: RunningSandboxes
) -> None:
    await link_calendar(chronik, alice.token, "GOOGLE", "alice.cal@acme.test")
    # The sandbox tells us which tokens it issued; none may appear in any table, in any form.
    tables = [
        r["tablename"]
        for r in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    rows = []
    for table in tables:
        rows += [str(row[0]) for row in await db.fetch(f'SELECT t::text FROM "{table}" t')]
    dump = "\n".join(rows)
    secrets = sandboxes.google.oauth.issued_tokens()
    assert secrets, "the sandbox must report the tokens it issued"
    for token in secrets:
        assert token not in dump
        assert token.encode().hex() not in dump


async def test_refresh_of_20_concurrent_calls_happens_once(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    connection = await link_calendar(chronik, alice.token, "GOOGLE", "alice.cal@acme.test")
    services = chronik.app.state.services
    connection_id = await db.fetchval("SELECT id FROM calendar_connections")
    await db.execute("UPDATE calendar_connections SET token_expires_at = now()")
    await sandbox_control(chronik, "GOOGLE", "POST", "oauth/expire-access-tokens", {})
    before = (await sandbox_control(chronik, "GOOGLE", "GET", "oauth/stats"))["tokenRequests"]

    from sync.clients import calendar_client
    from sync.provider import ProviderName

    client = calendar_client(
        services.apps[ProviderName.GOOGLE],
        services.http,
        services.credentials.for_connection(connection_id),
    )
    owners = await asyncio.gather(*(client.calendar_owner() for _ in range(20)))
    assert set(owners) == {connection["calendarEmail"]}
    after = (await sandbox_control(chronik, "GOOGLE", "GET", "oauth/stats"))["tokenRequests"]
    assert after.get("refresh_token", 0) - before.get("refresh_token", 0) == 1
    expires = await db.fetchval("SELECT token_expires_at FROM calendar_connections")
    assert expires > datetime.now(UTC) + timedelta(minutes=30)


async def test_revoked_grant_marks_needs_reauth_without_a_retry_storm(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    await link_calendar(chronik, alice.token, "GOOGLE", "alice.cal@acme.test")
    services = chronik.app.state.services
    connection_id = await db.fetchval("SELECT id FROM calendar_connections")
    await sandbox_control(
        chronik, "GOOGLE", "POST", "oauth/revoke-user", {"email": "alice.cal@acme.test"}
    )
    await db.execute("UPDATE calendar_connections SET token_expires_at = now()")

    from sync.clients import calendar_client
    from sync.provider import NeedsReauth, ProviderName

    client = calendar_client(
        services.apps[ProviderName.GOOGLE],
        services.http,
        services.credentials.for_connection(connection_id),
    )
    before = (await sandbox_control(chronik, "GOOGLE", "GET", "oauth/stats"))["tokenRequests"]
    for _ in range(10):
        with pytest.raises(NeedsReauth):
            await client.calendar_owner()
    after = (await sandbox_control(chronik, "GOOGLE", "GET", "oauth/stats"))["tokenRequests"]
    assert after.get("refresh_token", 0) - before.get("refresh_token", 0) == 1

    shown = (await chronik.graphql(MY_CONNECTION, token=alice.token)).ok()["calendarConnection"]
    assert shown["status"] == "NEEDS_REAUTH"
    assert "link the calendar again" in shown["lastError"]

    # Linking again brings it back.
    relinked = await link_calendar(
        chronik, alice.token, "GOOGLE", "alice.cal@acme.test", install=False
    )
    assert relinked["status"] == "ACTIVE" and relinked["lastError"] is None


async def test_disconnect_revokes_and_keeps_the_connection_record(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    await link_calendar(chronik, alice.token, "GOOGLE", "alice.cal@acme.test")
    result = await chronik.graphql("mutation { disconnectCalendar { status } }", token=alice.token)
    assert result.ok()["disconnectCalendar"]["status"] == "DISCONNECTED"
    assert await db.fetchval("SELECT token_ciphertext FROM calendar_connections") is None
    again = await chronik.graphql("mutation { disconnectCalendar { status } }", token=alice.token)
    assert again.error_codes == ["NOT_FOUND"]


async def test_uninstall_disconnects_every_calendar_of_the_account(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    await link_calendar(chronik, alice.token, "GOOGLE", "alice.cal@acme.test")
    member = await make_user(db, "Acme", "max@acme.test")
    await link_calendar(chronik, member.token, "GOOGLE", "max.cal@acme.test", install=False)
    listed = await chronik.graphql(
        "{ calendarConnections { userEmail status } }", token=alice.token
    )
    assert [c["status"] for c in listed.ok()["calendarConnections"]] == ["ACTIVE", "ACTIVE"]
    forbidden = await chronik.graphql("{ calendarConnections { status } }", token=member.token)
    assert forbidden.error_codes == ["FORBIDDEN"]

    result = await chronik.graphql(
        "mutation { uninstallCalendarIntegration { integrationProvider } }", token=alice.token
    )
    assert result.ok()["uninstallCalendarIntegration"]["integrationProvider"] is None
    statuses = await db.fetch("SELECT status FROM calendar_connections")
    assert {r["status"] for r in statuses} == {"disconnected"}
    # Now Microsoft may be installed instead.
    assert (await chronik.graphql(INSTALL, {"p": "MICROSOFT"}, token=alice.token)).ok()


async def test_a_rejected_access_token_is_refreshed_once_and_the_call_succeeds(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    connection = await link_calendar(chronik, alice.token, "MICROSOFT", "alice.cal@acme.test")
    services = chronik.app.state.services
    connection_id = await db.fetchval("SELECT id FROM calendar_connections")
    # The provider revokes the access token early; Chronik still believes it valid.
    await sandbox_control(chronik, "MICROSOFT", "POST", "oauth/expire-access-tokens", {})
    before = (await sandbox_control(chronik, "MICROSOFT", "GET", "oauth/stats"))["tokenRequests"]

    from sync.clients import calendar_client
    from sync.provider import ProviderName

    client = calendar_client(
        services.apps[ProviderName.MICROSOFT],
        services.http,
        services.credentials.for_connection(connection_id),
    )
    assert await client.calendar_owner() == connection["calendarEmail"]
    after = (await sandbox_control(chronik, "MICROSOFT", "GET", "oauth/stats"))["tokenRequests"]
    assert after.get("refresh_token", 0) - before.get("refresh_token", 0) == 1
