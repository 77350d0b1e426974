"""GoogleCalendarClient's scheduling methods against the Google sandbox over real HTTP: create
(invitations on and off, retries, idempotency, a lost answer), update (added guests, kept
responses, stale etags, deleted events), cancel, delete, free/busy and all-day events.

The sandbox records the mails Google would have sent (`GET /_sandbox/invitations`); the change
feed (`fetch_changes`) shows what the calendar holds afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from sync.credentials import StaticToken
from sync.http import RetryPolicy
from sync.model import EventStatus, ProviderEvent, Response
from sync.provider import EventChanged, EventDraft, EventGone, ProviderError
from sync.providers.google.client import GoogleCalendarClient, event_id_for
from tests.support.sandboxes import Sandboxes

ALICE = "alice@acme.test"
PETER = "peter@initech.example"
MARY = "mary@initech.example"
CALENDAR = f"/_sandbox/calendars/{ALICE}"
WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)
FAST_RETRIES = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, timeout=10.0)
# 10:00-11:00 in Berlin (UTC+1 in December).
DEMO = EventDraft(
    title="Demo",
    description="Product demo",
    location="Room 1",
    starts_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
    ends_at=datetime(2026, 12, 1, 10, tzinfo=UTC),
    time_zone="Europe/Berlin",
    all_day=False,
    attendees=((PETER, "Peter Gibbons"),),
)

AfterAnswer = Callable[[str, str], Awaitable[None]]


@dataclass
class Wire:
    """The client's HTTP traffic to the Calendar API: every attempt as (method, path), and a
    hook run once Google's answer has arrived, to interfere before the client reads it."""

    attempts: list[tuple[str, str]] = field(default_factory=list)
    after_answer: AfterAnswer | None = None

    def trace(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()
        config.on_request_start.append(self._started)
        config.on_request_end.append(self._answered)
        return config

    async def _started(self, _: Any, __: SimpleNamespace, params: Any) -> None:
        if params.url.path.startswith("/calendar/v3"):
            self.attempts.append((params.method, params.url.path))

    async def _answered(self, _: Any, __: SimpleNamespace, params: Any) -> None:
        if self.after_answer is not None and params.url.path.startswith("/calendar/v3"):
            await self.after_answer(params.method, params.url.path)


@dataclass
class Google:
    """The sandbox's control API, and a client holding Alice's token whose traffic is traced."""

    url: str
    http: aiohttp.ClientSession
    client: GoogleCalendarClient
    wire: Wire

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.http.request(method, self.url + path, **kwargs) as resp:
            assert resp.status < 300, (resp.status, await resp.text())
            return await resp.json(content_type=None) if await resp.read() else None

    async def mails(self) -> list[tuple[str, str]]:
        """(kind, recipient) of every mail Google "sent" so far."""
        answer = await self.control("GET", "/_sandbox/invitations")
        return [(mail["kind"], mail["to"]) for mail in answer["invitations"]]

    async def calendar(self) -> list[ProviderEvent]:
        """The calendar's live events as a full sync of the change feed sees them (it also
        reports cancelled ones, as cancelled: those are left out here)."""
        events: list[ProviderEvent] = []
        cursor = None
        while True:
            page = await self.client.fetch_changes(cursor, window_start=WINDOW_START)
            events.extend(e for e in page.events if e.status is not EventStatus.CANCELLED)
            cursor = page.cursor
            if page.complete:
                return events


@pytest.fixture
async def google(sandboxes: Sandboxes) -> AsyncIterator[Google]:
    url = sandboxes.google_url
    wire = Wire()
    async with (
        aiohttp.ClientSession() as http,
        aiohttp.ClientSession(trace_configs=[wire.trace()]) as traced,
    ):
        async with http.post(f"{url}/_sandbox/users", json={"email": ALICE}) as resp:
            assert resp.status == 201
        async with http.post(f"{url}/_sandbox/users/{ALICE}/token", json={}) as resp:
            token = (await resp.json())["access_token"]
        client = GoogleCalendarClient(traced, url, StaticToken(token), FAST_RETRIES)
        yield Google(url, http, client, wire)


def draft(**changes: Any) -> EventDraft:
    return dataclasses.replace(DEMO, **changes)


# -- create ---------------------------------------------------------------------------------------


async def test_create_puts_the_meeting_in_the_calendar_and_invites_each_guest(
    google: Google,
) -> None:
    guests = ((PETER, "Peter Gibbons"), (MARY, None))
    created = await google.client.create_event(
        draft(attendees=guests), idempotency_key="k1", send_invitations=True
    )

    assert created.provider_event_id == event_id_for("k1")
    [stored] = await google.calendar()
    for event in (created, stored):
        assert (event.title, event.description, event.location) == (
            "Demo",
            "Product demo",
            "Room 1",
        )
        assert (event.starts_at, event.ends_at) == (DEMO.starts_at, DEMO.ends_at)
        assert (event.time_zone, event.all_day) == ("Europe/Berlin", False)
        assert event.organizer_email == ALICE
        assert [(a.email, a.display_name) for a in event.attendees] == [
            (PETER, "Peter Gibbons"),
            (MARY, None),
        ]
        assert {a.response for a in event.attendees} == {Response.NEEDS_ACTION}
    assert created.etag == stored.etag
    assert await google.mails() == [("invitation", PETER), ("invitation", MARY)]


async def test_create_without_invitations_mails_no_one(google: Google) -> None:
    created = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)

    assert [a.email for a in created.attendees] == [PETER]
    assert await google.mails() == []


