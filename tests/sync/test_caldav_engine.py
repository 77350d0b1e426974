"""CALDAV as a provider of its own, against real Radicale and Xandikos servers: a calendar is
linked through `linkCalendarWithCredentials`, synced by the in-process worker on
`syncCalendarNow`, and what lands on the contacts' timelines is what the seed's rules say, as
for Google and Microsoft. A wrong app password links nothing; one revoked later needs a new
link. Xandikos (HTTPS with a self-signed certificate) is reached through the tests' plain-HTTP
proxy on this machine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest

from sync.providers.caldav import resource_name_for
from tests.conftest import TestUser, make_user
from tests.support.caldav_servers import (  # noqa: F401 (fixtures)
    OWNER,
    CalDavServer,
    FaultProxy,
    caldav_server,
    delete_resource,
    get_ics,
    http_session,
    make_calendar,
    put_ics,
    radicale_server,
    xandikos_server,
)
from tests.support.linking import INSTALL, MY_CONNECTION
from tests.support.server import RunningChronik
from tests.support.sync import LinkedCalendar

LINK = """
mutation($p: CalendarProvider!, $credentials: [CredentialInput!]!) {
  linkCalendarWithCredentials(provider: $p, credentials: $credentials) {
    provider calendarEmail status
  }
}"""


def credentials(server: str, username: str, password: str) -> list[dict[str, str]]:
    return [
        {"name": "server", "value": server},
        {"name": "username", "value": username},
        {"name": "password", "value": password},
    ]


@dataclass
class CalDavLink:
    """A user's CalDAV calendar (a fresh collection on a real server) and how to reach it."""

    chronik: RunningChronik
    server: CalDavServer
    http: aiohttp.ClientSession
    # The calendar as Chronik reaches it (Xandikos: through the proxy) and as the tests do.
    calendar_url: str
    direct_url: str
    user: TestUser
    proxy: FaultProxy | None

    async def put(self, name: str, ics: str) -> None:
        await put_ics(self.http, self.server, self.direct_url, name, ics)

    async def delete(self, name: str) -> None:
        await delete_resource(self.http, self.server, self.direct_url, name)

    async def link(self, password: str | None = None) -> Any:
        given = credentials(
            self.calendar_url, self.server.username, password or self.server.password
        )
        return await self.chronik.graphql(
            LINK, {"p": "CALDAV", "credentials": given}, token=self.user.token
        )


@pytest.fixture
async def ana(db: asyncpg.Connection) -> TestUser:
    """Acme's user whose CalDAV login the test servers know (Xandikos has a single user)."""
    return await make_user(db, "Acme", OWNER, ("acme.test",))


@pytest.fixture
async def caldav(
    chronik: RunningChronik,
    ana: TestUser,
    caldav_server: CalDavServer,  # noqa: F811
) -> AsyncIterator[CalDavLink]:
    """A fresh calendar on each server, CALDAV installed for Ana's account (not linked)."""
    (await chronik.graphql(INSTALL, {"p": "CALDAV"}, token=ana.token)).ok()
    async with http_session() as http:
        direct = await make_calendar(http, caldav_server, "Work")
        proxy = None
        url = direct
        if caldav_server.url.startswith("https:"):
            proxy = FaultProxy(caldav_server.url)
            await proxy.start()
            url = proxy.rewrite_url(direct)
        try:
            yield CalDavLink(chronik, caldav_server, http, url, direct, ana, proxy)
        finally:
            if proxy is not None:
                await proxy.close()


async def linked(caldav: CalDavLink, chronik: RunningChronik, db: asyncpg.Connection) -> Any:
    """Link the calendar and wait for the first sync: the timeline helpers of the other
    providers' rule tests (no sandbox calendar: the test writes resources itself)."""
    result = (await caldav.link()).ok()["linkCalendarWithCredentials"]
    assert result == {"provider": "CALDAV", "calendarEmail": OWNER, "status": "ACTIVE"}
    # The person sees which calendar is synced: the one whose URL they gave.
    shown = await chronik.graphql(
        "{ calendarConnection { calendar { url name chosenBy } } }", token=caldav.user.token
    )
    assert shown.ok()["calendarConnection"]["calendar"] == {
        "url": caldav.calendar_url,
        "name": "Work",
        "chosenBy": "the calendar URL you gave",
    }
    cal = LinkedCalendar(chronik, caldav.user, None, db)  # type: ignore[arg-type]
    await cal.wait_synced(after=None)
    return cal


