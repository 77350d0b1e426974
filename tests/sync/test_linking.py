"""Linking calendars end to end: GraphQL → browser redirects → sandbox consent → callback."""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from tests.conftest import TestUser, make_user
from tests.support.linking import (
    INSTALL,
    MY_CONNECTION,
    link_calendar,
    prove,
    sandbox_control,
    sandbox_user,
    start_link,
)
from tests.support.sandboxes import Sandboxes
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


async def _callback_url(
    authorization_url: str, browser: httpx.AsyncClient, token: str
) -> httpx.URL:
    """The user's browser up to (not into) Chronik's callback: start page, proof, provider."""
    proof = await prove(authorization_url, browser, token)
    assert proof.status_code == 200, proof.text
    response = await browser.get(proof.json()["providerUrl"])
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
        callback = await _callback_url(url, browser, alice.token)
        tampered = callback.copy_set_param("state", callback.params["state"][:-2] + "xx")
        page = await browser.get(tampered)
    assert page.status_code == 400 and "not valid" in page.text
    await _no_connection(chronik, alice.token, db)


async def test_replayed_state_is_refused(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    url = await _prepared(chronik, alice)
    async with httpx.AsyncClient() as browser:
        callback = await _callback_url(url, browser, alice.token)
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
        callback = await _callback_url(url, browser, alice.token)
        await db.execute("UPDATE oauth_link_states SET expires_at = now() - interval '1 second'")
        page = await browser.get(callback)
    assert page.status_code == 400 and "expired" in page.text
    await _no_connection(chronik, alice.token, db)


ATTEMPT = "{ calendarLinkAttempt { status problem message calendarEmail } }"


async def _attempt(chronik: RunningChronik, token: str) -> dict[str, str | None]:
    result = await chronik.graphql(ATTEMPT, token=token)
    return dict(result.ok()["calendarLinkAttempt"])


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_link_url_sent_to_another_person_links_nothing(
    chronik: RunningChronik, alice: TestUser, bob: TestUser, db: asyncpg.Connection, provider: str
) -> None:
    # Bob (Globex) starts a link and sends the URL to Alice (Acme), who uses Chronik too.
    (await chronik.graphql(INSTALL, {"p": provider}, token=bob.token)).ok()
    await sandbox_user(chronik, provider, "bob.cal@globex.test")
    url = await start_link(chronik, bob.token, provider, "bob.cal@globex.test")
    async with httpx.AsyncClient() as alices_browser:
        page = await alices_browser.get(url)
        assert page.status_code == 200 and "Your Chronik API token" in page.text
        assert "googleapis" not in page.text and "oauth2/v2.0" not in page.text
        signed_in_as_alice = await prove(url, alices_browser, alice.token)
        no_token = await prove(url, alices_browser, "not-a-token")
    assert signed_in_as_alice.status_code == 403
    assert "started by another Chronik user" in signed_in_as_alice.json()["error"]
    assert "providerUrl" not in signed_in_as_alice.json()
    assert no_token.status_code == 401 and "providerUrl" not in no_token.json()
    assert (await _attempt(chronik, bob.token))["status"] == "WAITING_FOR_BROWSER"
    assert await db.fetchval("SELECT count(*) FROM calendar_connections") == 0
    # Nothing was used up: in Bob's own browser the same URL still works.
    async with httpx.AsyncClient() as bobs_browser:
        callback = await _callback_url(url, bobs_browser, bob.token)
        assert (await bobs_browser.get(callback)).status_code == 302
    linked = (await chronik.graphql(MY_CONNECTION, token=bob.token)).ok()["calendarConnection"]
    assert linked["calendarEmail"] == "bob.cal@globex.test"


async def test_a_proof_from_another_site_binds_nothing(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    url = await _prepared(chronik, alice)
    async with httpx.AsyncClient() as browser:
        forged = await prove(url, browser, alice.token, origin="https://evil.example")
    assert forged.status_code == 403 and "providerUrl" not in forged.json()
    assert "chronik_link" not in browser.cookies
    assert await db.fetchval("SELECT count(*) FROM oauth_link_states WHERE proven_at IS NULL") == 1


async def test_a_callback_opened_in_another_browser_does_not_use_up_the_attempt(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    url = await _prepared(chronik, alice)
    async with httpx.AsyncClient() as alices_browser:
        callback = await _callback_url(url, alices_browser, alice.token)
        # The callback URL reaches another browser first: refused, and nothing is used up.
        async with httpx.AsyncClient() as other_browser:
            page = await other_browser.get(callback)
        assert page.status_code == 400 and "another user or in another browser" in page.text
        await _no_connection(chronik, alice.token, db)
        assert (await _attempt(chronik, alice.token))["status"] == "AT_PROVIDER"
        # Alice's own browser still finishes her attempt.
        finished = await alices_browser.get(callback)
    assert finished.status_code == 302
    assert (await _attempt(chronik, alice.token))["status"] == "LINKED"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_calendar_is_linked_in_one_account_at_most(
    chronik: RunningChronik, alice: TestUser, bob: TestUser, db: asyncpg.Connection, provider: str
) -> None:
    await link_calendar(chronik, alice.token, provider, "shared.cal@acme.test")
    (await chronik.graphql(INSTALL, {"p": provider}, token=bob.token)).ok()
    url = await start_link(chronik, bob.token, provider, "shared.cal@acme.test")
    async with httpx.AsyncClient() as bobs_browser:
        callback = await _callback_url(url, bobs_browser, bob.token)
        page = await bobs_browser.get(callback)
    assert page.status_code == 409
    assert "already linked to Chronik by someone else" in html.unescape(page.text)
    assert "one place at a time" in page.text
    attempt = await _attempt(chronik, bob.token)
    assert attempt["status"] == "FAILED" and attempt["problem"] == "CONFLICT"
    assert attempt["message"] and "shared.cal@acme.test" in attempt["message"]
    mine = (await chronik.graphql(MY_CONNECTION, token=bob.token)).ok()
    assert mine["calendarConnection"] is None
    # Once Alice disconnects it, Bob may link it.
    (await chronik.graphql("mutation { disconnectCalendar { status } }", token=alice.token)).ok()
    relinked = await link_calendar(
        chronik, bob.token, provider, "shared.cal@acme.test", install=False
    )
    assert relinked["status"] == "ACTIVE"


async def test_the_database_refuses_a_second_place_for_one_calendar(
    db: asyncpg.Connection, alice: TestUser, bob: TestUser
) -> None:
    from db.connections import save_link
    from db.errors import DuplicateError

    link = {
        "provider": "google",
        "calendar_email": "shared.cal@acme.test",
        "token_ciphertext": b"x",
        "token_expires_at": datetime.now(UTC),
    }
    await save_link(db, account_id=alice.account_id, user_id=alice.user_id, **link)
    with pytest.raises(DuplicateError):
        await save_link(db, account_id=bob.account_id, user_id=bob.user_id, **link)


async def test_the_landing_url_carries_the_calendar_address_encoded(
    chronik: RunningChronik, alice: TestUser
) -> None:
    await link_calendar(chronik, alice.token, "GOOGLE", "alice+cal&x@acme.test")
    url = await start_link(chronik, alice.token, "GOOGLE", "alice+cal&x@acme.test")
    async with httpx.AsyncClient() as browser:
        callback = await _callback_url(url, browser, alice.token)
        landing = await browser.get(callback)
    target = httpx.URL(landing.headers["location"])
    assert target.params["linked"] == "google"
    assert target.params["calendar"] == "alice+cal&x@acme.test"


async def test_wrong_pkce_verifier_is_refused_by_the_provider(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    url = await _prepared(chronik, alice)
    async with httpx.AsyncClient() as browser:
        callback = await _callback_url(url, browser, alice.token)
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
        callback = await _callback_url(url, browser, alice.token)
        declined = callback.copy_remove_param("code").copy_set_param("error", "access_denied")
        page = await browser.get(declined)
    assert page.status_code == 400 and "did not allow" in page.text
    await _no_connection(chronik, alice.token, db)


async def test_no_token_in_plaintext_anywhere_in_the_database(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, sandboxes: Sandboxes
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

    client = calendar_client(
        services.apps["google"],
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
    # Linking starts a sync at once: let it finish, so only the calls below meet the revoked
    # grant (a run still going would spend the one refresh attempt first).
    idle = (
        "SELECT last_synced_at IS NOT NULL AND lease_owner IS NULL "
        "AND sync_requested_at IS NULL FROM calendar_connections"
    )
    for _ in range(1500):
        if await db.fetchval(idle):
            break
        await asyncio.sleep(0.02)
    await sandbox_control(
        chronik, "GOOGLE", "POST", "oauth/revoke-user", {"email": "alice.cal@acme.test"}
    )
    await db.execute("UPDATE calendar_connections SET token_expires_at = now()")

    from sync.clients import calendar_client
    from sync.provider import NeedsReauth

    client = calendar_client(
        services.apps["google"],
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

    client = calendar_client(
        services.apps["microsoft"],
        services.http,
        services.credentials.for_connection(connection_id),
    )
    assert await client.calendar_owner() == connection["calendarEmail"]
    after = (await sandbox_control(chronik, "MICROSOFT", "GET", "oauth/stats"))["tokenRequests"]
    assert after.get("refresh_token", 0) - before.get("refresh_token", 0) == 1


@pytest.mark.parametrize(
    ("provider", "granted", "named", "not_named"),
    [
        (
            "microsoft",
            # Graph reports its scopes with the resource prefix, in any case.
            "openid email https://graph.microsoft.com/user.read",
            "Have full access to your calendars (Calendars.ReadWrite)",
            "User.Read",
        ),
        (
            "google",
            "openid https://www.googleapis.com/auth/userinfo.email "
            "https://www.googleapis.com/auth/calendar.events",
            "(https://www.googleapis.com/auth/calendar.readonly)",
            "calendar.events",
        ),
    ],
)
def test_a_grant_without_a_calendar_permission_names_it(
    provider: str, granted: str, named: str, not_named: str
) -> None:
    from sync.linking import MissingPermission, require_permissions
    from sync.providers import registry
    from sync.providers.spec import OAuthLinking

    linking = registry.spec(provider).linking
    assert isinstance(linking, OAuthLinking)
    with pytest.raises(MissingPermission) as refused:
        require_permissions(linking, granted)
    assert named in str(refused.value) and not_named not in str(refused.value)
    require_permissions(linking, " ".join(linking.scopes))  # everything granted: fine
    require_permissions(linking, None)  # no scope in the answer: what was asked


async def test_malformed_proofs_are_refused_without_a_server_error(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    url = await _prepared(chronik, alice)
    start = url.split("?", 1)[0]
    bodies = [
        b"[]",
        b"not json",
        b'{"state": 1, "token": 2}',
        b'{"state": "x", "token": null}',
        b'{"token": "' + alice.token.encode() + b'"}',
    ]
    async with httpx.AsyncClient() as browser:
        for body in bodies:
            answer = await browser.post(
                start, content=body, headers={"Content-Type": "application/json"}
            )
            assert 400 <= answer.status_code < 500, (body, answer.status_code)
        unknown = await browser.post(
            f"{chronik.url}/oauth/yahoo/start", json={"state": "x", "token": alice.token}
        )
        assert unknown.status_code == 400
    proven = "SELECT count(*) FROM oauth_link_states WHERE proven_at IS NOT NULL"
    assert await db.fetchval(proven) == 0