async def test_create_retried_after_a_server_error_makes_one_event(google: Google) -> None:
    await google.control(
        "POST", "/_sandbox/faults", json={"kind": "server_error", "nextN": 1, "method": "POST"}
    )

    created = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=True)

    assert [event.provider_event_id for event in await google.calendar()] == [
        created.provider_event_id
    ]
    stats = await google.control("GET", "/_sandbox/faults")
    assert stats["injected"] == {"server_error": 1}
    assert await google.mails() == [("invitation", PETER)]


async def test_create_twice_with_one_key_returns_the_first_event(google: Google) -> None:
    first = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=True)
    again = await google.client.create_event(
        draft(title="Demo, second try"), idempotency_key="k1", send_invitations=True
    )

    assert again == first
    assert [event.provider_event_id for event in await google.calendar()] == [
        first.provider_event_id
    ]
    assert await google.mails() == [("invitation", PETER)]
    other = await google.client.create_event(DEMO, idempotency_key="k2", send_invitations=False)
    assert other.provider_event_id != first.provider_event_id


async def test_create_whose_answer_was_lost_returns_the_event_google_made(
    google: Google,
) -> None:
    async def drop_first_insert_answer(method: str, path: str) -> None:
        if (method, path) == ("POST", "/calendar/v3/calendars/primary/events"):
            google.wire.after_answer = None
            # Google created the event; the connection breaks before its answer is read.
            raise aiohttp.ServerDisconnectedError()

    google.wire.after_answer = drop_first_insert_answer

    created = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=True)

    event_path = f"/calendar/v3/calendars/primary/events/{created.provider_event_id}"
    # The retried POST met 409 duplicate, so the client read the first one's event back.
    assert google.wire.attempts == [
        ("POST", "/calendar/v3/calendars/primary/events"),
        ("POST", "/calendar/v3/calendars/primary/events"),
        ("GET", event_path),
    ]
    [stored] = await google.calendar()
    assert created == stored
    assert await google.mails() == [("invitation", PETER)]


async def test_create_with_the_key_of_a_cancelled_meeting_returns_it_cancelled(
    google: Google,
) -> None:
    first = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)
    await google.client.cancel_event(first.provider_event_id, notify=False)

    again = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)

    # Google keeps a deleted event's id taken: no new meeting under an old key.
    assert (again.provider_event_id, again.status) == (
        first.provider_event_id,
        EventStatus.CANCELLED,
    )
    assert await google.calendar() == []


