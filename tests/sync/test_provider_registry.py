"""A provider is one spec in the registry: the tests' dummy provider (tests/support/
dummy_provider.py, named in no product file) is offered, linked with typed credentials and
synced onto a contact's timeline through the public API; unknown providers are errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest

from sync.model import Attendee, ProviderEvent, Response
from tests.conftest import TestUser
from tests.support import dummy_provider
from tests.support.linking import INSTALL, MY_CONNECTION
from tests.support.server import RunningChronik
from tests.support.sync import CREATE_CONTACT, STATE, TIMELINE

PROVIDERS = """{ calendarProviders { provider label configured linkMethod
  credentialFields { name label secret } } }"""
LINK = """
mutation($p: CalendarProvider!, $credentials: [CredentialInput!]!) {
  linkCalendarWithCredentials(provider: $p, credentials: $credentials) {
    provider calendarEmail status
  }
}"""


def _credentials(**values: str) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in values.items()]


async def _link(chronik: RunningChronik, user: TestUser, password: str) -> Any:
    return await chronik.graphql(
        LINK,
        {"p": "DUMMY", "credentials": _credentials(address=user.email, password=password)},
        token=user.token,
    )


async def _wait_synced(
    chronik: RunningChronik, user: TestUser, *, after: str | None
) -> dict[str, Any]:
    for _ in range(1500):
        result = await chronik.graphql(STATE, token=user.token)
        state = result.ok()["calendarConnection"]["syncState"]
        if state["lastError"]:
            raise AssertionError(f"sync failed: {state['lastError']}")
        if state["lastSyncedAt"] not in (None, after) and not (
            state["requested"] or state["syncing"]
        ):
            return dict(state)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no sync finished: {state}")


async def test_a_registered_provider_is_offered_with_how_it_links(
    chronik: RunningChronik, alice: TestUser
) -> None:
    offered = (await chronik.graphql(PROVIDERS, token=alice.token)).ok()["calendarProviders"]
    by_name = {p["provider"]: p for p in offered}
    assert by_name["GOOGLE"]["linkMethod"] == "OAUTH"
    assert by_name["MICROSOFT"]["configured"] is True
    assert by_name["DUMMY"] == {
        "provider": "DUMMY",
        "label": "Dummy Calendar",
        "configured": True,
        "linkMethod": "CREDENTIALS",
        "credentialFields": [
            {"name": "address", "label": "Calendar address", "secret": False},
            {"name": "password", "label": "App password", "secret": True},
        ],
    }


async def test_a_dummy_calendar_links_with_credentials_and_syncs_onto_a_timeline(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    calendar = dummy_provider.calendar(alice.email, "app-password")
    (await chronik.graphql(INSTALL, {"p": "DUMMY"}, token=alice.token)).ok()

    wrong = await _link(chronik, alice, "guess")
    assert wrong.error_codes == ["PRECONDITION_FAILED"]
    assert "refused that address and password" in wrong.errors[0]["message"]
    assert (await chronik.graphql(MY_CONNECTION, token=alice.token)).ok()[
        "calendarConnection"
    ] is None

    linked = (await _link(chronik, alice, "app-password")).ok()["linkCalendarWithCredentials"]
    assert linked == {"provider": "DUMMY", "calendarEmail": alice.email, "status": "ACTIVE"}
    # The password is stored encrypted only.
    stored = await db.fetchval("SELECT token_ciphertext FROM calendar_connections")
    assert b"app-password" not in stored
    first = await _wait_synced(chronik, alice, after=None)

    contact = await chronik.graphql(
        CREATE_CONTACT,
        {"input": {"email": "carla@client.test", "firstName": "Carla", "extraEmails": []}},
        token=alice.token,
    )
    carla = contact.ok()["createContact"]["id"]
    room = await chronik.graphql(
        CREATE_CONTACT,
        {"input": {"email": "board@rooms.dummy.test", "extraEmails": []}},
        token=alice.token,
    )
    board_room = room.ok()["createContact"]["id"]
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    calendar.put(
        ProviderEvent(
            "evt-1",
            title="Dummy kickoff",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            organizer_email=alice.email,
            attendees=(
                Attendee(alice.email, response=Response.ORGANIZER, is_organizer=True),
                Attendee("carla@client.test", "Carla", Response.ACCEPTED),
                Attendee("board@rooms.dummy.test", "Board room", Response.ACCEPTED),
            ),
            created_at=datetime.now(UTC),
            updated_at=datetime.now(UTC),
        )
    )
    (await chronik.graphql("mutation { syncCalendarNow { id } }", token=alice.token)).ok()
    await _wait_synced(chronik, alice, after=first["lastSyncedAt"])

    timeline = await chronik.graphql(TIMELINE, {"id": carla}, token=alice.token)
    meetings = [e["node"]["meeting"] for e in timeline.ok()["contact"]["timeline"]["edges"]]
    assert [(m["title"], m["source"]) for m in meetings] == [("Dummy kickoff", "DUMMY")]
    # The provider's spec says its rooms are never people: not on the room contact's timeline.
    room_timeline = await chronik.graphql(TIMELINE, {"id": board_room}, token=alice.token)
    assert room_timeline.ok()["contact"]["timeline"]["edges"] == []


async def test_refused_stored_credentials_need_a_new_link(
    chronik: RunningChronik, alice: TestUser
) -> None:
    calendar = dummy_provider.calendar(alice.email, "app-password")
    (await chronik.graphql(INSTALL, {"p": "DUMMY"}, token=alice.token)).ok()
    (await _link(chronik, alice, "app-password")).ok()
    await _wait_synced(chronik, alice, after=None)

    calendar.password = "changed"  # the person revoked the app password at the provider
    (await chronik.graphql("mutation { syncCalendarNow { id } }", token=alice.token)).ok()
    for _ in range(1500):
        connection = (await chronik.graphql(MY_CONNECTION, token=alice.token)).ok()
        if connection["calendarConnection"]["status"] == "NEEDS_REAUTH":
            break
        await asyncio.sleep(0.02)
    assert connection["calendarConnection"]["status"] == "NEEDS_REAUTH"


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"address": "alice@acme.test"}, "credentials.password"),
        ({"address": "alice@acme.test", "password": "x", "server": "y"}, "credentials"),
        ({"address": "alice@acme.test", "password": " "}, "credentials.password"),
    ],
)
async def test_credentials_must_be_the_providers_fields(
    chronik: RunningChronik, alice: TestUser, given: dict[str, str], field: str
) -> None:
    (await chronik.graphql(INSTALL, {"p": "DUMMY"}, token=alice.token)).ok()
    result = await chronik.graphql(
        LINK, {"p": "DUMMY", "credentials": _credentials(**given)}, token=alice.token
    )
    assert result.error_codes == ["VALIDATION"]
    assert result.errors[0]["extensions"]["field"] == field


async def test_each_provider_links_only_its_own_way(
    chronik: RunningChronik, alice: TestUser
) -> None:
    (await chronik.graphql(INSTALL, {"p": "DUMMY"}, token=alice.token)).ok()
    oauth = await chronik.graphql(
        "mutation { startCalendarLink(provider: DUMMY) { authorizationUrl } }", token=alice.token
    )
    assert oauth.error_codes == ["PRECONDITION_FAILED"]
    assert "linkCalendarWithCredentials" in oauth.errors[0]["message"]


async def test_unknown_providers_and_providers_without_push_have_no_webhook(
    chronik: RunningChronik,
) -> None:
    async with aiohttp.ClientSession() as http:
        for name in ("dummy", "nope", "GOOGLE"):
            async with http.post(f"{chronik.url}/webhooks/{name}", json={}) as answer:
                assert answer.status == 404, name
        async with http.get(f"{chronik.url}/oauth/dummy/start?state=x") as answer:
            assert answer.status == 400


def test_an_unknown_provider_is_an_error_not_another_providers_client() -> None:
    from sync.clients import calendar_client
    from sync.credentials import StaticToken
    from sync.providers.registry import UnknownProvider
    from sync.providers.spec import ProviderApp

    with pytest.raises(UnknownProvider, match="nope"):
        calendar_client(ProviderApp("nope", "https://example.test"), None, StaticToken("t"))  # type: ignore[arg-type]


async def test_the_database_takes_registered_providers_and_refuses_others(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    # Chronik upserted the registry at start, the dummy provider with it.
    rows = await db.fetch("SELECT name, poll_seconds FROM calendar_providers ORDER BY name")
    assert [r["name"] for r in rows] == ["caldav", "dummy", "google", "microsoft"]
    # A provider without push is polled at its own interval; the others at the workers'.
    polls = {r["name"]: r["poll_seconds"] for r in rows}
    assert polls == {"caldav": 120.0, "dummy": None, "google": None, "microsoft": None}
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(
            "UPDATE accounts SET integration_provider = 'nope' WHERE id = $1", alice.account_id
        )