def calendar(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Test app//EN\n"
        + "".join(events)
        + ("END:VCALENDAR\n")
    )


def event(uid: str, lines: str, created: str, organizer: str = OWNER) -> str:
    return (
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:{created}\nCREATED:{created}\n"
        f"ORGANIZER:mailto:{organizer}\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{OWNER}\n"
        f"{lines}\nEND:VEVENT\n"
    )


def _after_linking() -> str:
    # CREATED has whole seconds: the next second is after the link time (rule 5).
    return (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")


async def test_a_wrong_app_password_links_nothing_and_names_the_field(
    caldav: CalDavLink, chronik: RunningChronik
) -> None:
    wrong = await caldav.link("not-the-password")
    assert wrong.error_codes == ["PRECONDITION_FAILED"]
    assert wrong.errors[0]["extensions"]["field"] == "credentials.password"
    assert "wrong username or app password" in wrong.errors[0]["message"]
    mine = await chronik.graphql(MY_CONNECTION, token=caldav.user.token)
    assert mine.ok()["calendarConnection"] is None


async def test_caldav_meetings_follow_the_seed_rules_on_the_timelines(
    caldav: CalDavLink, chronik: RunningChronik, db: asyncpg.Connection
) -> None:
    # Rule 5: created before linking, never synced (even when edited later).
    await caldav.put(
        "old.ics",
        calendar(
            event(
                "o",
                "SUMMARY:Old\nDTSTART:20271209T100000Z\nATTENDEE:mailto:carla@client.test",
                "20200101T000000Z",
            )
        ),
    )
    cal = await linked(caldav, chronik, db)
    carla = await cal.contact("carla@client.test")
    fred = await cal.contact("fred@client.test")
    dan = await cal.contact("dan@other.test")
    bob = await cal.contact("bob@acme.test")
    now = _after_linking()
    review = event(
        "review",
        "SUMMARY:Review\nDTSTART:20271207T100000Z\nDTEND:20271207T110000Z\n"
        # Rule 2 (a contact guest, addresses in any case), rule 3 (a stranger creates
        # nothing), rule 4 (a colleague is never logged, even as a contact).
        "ATTENDEE:mailto:CARLA@Client.TEST\nATTENDEE:mailto:nobody@else.test\n"
        "ATTENDEE:mailto:bob@acme.test",
        now,
    )
    # Rule 2: a contact inviting the user.
    invited = event(
        "dan",
        "SUMMARY:Dan invites\nDTSTART:20271208T150000Z\nDTEND:20271208T160000Z",
        now,
        organizer="dan@other.test",
    )
    master = event(
        "weekly",
        "SUMMARY:Weekly\nDTSTART:20271206T090000Z\nDTEND:20271206T093000Z\n"
        "RRULE:FREQ=WEEKLY;COUNT=6\nEXDATE:20271220T090000Z\n"
        "ATTENDEE:mailto:carla@client.test",
        now,
    )
    moved = event(
        "weekly",
        "RECURRENCE-ID:20271213T090000Z\nSUMMARY:Weekly (moved)\n"
        "DTSTART:20271213T110000Z\nDTEND:20271213T113000Z\n"
        "ATTENDEE:mailto:carla@client.test\nATTENDEE:mailto:fred@client.test",
        now,
    )
    await caldav.put("review.ics", calendar(review))
    await caldav.put("dan.ics", calendar(invited))
    await caldav.put("weekly.ics", calendar(master, moved))
    # Rule 7: private and confidential events are skipped.
    for name, klass in (("private", "PRIVATE"), ("secret", "CONFIDENTIAL")):
        await caldav.put(
            f"{name}.ics",
            calendar(
                event(
                    name,
                    f"CLASS:{klass}\nSUMMARY:{name}\nDTSTART:20271208T100000Z\n"
                    "ATTENDEE:mailto:carla@client.test",
                    now,
                )
            ),
        )
    # Rule 5: the old event edited after linking is still old.
    await caldav.put(
        "old.ics",
        calendar(
            event(
                "o",
                "SUMMARY:Old, edited\nDTSTART:20271209T100000Z\nATTENDEE:mailto:carla@client.test",
                "20200101T000000Z",
            )
        ),
    )
    await cal.sync()
    # Rule 6: the series once, the moved week on its own, the excluded week as a cancelled
    # meeting of the series' contacts.
    assert await cal.titles(carla) == ["Review", "Weekly", "Weekly", "Weekly (moved)"]
    assert await cal.titles(fred) == ["Weekly (moved)"]
    assert await cal.titles(dan) == ["Dan invites"]
    assert await cal.titles(bob) == []
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE email = 'nobody@else.test'") == 0
    entry = (await cal.timeline(dan))[0]
    assert entry["meeting"]["source"] == "CALDAV"
    cancelled = [
        e["meeting"] for e in await cal.timeline(carla) if e["meeting"]["status"] == "CANCELLED"
    ]
    assert [m["originalStart"] for m in cancelled] == ["2027-12-20T09:00:00+00:00"]

    # The moved week put back and the excluded week restored: both leave the timelines.
    await caldav.put("weekly.ics", calendar(master.replace("EXDATE:20271220T090000Z\n", "")))
    await cal.sync()
    assert await cal.titles(carla) == ["Review", "Weekly"]
    assert await cal.titles(fred) == []

    # The whole series deleted: nothing of it stays.
    await caldav.delete("weekly.ics")
    await cal.sync()
    assert await cal.titles(carla) == ["Review"]

    # Rule 7: turning private freezes what was logged; rule 8: cancelled in the calendar app.
    await caldav.put(
        "review.ics",
        calendar(review.replace("SUMMARY:Review", "STATUS:CANCELLED\nSUMMARY:Review")),
    )
    await cal.sync()
    assert await cal.titles(carla) == []


async def test_a_revoked_app_password_needs_a_new_link(
    caldav: CalDavLink, chronik: RunningChronik, db: asyncpg.Connection
) -> None:
    cal = await linked(caldav, chronik, db)
    assert cal is not None
    # The person revoked the app password: the server now answers 401 (here: the stored
    # password is replaced by one the server does not know, as the server's side cannot be
    # changed for a single-user Xandikos).
    services = chronik.app.state.services
    vault = services.vault
    row = await db.fetchrow("SELECT id, token_ciphertext FROM calendar_connections")
    secrets = vault.decrypt(row["token_ciphertext"])
    secrets["password"] = "revoked"
    await db.execute(
        "UPDATE calendar_connections SET token_ciphertext = $2 WHERE id = $1",
        row["id"],
        vault.encrypt(secrets),
    )
    (await chronik.graphql("mutation { syncCalendarNow { id } }", token=caldav.user.token)).ok()
    for _ in range(1500):
        mine = (await chronik.graphql(MY_CONNECTION, token=caldav.user.token)).ok()
        if mine["calendarConnection"]["status"] == "NEEDS_REAUTH":
            break
        await asyncio.sleep(0.02)
    assert mine["calendarConnection"]["status"] == "NEEDS_REAUTH"
    assert "link the calendar again" in mine["calendarConnection"]["lastError"]

    # Linking again with the right app password makes it active again.
    relinked = (await caldav.link()).ok()["linkCalendarWithCredentials"]
    assert relinked["status"] == "ACTIVE"


SCHEDULE = """
mutation($input: ScheduleMeetingInput!) {
  scheduleMeeting(input: $input) { id title source invitationsSent attendees { email } }
}"""
UPDATE = """
mutation($id: ID!, $input: UpdateMeetingInput!) {
  updateMeeting(id: $id, input: $input) { id title invitationsSent }
}"""
CANCEL = """
mutation($id: ID!) { cancelMeeting(id: $id) { id status invitationsSent } }"""


async def test_meetings_scheduled_from_chronik_are_written_to_the_caldav_calendar(
    caldav: CalDavLink, chronik: RunningChronik, db: asyncpg.Connection
) -> None:
    cal = await linked(caldav, chronik, db)
    carla = await cal.contact("carla@client.test")
    start = (datetime.now(UTC) + timedelta(days=5)).replace(
        hour=13, minute=0, second=0, microsecond=0
    )
    made = await chronik.graphql(
        SCHEDULE,
        {
            "input": {
                "title": "Contract review",
                "startsAt": start.isoformat(),
                "endsAt": (start + timedelta(minutes=45)).isoformat(),
                "timeZone": "Europe/Berlin",
                "attendees": [{"contactId": carla}, {"email": "guest@partner.test"}],
                "idempotencyKey": "review-1",
            }
        },
        token=caldav.user.token,
    )
    meeting = made.ok()["scheduleMeeting"]
    # Radicale has no RFC 6638 scheduling: the answer says nobody was invited.
    schedules = caldav.server.kind == "xandikos"
    assert meeting["invitationsSent"] is schedules
    assert meeting["source"] == "CRM"
    name = resource_name_for(f"{caldav.user.user_id}:review-1")
    status, ics = await get_ics(caldav.http, caldav.server, caldav.direct_url, name)
    assert status == 200
    unfolded = ics.replace("\r\n ", "").replace("\r\n", "\n")
    assert "SUMMARY:Contract review" in unfolded
    assert f"mailto:{OWNER}" in unfolded
    assert "mailto:carla@client.test" in unfolded and "mailto:guest@partner.test" in unfolded

    updated = await chronik.graphql(
        UPDATE,
        {"id": meeting["id"], "input": {"title": "Contract signing"}},
        token=caldav.user.token,
    )
    assert updated.ok()["updateMeeting"]["invitationsSent"] is schedules
    _, ics = await get_ics(caldav.http, caldav.server, caldav.direct_url, name)
    assert "SUMMARY:Contract signing" in ics

    # Rule 10: the event comes back through the sync as the same meeting.
    await cal.sync()
    assert [e["meeting"]["id"] for e in await cal.timeline(carla)] == [meeting["id"]]
    assert await db.fetchval("SELECT count(*) FROM meetings") == 1

    cancelled = await chronik.graphql(CANCEL, {"id": meeting["id"]}, token=caldav.user.token)
    assert cancelled.ok()["cancelMeeting"]["invitationsSent"] is schedules
    _, ics = await get_ics(caldav.http, caldav.server, caldav.direct_url, name)
    assert "STATUS:CANCELLED" in ics
    await cal.sync()
    assert await cal.titles(carla) == []


async def test_a_caldav_calendar_is_polled_every_two_minutes_without_push(
    caldav: CalDavLink, chronik: RunningChronik, db: asyncpg.Connection
) -> None:
    cal = await linked(caldav, chronik, db)
    carla = await cal.contact("carla@client.test")
    # CalDAV has no push: no channel was registered.
    assert await db.fetchval("SELECT push_channel_id FROM calendar_connections") is None
    await caldav.put(
        "call.ics",
        calendar(
            event(
                "call",
                "SUMMARY:Call\nDTSTART:20271207T100000Z\nATTENDEE:mailto:carla@client.test",
                _after_linking(),
            )
        ),
    )
    # Two minutes pass (CHRONIK_CALDAV_POLL_SECONDS, shorter than the workers' 300 s): the
    # worker polls the calendar without being asked.
    await db.execute(
        "UPDATE calendar_connections SET last_synced_at = last_synced_at - interval '121 s'"
    )
    for _ in range(1500):
        if await cal.titles(carla) == ["Call"]:
            break
        await asyncio.sleep(0.02)
    assert await cal.titles(carla) == ["Call"]