async def test_invalid_draft_raises_provider_error(google: Google) -> None:
    backwards = draft(ends_at=DEMO.starts_at - timedelta(hours=1))

    with pytest.raises(ProviderError) as caught:
        await google.client.create_event(backwards, idempotency_key="k1", send_invitations=True)

    assert (caught.value.status, caught.value.reason) == (400, "timeRangeEmpty")


# -- update ---------------------------------------------------------------------------------------


async def test_update_invites_an_added_guest_and_keeps_the_others_answers(
    google: Google,
) -> None:
    created = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=True)
    event_id = created.provider_event_id
    await google.control(
        "POST",
        f"{CALENDAR}/events/{event_id}/response",
        json={"email": PETER, "responseStatus": "accepted"},
    )

    updated = await google.client.update_event(
        event_id,
        draft(title="Demo II", attendees=((PETER, "Peter Gibbons"), (MARY, "Mary"))),
        etag=None,
        send_updates=True,
    )

    assert updated.title == "Demo II"
    assert [(a.email, a.response) for a in updated.attendees] == [
        (PETER, Response.ACCEPTED),
        (MARY, Response.NEEDS_ACTION),
    ]
    assert (await google.mails())[1:] == [("invitation", MARY), ("update", PETER)]
    [stored] = await google.calendar()
    assert stored == updated


async def test_update_clears_what_the_draft_leaves_empty_and_drops_removed_guests(
    google: Google,
) -> None:
    created = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)

    updated = await google.client.update_event(
        created.provider_event_id,
        draft(description=None, location=None, attendees=()),
        etag=created.etag,
        send_updates=True,
    )

    assert (updated.description, updated.location, updated.attendees) == (None, None, ())
    assert await google.mails() == [("cancellation", PETER)]


async def test_update_keeps_the_organizers_own_attendee_entry(google: Google) -> None:
    # Google lists the organizer among the attendees of a meeting with guests.
    made = await google.control(
        "POST",
        f"{CALENDAR}/events",
        json={
            "summary": "Made in Google Calendar",
            "start": {"dateTime": "2026-12-01T10:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-01T11:00:00+01:00", "timeZone": "Europe/Berlin"},
            "attendees": [{"email": ALICE, "responseStatus": "accepted"}, {"email": PETER}],
        },
    )

    # The draft names the owner too: listed once, still as the organizer.
    updated = await google.client.update_event(
        made["id"],
        draft(attendees=((ALICE, None), (MARY, None))),
        etag=made["etag"],
        send_updates=True,
    )

    assert [(a.email, a.is_organizer, a.response) for a in updated.attendees] == [
        (ALICE, True, Response.ACCEPTED),
        (MARY, False, Response.NEEDS_ACTION),
    ]
    assert await google.mails() == [("invitation", MARY), ("cancellation", PETER)]


async def test_update_without_sending_updates_mails_no_one(google: Google) -> None:
    created = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)

    await google.client.update_event(
        created.provider_event_id,
        draft(attendees=((PETER, None), (MARY, None))),
        etag=created.etag,
        send_updates=False,
    )

    assert await google.mails() == []


async def test_update_with_a_stale_etag_raises_event_changed(google: Google) -> None:
    created = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)
    await google.control(
        "PATCH", f"{CALENDAR}/events/{created.provider_event_id}", json={"summary": "Renamed"}
    )

    with pytest.raises(EventChanged):
        await google.client.update_event(
            created.provider_event_id, DEMO, etag=created.etag, send_updates=True
        )

    [stored] = await google.calendar()
    assert stored.title == "Renamed"


