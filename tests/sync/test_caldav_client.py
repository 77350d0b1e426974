"""The CalDAV provider against real servers (Radicale and Xandikos, see
tests/support/caldav_servers.py): discovery and the link check, the change feed, and scheduling.
Every test runs against both servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import aiohttp
import pytest

from sync.http import RetryPolicy
from sync.model import ChangePage, CursorExpired, EventKind, EventStatus, ProviderEvent, Response
from sync.provider import EventChanged, EventDraft, EventGone, NeedsReauth, NotSupported
from sync.providers.caldav.client import CalDavClient, FeedCursor
from sync.providers.caldav.discovery import LinkRefused, check_link
from sync.providers.caldav.session import BasicCredentials
from tests.support.caldav_servers import (  # noqa: F401 (fixtures)
    DISCOVERY_USER,
    CalDavServer,
    caldav_server,
    delete_resource,
    get_ics,
    http_session,
    make_calendar,
    put_ics,
    radicale_server,
    xandikos_server,
)

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=5)
WINDOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Calendar:
    server: CalDavServer
    http: aiohttp.ClientSession
    url: str
    client: CalDavClient

    async def put(self, name: str, ics: str) -> str:
        return await put_ics(self.http, self.server, self.url, name, ics)

    async def delete(self, name: str) -> None:
        await delete_resource(self.http, self.server, self.url, name)


def client_for(
    server: CalDavServer, http: aiohttp.ClientSession, url: str, **options: object
) -> CalDavClient:
    return CalDavClient(
        http,
        calendar_url=url,
        credentials=BasicCredentials(server.username, server.password),
        owner_email=server.username,
        policy=FAST,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def cal(caldav_server: CalDavServer) -> AsyncIterator[Calendar]:  # noqa: F811
    async with http_session() as http:
        url = await make_calendar(http, caldav_server)
        yield Calendar(caldav_server, http, url, client_for(caldav_server, http, url, page_size=2))


async def full_round(client: CalDavClient) -> tuple[list[ProviderEvent], str]:
    return await rest_of_round(client, None)


async def rest_of_round(
    client: CalDavClient, cursor: str | None
) -> tuple[list[ProviderEvent], str]:
    events: list[ProviderEvent] = []
    while True:
        page: ChangePage = await client.fetch_changes(cursor, window_start=WINDOW)
        events += page.events
        cursor = page.cursor
        if page.complete:
            return events, cursor


def by_id(events: list[ProviderEvent]) -> dict[str, ProviderEvent]:
    return {e.provider_event_id: e for e in events}


def vevent(uid: str, body: str, *, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Test app//EN\n"
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20261201T080000Z\n{body}\nEND:VEVENT\n{extra}"
        "END:VCALENDAR\n"
    )


MEETING = vevent(
    "meeting-1",
    "CREATED:20261201T080000Z\nLAST-MODIFIED:20261201T090000Z\n"
    "SUMMARY:Quarterly review\nLOCATION:Room 4\n"
    "DTSTART;TZID=Europe/Berlin:20261207T100000\nDTEND;TZID=Europe/Berlin:20261207T110000\n"
    "ORGANIZER;CN=Ana:mailto:Ana@Acme.test\n"
    "ATTENDEE;CN=Ana;PARTSTAT=ACCEPTED:mailto:ana@acme.test\n"
    "ATTENDEE;CN=Carla Client;PARTSTAT=TENTATIVE:mailto:Carla@Client.test\n"
    "ATTENDEE;PARTSTAT=DECLINED:mailto:dan@client.test\n"
    "ATTENDEE:mailto:eve@client.test",
)

# Weekly on Mondays from 7 Dec 2026, 09:00 New York time; the 14th moved to 11:00 with a
# new guest, the 21st excluded.
SERIES = (
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Test app//EN\n"
    "BEGIN:VEVENT\nUID:weekly-1\nDTSTAMP:20261201T080000Z\nCREATED:20261201T080000Z\n"
    "SUMMARY:Weekly sync\nDTSTART;TZID=America/New_York:20261207T090000\n"
    "DTEND;TZID=America/New_York:20261207T093000\nRRULE:FREQ=WEEKLY;COUNT=6\n"
    "EXDATE;TZID=America/New_York:20261221T090000\n"
    "ORGANIZER:mailto:ana@acme.test\nATTENDEE:mailto:carla@client.test\nEND:VEVENT\n"
    "BEGIN:VEVENT\nUID:weekly-1\nDTSTAMP:20261201T080000Z\nCREATED:20261201T080000Z\n"
    "RECURRENCE-ID;TZID=America/New_York:20261214T090000\nSUMMARY:Weekly sync (moved)\n"
    "DTSTART;TZID=America/New_York:20261214T110000\n"
    "DTEND;TZID=America/New_York:20261214T113000\n"
    "ORGANIZER:mailto:ana@acme.test\nATTENDEE:mailto:carla@client.test\n"
    "ATTENDEE:mailto:fred@client.test\nEND:VEVENT\n"
    "END:VCALENDAR\n"
)


# -- discovery and linking -----------------------------------------------------------------


async def test_link_check_finds_the_owner_and_primary_calendar_from_the_host_alone(
    caldav_server: CalDavServer,  # noqa: F811
) -> None:
    async with http_session() as http:
        host_only = caldav_server.url.rstrip("/")
        if caldav_server.kind == "radicale":
            # A home of its own, so other tests' calendars do not change the choice.
            server = CalDavServer(
                "radicale",
                caldav_server.url,
                DISCOVERY_USER,
                caldav_server.password,
                f"{caldav_server.url}{quote(DISCOVERY_USER)}/",
                caldav_server.process,
            )
            work = await make_calendar(http, server, "Work")
            personal = await make_calendar(http, server, "Personal")
            found = await check_link(http, host_only, DISCOVERY_USER, server.password)
            # Radicale has no schedule-default-calendar-URL: the first calendar by name.
            assert found.chosen_by == "first calendar"
            assert found.calendar_url == personal
            assert [c.url for c in found.calendars] == [personal, work]
            assert found.owner_email == DISCOVERY_USER
            assert found.schedules is False
        else:
            found = await check_link(
                http, host_only, caldav_server.username, caldav_server.password
            )
            # Xandikos names its default calendar in the schedule inbox (RFC 6638).
            assert found.chosen_by == "schedule-default-calendar-URL"
            assert found.calendar_url == f"{caldav_server.url}user/calendars/calendar/"
            assert found.owner_email == caldav_server.username
            assert found.schedules is True
        # The principal's own URL finds the same calendar.
        again = await check_link(
            http, found.principal_url, found.owner_email, caldav_server.password
        )
        assert again.calendar_url == found.calendar_url


async def test_link_check_refuses_a_wrong_app_password(
    caldav_server: CalDavServer,  # noqa: F811
) -> None:
    async with http_session() as http:
        with pytest.raises(LinkRefused, match="wrong username or app password") as refused:
            await check_link(http, caldav_server.url, caldav_server.username, "not-it")
    assert refused.value.reason == "invalid_auth"


async def test_link_check_says_when_nothing_answers() -> None:
    async with http_session() as http:
        with pytest.raises(LinkRefused) as refused:
            await check_link(http, "http://127.0.0.1:9", "ana@acme.test", "x", policy=FAST)
    assert refused.value.reason == "cannot_connect"


async def test_a_revoked_password_later_needs_reauth(cal: Calendar) -> None:
    stale = CalDavClient(
        cal.http,
        calendar_url=cal.url,
        credentials=BasicCredentials(cal.server.username, "revoked"),
        owner_email=cal.server.username,
        policy=FAST,
    )
    with pytest.raises(NeedsReauth):
        await stale.fetch_changes(None, window_start=WINDOW)


# -- the change feed -----------------------------------------------------------------------


async def test_full_sync_reads_every_event_in_pages(cal: Calendar) -> None:
    for n in range(5):
        await cal.put(
            f"e{n}.ics",
            vevent(
                f"uid-{n}",
                f"SUMMARY:Call {n}\nDTSTART:2026120{n + 1}T100000Z\nDTEND:2026120{n + 1}T110000Z",
            ),
        )
    first = await cal.client.fetch_changes(None, window_start=WINDOW)
    assert not first.complete and len(first.events) == 2  # page_size=2
    events, _ = await rest_of_round(cal.client, first.cursor)
    titles = sorted(e.title or "" for e in [*first.events, *events])
    assert titles == [f"Call {n}" for n in range(5)]


async def test_incremental_sync_reports_changes_and_deletions_only(cal: Calendar) -> None:
    await cal.put(
        "keep.ics",
        vevent("keep", "SUMMARY:Stays\nDTSTART:20261201T100000Z\nDTEND:20261201T110000Z"),
    )
    await cal.put(
        "edit.ics",
        vevent("edit", "SUMMARY:Before\nDTSTART:20261202T100000Z\nDTEND:20261202T110000Z"),
    )
    await cal.put(
        "gone.ics", vevent("gone", "SUMMARY:Goes\nDTSTART:20261203T100000Z\nDTEND:20261203T110000Z")
    )
    _, cursor = await full_round(cal.client)

    nothing, cursor = await rest_of_round(cal.client, cursor)
    assert nothing == []

    await cal.put(
        "edit.ics",
        vevent("edit", "SUMMARY:After\nDTSTART:20261202T100000Z\nDTEND:20261202T110000Z"),
    )
    await cal.delete("gone.ics")
    changes, _ = await rest_of_round(cal.client, cursor)
    found = by_id(changes)
    assert set(found) == {"edit.ics", "gone.ics"}
    assert found["edit.ics"].title == "After" and not found["edit.ics"].removed
    assert found["gone.ics"].removed


async def test_an_invalid_sync_token_asks_for_a_full_round(cal: Calendar) -> None:
    await cal.put(
        "a.ics", vevent("a", "SUMMARY:A\nDTSTART:20261201T100000Z\nDTEND:20261201T110000Z")
    )
    _, cursor = await full_round(cal.client)
    position = FeedCursor.decode(cursor)
    assert position.token
    position.token = position.token[:-4] + "dead"
    with pytest.raises(CursorExpired):
        await cal.client.fetch_changes(position.encode(), window_start=WINDOW)
    # The engine then starts over with no cursor: everything again.
    events, _ = await full_round(cal.client)
    assert [e.title for e in events] == ["A"]


async def test_a_cursor_this_client_did_not_write_is_expired(cal: Calendar) -> None:
    with pytest.raises(CursorExpired):
        await cal.client.fetch_changes('{"m": "sync", "p": ["../x"]}', window_start=WINDOW)


async def test_meeting_fields_are_read_as_the_rules_expect(cal: Calendar) -> None:
    etag = await cal.put("meeting.ics", MEETING)
    [event], _ = await full_round(cal.client)
    assert event.provider_event_id == "meeting.ics"
    assert event.kind is EventKind.SINGLE and event.status is EventStatus.CONFIRMED
    assert event.ical_uid == "meeting-1"
    assert event.title == "Quarterly review" and event.location == "Room 4"
    assert event.starts_at == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert event.ends_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert event.time_zone == "Europe/Berlin" and not event.all_day
    assert event.organizer_email == "ana@acme.test"
    assert {(a.email, a.display_name, a.response, a.is_organizer) for a in event.attendees} == {
        ("ana@acme.test", "Ana", Response.ACCEPTED, True),
        ("carla@client.test", "Carla Client", Response.TENTATIVE, False),
        ("dan@client.test", None, Response.DECLINED, False),
        ("eve@client.test", None, Response.NEEDS_ACTION, False),
    }
    assert event.created_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert event.updated_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert not event.private
    if etag:
        assert event.etag == etag


async def test_private_and_confidential_events_are_private(cal: Calendar) -> None:
    await cal.put(
        "p.ics",
        vevent(
            "p", "CLASS:PRIVATE\nSUMMARY:Doctor\nDTSTART:20261201T100000Z\nDTEND:20261201T110000Z"
        ),
    )
    await cal.put(
        "c.ics",
        vevent(
            "c",
            "CLASS:CONFIDENTIAL\nSUMMARY:Offer\nDTSTART:20261202T100000Z\nDTEND:20261202T110000Z",
        ),
    )
    await cal.put(
        "o.ics",
        vevent("o", "CLASS:PUBLIC\nSUMMARY:Open\nDTSTART:20261203T100000Z\nDTEND:20261203T110000Z"),
    )
    events, _ = await full_round(cal.client)
    assert {e.provider_event_id: e.private for e in events} == {
        "p.ics": True,
        "c.ics": True,
        "o.ics": False,
    }


async def test_all_day_events_span_midnight_utc_days(cal: Calendar) -> None:
    await cal.put(
        "offsite.ics",
        vevent(
            "offsite", "SUMMARY:Offsite\nDTSTART;VALUE=DATE:20261208\nDTEND;VALUE=DATE:20261210"
        ),
    )
    [event], _ = await full_round(cal.client)
    assert event.all_day
    assert (event.starts_at, event.ends_at) == (
        datetime(2026, 12, 8, tzinfo=UTC),
        datetime(2026, 12, 10, tzinfo=UTC),
    )


async def test_a_series_with_a_moved_and_an_excluded_week(cal: Calendar) -> None:
    await cal.put("weekly.ics", SERIES)
    events, cursor = await full_round(cal.client)
    found = by_id(events)
    series = found["weekly.ics"]
    assert series.kind is EventKind.SERIES
    assert series.starts_at == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    assert series.time_zone == "America/New_York"
    moved = found["weekly.ics#20261214T140000Z"]
    assert moved.kind is EventKind.EXCEPTION and moved.status is EventStatus.CONFIRMED
    assert moved.series_id == "weekly.ics"
    assert moved.original_start == datetime(2026, 12, 14, 14, 0, tzinfo=UTC)
    assert moved.starts_at == datetime(2026, 12, 14, 16, 0, tzinfo=UTC)
    assert {a.email for a in moved.attendees} == {"carla@client.test", "fred@client.test"}
    excluded = found["weekly.ics#20261221T140000Z"]
    assert excluded.kind is EventKind.EXCEPTION and excluded.status is EventStatus.CANCELLED
    assert excluded.series_id == "weekly.ics"
    assert excluded.original_start == datetime(2026, 12, 21, 14, 0, tzinfo=UTC)
    assert len(events) == 3

    # The moved week put back (override dropped) and the excluded week restored: the next
    # incremental round says both are plain occurrences again.
    plain = SERIES.split(
        "BEGIN:VEVENT\nUID:weekly-1\nDTSTAMP:20261201T080000Z\nCREATED:20261201T080000Z\nRECURRENCE-ID"
    )[0]
    plain = plain.replace("EXDATE;TZID=America/New_York:20261221T090000\n", "")
    await cal.put("weekly.ics", plain + "END:VCALENDAR\n")
    changes, cursor = await rest_of_round(cal.client, cursor)
    kinds = {e.provider_event_id: e.kind for e in changes}
    assert kinds == {
        "weekly.ics": EventKind.SERIES,
        "weekly.ics#20261214T140000Z": EventKind.OCCURRENCE,
        "weekly.ics#20261221T140000Z": EventKind.OCCURRENCE,
    }

    # Reading an unchanged occurrence by id answers it as an occurrence of the series.
    week = await cal.client.read_event("weekly.ics#20261228T140000Z")
    assert week.kind is EventKind.OCCURRENCE and week.series_id == "weekly.ics"
    with pytest.raises(EventGone):
        await cal.client.read_event("weekly.ics#20261229T140000Z")


async def test_deleting_a_series_removes_its_exceptions_too(cal: Calendar) -> None:
    await cal.put("weekly.ics", SERIES)
    _, cursor = await full_round(cal.client)
    await cal.delete("weekly.ics")
    changes, _ = await rest_of_round(cal.client, cursor)
    assert {e.provider_event_id for e in changes if e.removed} == {
        "weekly.ics",
        "weekly.ics#20261214T140000Z",
        "weekly.ics#20261221T140000Z",
    }


async def test_a_cancelled_event_is_cancelled(cal: Calendar) -> None:
    await cal.put(
        "x.ics",
        vevent(
            "x", "STATUS:CANCELLED\nSUMMARY:Off\nDTSTART:20261201T100000Z\nDTEND:20261201T110000Z"
        ),
    )
    [event], _ = await full_round(cal.client)
    assert event.status is EventStatus.CANCELLED


# -- scheduling ------------------------------------------------------------------------------


def draft(**changes: object) -> EventDraft:
    fields: dict[str, object] = {
        "title": "Intro call",
        "description": "Agenda: pricing",
        "location": None,
        "starts_at": datetime(2026, 12, 9, 15, 0, tzinfo=UTC),
        "ends_at": datetime(2026, 12, 9, 15, 30, tzinfo=UTC),
        "time_zone": "Europe/Berlin",
        "all_day": False,
        "attendees": (("carla@client.test", "Carla"),),
    }
    fields.update(changes)
    return EventDraft(**fields)  # type: ignore[arg-type]


async def test_create_is_idempotent_and_comes_back_through_the_feed(cal: Calendar) -> None:
    created = await cal.client.create_event(draft(), idempotency_key="k-1", send_invitations=True)
    again = await cal.client.create_event(
        draft(title="Not applied"), idempotency_key="k-1", send_invitations=True
    )
    assert again.provider_event_id == created.provider_event_id
    assert again.title == "Intro call"
    events, _ = await full_round(cal.client)
    [listed] = events
    assert listed.provider_event_id == created.provider_event_id
    assert listed.title == "Intro call" and listed.description == "Agenda: pricing"
    assert listed.starts_at == datetime(2026, 12, 9, 15, 0, tzinfo=UTC)
    assert listed.time_zone == "Europe/Berlin"
    assert listed.organizer_email == cal.server.username
    assert {a.email: a.response for a in listed.attendees} == {
        cal.server.username: Response.ACCEPTED,
        "carla@client.test": Response.NEEDS_ACTION,
    }
    assert listed.created_at is not None


async def test_create_all_day(cal: Calendar) -> None:
    created = await cal.client.create_event(
        draft(
            all_day=True,
            starts_at=datetime(2026, 12, 10, tzinfo=UTC),
            ends_at=datetime(2026, 12, 11, tzinfo=UTC),
        ),
        idempotency_key="k-day",
        send_invitations=False,
    )
    assert created.all_day
    assert (created.starts_at, created.ends_at) == (
        datetime(2026, 12, 10, tzinfo=UTC),
        datetime(2026, 12, 11, tzinfo=UTC),
    )


async def test_update_with_a_stale_etag_is_a_conflict(cal: Calendar) -> None:
    created = await cal.client.create_event(draft(), idempotency_key="k-2", send_invitations=True)
    name = created.provider_event_id
    # Someone answers in their calendar app: the resource changes under Chronik.
    status, text = await get_ics(cal.http, cal.server, cal.url, name)
    assert status == 200
    await cal.put(name, text.replace("\r\n", "\n").replace("Intro call", "Intro call (moved)"))
    with pytest.raises(EventChanged):
        await cal.client.update_event(
            name, draft(title="Ours"), etag=created.etag, send_updates=True
        )
    # With the current etag the update goes through, and guests who stay keep their answer.
    current = await cal.client.read_event(name)
    updated = await cal.client.update_event(
        name,
        draft(title="Ours", attendees=(("carla@client.test", "Carla"), ("gus@client.test", None))),
        etag=current.etag,
        send_updates=True,
    )
    assert updated.title == "Ours"
    assert {a.email for a in updated.attendees} == {
        cal.server.username,
        "carla@client.test",
        "gus@client.test",
    }
    status, text = await get_ics(cal.http, cal.server, cal.url, name)
    assert "SEQUENCE:1" in text


async def test_update_of_a_missing_event_is_gone(cal: Calendar) -> None:
    with pytest.raises(EventGone):
        await cal.client.update_event("nothing.ics", draft(), etag=None, send_updates=True)


async def test_cancel_marks_it_cancelled_with_a_higher_sequence(cal: Calendar) -> None:
    created = await cal.client.create_event(draft(), idempotency_key="k-3", send_invitations=True)
    _, cursor = await full_round(cal.client)
    await cal.client.cancel_event(created.provider_event_id, notify=True)
    await cal.client.cancel_event(created.provider_event_id, notify=True)  # twice is fine
    changes, _ = await rest_of_round(cal.client, cursor)
    [event] = changes
    assert event.status is EventStatus.CANCELLED
    _, text = await get_ics(cal.http, cal.server, cal.url, created.provider_event_id)
    assert "SEQUENCE:1" in text
    with pytest.raises(EventGone):
        await cal.client.update_event(
            created.provider_event_id, draft(), etag=None, send_updates=True
        )


async def test_cancel_one_week_of_a_series_excludes_it(cal: Calendar) -> None:
    await cal.put("weekly.ics", SERIES)
    _, cursor = await full_round(cal.client)
    await cal.client.cancel_event("weekly.ics#20261214T140000Z", notify=False)
    changes, _ = await rest_of_round(cal.client, cursor)
    week = by_id(changes)["weekly.ics#20261214T140000Z"]
    assert week.kind is EventKind.EXCEPTION and week.status is EventStatus.CANCELLED


async def test_delete_removes_it_and_gone_is_fine(cal: Calendar) -> None:
    created = await cal.client.create_event(draft(), idempotency_key="k-4", send_invitations=True)
    _, cursor = await full_round(cal.client)
    with pytest.raises(EventChanged):
        await cal.client.delete_event(created.provider_event_id, etag='"not-the-etag"')
    await cal.client.delete_event(created.provider_event_id, etag=created.etag)
    await cal.client.delete_event(created.provider_event_id)
    changes, _ = await rest_of_round(cal.client, cursor)
    assert [(e.provider_event_id, e.removed) for e in changes] == [
        (created.provider_event_id, True)
    ]
    with pytest.raises(EventGone):
        await cal.client.read_event(created.provider_event_id)


async def test_read_event_refuses_ids_it_could_not_have_issued(cal: Calendar) -> None:
    for bad in ("../other/x.ics", "a/b.ics", "x.ics#yesterday", ""):
        with pytest.raises(EventGone):
            await cal.client.read_event(bad)


async def test_no_push(cal: Calendar) -> None:
    with pytest.raises(NotSupported):
        await cal.client.watch(address="https://x.test/webhooks/caldav", channel_id="c", token="t")


async def test_whether_the_server_sends_invitations(cal: Calendar) -> None:
    # Xandikos advertises RFC 6638 automatic scheduling; Radicale does not.
    assert await cal.client.sends_invitations() is (cal.server.kind == "xandikos")


async def test_free_busy(cal: Calendar) -> None:
    await cal.put("weekly.ics", SERIES)
    await cal.put(
        "free.ics",
        vevent(
            "free",
            "TRANSP:TRANSPARENT\nSUMMARY:Reminder\nDTSTART:20261214T150000Z\nDTEND:20261214T170000Z",
        ),
    )
    await cal.put(
        "busy.ics",
        vevent("busy", "SUMMARY:Lunch\nDTSTART:20261214T170000Z\nDTEND:20261214T180000Z"),
    )
    start = datetime(2026, 12, 13, tzinfo=UTC)
    busy = await cal.client.free_busy(start, start + timedelta(days=9))
    assert busy == [
        # The moved week (11:00 New York), lunch, the next Monday is excluded, then the 28th.
        (datetime(2026, 12, 14, 16, 0, tzinfo=UTC), datetime(2026, 12, 14, 16, 30, tzinfo=UTC)),
        (datetime(2026, 12, 14, 17, 0, tzinfo=UTC), datetime(2026, 12, 14, 18, 0, tzinfo=UTC)),
    ]


async def test_link_check_refuses_plain_http_to_another_machine() -> None:
    async with http_session() as http:
        with pytest.raises(LinkRefused, match="only over HTTPS") as refused:
            await check_link(http, "http://caldav.example.test/dav/", "ana@acme.test", "pw")
    assert refused.value.reason == "cannot_connect"


async def test_update_one_week_of_a_series(cal: Calendar) -> None:
    await cal.put("weekly.ics", SERIES)
    _, cursor = await full_round(cal.client)
    moved_week = "weekly.ics#20261214T140000Z"
    plain_week = "weekly.ics#20261228T140000Z"
    later = draft(
        title="Weekly sync (one-off)",
        starts_at=datetime(2026, 12, 28, 18, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 28, 19, 0, tzinfo=UTC),
        time_zone="America/New_York",
    )
    await cal.client.update_event(moved_week, draft(), etag=None, send_updates=False)
    changed = await cal.client.update_event(plain_week, later, etag=None, send_updates=False)
    assert changed.kind is EventKind.EXCEPTION
    assert changed.starts_at == datetime(2026, 12, 28, 18, 0, tzinfo=UTC)
    changes, _ = await rest_of_round(cal.client, cursor)
    found = by_id(changes)
    assert found[moved_week].title == "Intro call"
    assert found[plain_week].kind is EventKind.EXCEPTION
    assert found[plain_week].title == "Weekly sync (one-off)"
    assert found[plain_week].original_start == datetime(2026, 12, 28, 14, 0, tzinfo=UTC)
    # The series itself is untouched.
    assert found["weekly.ics"].title == "Weekly sync"
    assert found["weekly.ics"].starts_at == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    with pytest.raises(EventGone):  # not an occurrence of the series
        await cal.client.update_event(
            "weekly.ics#20261229T140000Z", draft(), etag=None, send_updates=False
        )
    with pytest.raises(EventGone):  # the excluded week
        await cal.client.update_event(
            "weekly.ics#20261221T140000Z", draft(), etag=None, send_updates=False
        )


async def test_a_calendar_deleted_on_the_server_needs_linking_again(cal: Calendar) -> None:
    await cal.put("a.ics", vevent("a", "SUMMARY:A\nDTSTART:20261201T100000Z"))
    _, cursor = await full_round(cal.client)
    async with cal.http.delete(cal.url, headers=cal.server.auth_header()) as response:
        assert response.status in (200, 204)
    with pytest.raises(NeedsReauth, match="no longer exists"):
        await cal.client.fetch_changes(cursor, window_start=WINDOW)
    with pytest.raises(NeedsReauth, match="no longer exists"):
        await cal.client.fetch_changes(None, window_start=WINDOW)