async def test_update_racing_a_change_at_google_raises_event_changed(google: Google) -> None:
    created = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)
    event_id = created.provider_event_id

    async def change_after_read(method: str, path: str) -> None:
        if method == "GET":
            google.wire.after_answer = None
            await google.control(
                "PATCH", f"{CALENDAR}/events/{event_id}", json={"summary": "Renamed"}
            )

    google.wire.after_answer = change_after_read

    # No etag from the caller: the etag just read guards the write (Google answers 412).
    with pytest.raises(EventChanged) as caught:
        await google.client.update_event(event_id, DEMO, etag=None, send_updates=True)

    assert caught.value.status == 412
    [stored] = await google.calendar()
    assert stored.title == "Renamed"


async def test_update_of_a_deleted_or_unknown_event_raises_event_gone(google: Google) -> None:
    created = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)
    await google.control("DELETE", f"{CALENDAR}/events/{created.provider_event_id}")

    for event_id in (created.provider_event_id, "unknown0event"):
        with pytest.raises(EventGone):
            await google.client.update_event(event_id, DEMO, etag=None, send_updates=True)


# -- cancel and delete ----------------------------------------------------------------------------


async def test_cancel_mails_each_guest_and_the_feed_reports_the_cancellation(
    google: Google,
) -> None:
    guests = ((PETER, None), (MARY, None))
    created = await google.client.create_event(
        draft(attendees=guests), idempotency_key="k1", send_invitations=False
    )
    full = await google.client.fetch_changes(None, window_start=WINDOW_START)
    assert full.complete

    await google.client.cancel_event(created.provider_event_id, notify=True)

    assert await google.mails() == [("cancellation", PETER), ("cancellation", MARY)]
    change = await google.client.fetch_changes(full.cursor, window_start=WINDOW_START)
    assert [(e.provider_event_id, e.status) for e in change.events] == [
        (created.provider_event_id, EventStatus.CANCELLED)
    ]
    assert await google.calendar() == []
    # Cancelling again (a retry, or a meeting already deleted in the calendar) is fine.
    await google.client.cancel_event(created.provider_event_id, notify=True)
    await google.client.cancel_event("unknown0event", notify=True)


async def test_delete_removes_the_event(google: Google) -> None:
    created = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)

    await google.client.delete_event(created.provider_event_id)

    assert google.wire.attempts[-1] == (
        "DELETE",
        f"/calendar/v3/calendars/primary/events/{created.provider_event_id}",
    )
    assert await google.calendar() == []
    await google.client.delete_event(created.provider_event_id)


async def test_delete_and_silent_cancel_mail_no_one(google: Google) -> None:
    first = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)
    second = await google.client.create_event(DEMO, idempotency_key="k2", send_invitations=False)

    await google.client.delete_event(first.provider_event_id)
    await google.client.cancel_event(second.provider_event_id, notify=False)

    assert await google.mails() == []


# -- free/busy ------------------------------------------------------------------------------------


async def test_free_busy_lists_the_events_and_leaves_cancelled_ones_out(google: Google) -> None:
    morning = draft(
        starts_at=datetime(2026, 12, 1, 8, tzinfo=UTC), ends_at=datetime(2026, 12, 1, 9, tzinfo=UTC)
    )
    cancelled = draft(
        starts_at=datetime(2026, 12, 1, 12, tzinfo=UTC),
        ends_at=datetime(2026, 12, 1, 13, tzinfo=UTC),
    )
    # Created out of order, the answer is sorted anyway.
    for key, meeting in (("demo", DEMO), ("morning", morning), ("cancelled", cancelled)):
        await google.client.create_event(meeting, idempotency_key=key, send_invitations=False)
    await google.client.cancel_event(event_id_for("cancelled"), notify=False)

    busy = await google.client.free_busy(
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    )

    # 08:00-09:00 and 09:00-10:00 touch, and Google merges them into one period.
    assert busy == [(datetime(2026, 12, 1, 8, tzinfo=UTC), datetime(2026, 12, 1, 10, tzinfo=UTC))]
    assert all(start.tzinfo == UTC and end.tzinfo == UTC for start, end in busy)


async def test_free_busy_clips_to_the_window_and_ignores_events_outside(google: Google) -> None:
    await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)

    assert await google.client.free_busy(
        datetime(2026, 12, 1, 9, 30, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    ) == [(datetime(2026, 12, 1, 9, 30, tzinfo=UTC), datetime(2026, 12, 1, 10, tzinfo=UTC))]
    assert (
        await google.client.free_busy(
            datetime(2026, 12, 2, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)
        )
        == []
    )


async def test_free_busy_refused_raises_provider_error(google: Google) -> None:
    await google.control(
        "POST", "/_sandbox/faults", json={"kind": "server_error", "status": 400, "nextN": 1}
    )

    with pytest.raises(ProviderError) as caught:
        await google.client.free_busy(
            datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
        )

    assert caught.value.status == 400


# -- all-day --------------------------------------------------------------------------------------


async def test_all_day_event_round_trips(google: Google) -> None:
    holidays = draft(
        title="Offsite",
        starts_at=datetime(2026, 12, 24, tzinfo=UTC),
        ends_at=datetime(2026, 12, 27, tzinfo=UTC),  # the 24th to the 26th, end exclusive
        all_day=True,
    )

    created = await google.client.create_event(
        holidays, idempotency_key="k1", send_invitations=False
    )

    [stored] = await google.calendar()
    for event in (created, stored):
        assert event.all_day
        assert (event.starts_at, event.ends_at) == (holidays.starts_at, holidays.ends_at)
    updated = await google.client.update_event(
        created.provider_event_id,
        dataclasses.replace(holidays, ends_at=datetime(2026, 12, 26, tzinfo=UTC)),
        etag=created.etag,
        send_updates=False,
    )
    assert (updated.all_day, updated.ends_at) == (True, datetime(2026, 12, 26, tzinfo=UTC))


@pytest.mark.parametrize("to_all_day", [True, False])
async def test_a_meeting_switches_between_timed_and_all_day(
    google: Google, to_all_day: bool
) -> None:
    """Google merges `start`/`end` on patch: the client must null the other kind's keys."""
    timed = DEMO
    all_day = draft(
        starts_at=datetime(2026, 12, 1, tzinfo=UTC),
        ends_at=datetime(2026, 12, 2, tzinfo=UTC),
        all_day=True,
    )
    before, after = (timed, all_day) if to_all_day else (all_day, timed)
    created = await google.client.create_event(before, idempotency_key="k1", send_invitations=False)

    updated = await google.client.update_event(
        created.provider_event_id, after, etag=None, send_updates=False
    )

    [stored] = await google.calendar()
    for event in (updated, stored):
        assert event.all_day is to_all_day
        assert (event.starts_at, event.ends_at) == (after.starts_at, after.ends_at)


async def test_update_whose_answer_was_lost_is_not_reported_as_a_conflict(
    google: Google,
) -> None:
    """The retried PATCH meets 412 (the first attempt changed the etag): the client sees its
    own change in place and returns it, and the guests were mailed once."""
    created = await google.client.create_event(DEMO, idempotency_key="k1", send_invitations=False)
    event_path = f"/calendar/v3/calendars/primary/events/{created.provider_event_id}"

    async def drop_first_patch_answer(method: str, path: str) -> None:
        if (method, path) == ("PATCH", event_path):
            google.wire.after_answer = None
            raise aiohttp.ServerDisconnectedError()

    google.wire.after_answer = drop_first_patch_answer
    renamed = draft(title="Demo, renamed", attendees=((PETER, None), (MARY, None)))

    updated = await google.client.update_event(
        created.provider_event_id, renamed, etag=created.etag, send_updates=True
    )

    assert [m for m, _ in google.wire.attempts].count("PATCH") == 2
    assert updated.title == "Demo, renamed"
    [stored] = await google.calendar()
    assert stored == updated
    # Mailed once: an update to the guest who stays, an invitation to the added one.
    assert sorted(await google.mails()) == [("invitation", MARY), ("update", PETER)]
