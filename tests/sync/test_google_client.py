"""GoogleCalendarClient against the Google sandbox over real HTTP: the change feed (full and
incremental rounds, paging, deletions, series, expiry, retries, other calendars) and push
channels (watch, stop, renew) delivered to a receiver this test runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sync.credentials import StaticToken
from sync.http import RetryPolicy
from sync.model import ChangePage, CursorExpired, EventKind, EventStatus, ProviderEvent
from sync.provider import ProviderError, ProviderUnavailable
from sync.providers.google.client import FeedCursor, GoogleCalendarClient
from tests.support.sandboxes import Sandboxes

ALICE = "alice@acme.test"
CALENDAR = f"/_sandbox/calendars/{ALICE}"
WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)  # Google ignores it; the protocol requires it
# Short backoff keeps retry tests fast: a Retry-After of 1 s is capped at max_delay.
FAST_RETRIES = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, timeout=10.0)


@dataclass
class Google:
    """The sandbox's URL, its control API, and a client holding Alice's token."""

    url: str
    sandbox: Sandboxes
    http: aiohttp.ClientSession
    client: GoogleCalendarClient

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.http.request(method, self.url + path, **kwargs) as resp:
            assert resp.status < 300, (resp.status, await resp.text())
            return await resp.json(content_type=None) if await resp.read() else None

    async def create(self, summary: str, day: int = 1, **extra: Any) -> str:
        """An event made in Alice's Google Calendar UI; returns its id."""
        event = await self.control(
            "POST", f"{CALENDAR}/events", json=meeting(summary, day, **extra)
        )
        return str(event["id"])

    async def pushes_delivered(self) -> list[dict[str, Any]]:
        """Wait until the sandbox has attempted every queued push; returns its delivery log."""
        answer = await self.control("GET", "/_sandbox/notifications", params={"wait": "true"})
        return list(answer["notifications"])


def meeting(summary: str, day: int, **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": {"dateTime": f"2026-12-{day:02d}T10:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": f"2026-12-{day:02d}T11:00:00+01:00", "timeZone": "Europe/Berlin"},
        "attendees": [{"email": "Peter@Initech.example"}],
        **extra,
    }


@pytest.fixture
async def google(sandboxes: Sandboxes) -> AsyncIterator[Google]:
    async with aiohttp.ClientSession() as http:
        url = sandboxes.google_url
        async with http.post(f"{url}/_sandbox/users", json={"email": ALICE}) as resp:
            assert resp.status == 201
        async with http.post(f"{url}/_sandbox/users/{ALICE}/token", json={}) as resp:
            token = (await resp.json())["access_token"]
        client = GoogleCalendarClient(http, url, StaticToken(token), FAST_RETRIES)
        yield Google(url, sandboxes, http, client)


async def sync_round(google: Google, cursor: str | None = None) -> tuple[list[ChangePage], str]:
    """Fetch pages until one is complete; returns the pages and the incremental cursor."""
    pages: list[ChangePage] = []
    while True:
        page = await google.client.fetch_changes(cursor, window_start=WINDOW_START)
        pages.append(page)
        cursor = page.cursor
        if page.complete:
            return pages, cursor


def events_of(pages: list[ChangePage]) -> list[ProviderEvent]:
    return [event for page in pages for event in page.events]


# -- the change feed ------------------------------------------------------------------------------


async def test_full_sync_pages_through_every_event(google: Google) -> None:
    await google.control("POST", f"{CALENDAR}/events:bulk", json={"count": 5500})
    pages, cursor = await sync_round(google)

    assert [len(page.events) for page in pages] == [2500, 2500, 500]
    assert [page.complete for page in pages] == [False, False, True]
    events = events_of(pages)
    assert len({event.provider_event_id for event in events}) == 5500
    assert {(event.kind, event.status) for event in events} == {
        (EventKind.SINGLE, EventStatus.CONFIRMED)
    }
    first = events[0]
    assert first.title == "Meeting 0" and first.organizer_email == ALICE
    assert first.starts_at == datetime(2026, 1, 1, 8, tzinfo=UTC)
    organizer = first.attendees[0]
    assert (organizer.email, organizer.is_organizer) == (ALICE, True)

    # Nothing changed since: the incremental round is one empty, complete page.
    after = await google.client.fetch_changes(cursor, window_start=WINDOW_START)
    assert (after.events, after.complete) == ([], True)


async def test_change_comes_back_in_exactly_one_incremental_page(google: Google) -> None:
    ids = [await google.create(f"Meeting {day}", day) for day in (1, 2, 3)]
    _, cursor = await sync_round(google)

    await google.control(
        "PATCH",
        f"{CALENDAR}/events/{ids[1]}",
        json={"summary": "Moved to Friday", "location": "HQ"},
    )
    pages, cursor = await sync_round(google, cursor)

    assert len(pages) == 1 and pages[0].complete
    [changed] = pages[0].events
    assert changed.provider_event_id == ids[1]
    assert (changed.title, changed.location) == ("Moved to Friday", "HQ")
    assert changed.attendees[0].email == "peter@initech.example"
    pages, _ = await sync_round(google, cursor)
    assert events_of(pages) == []


async def test_deleted_and_cancelled_events_come_back_cancelled(google: Google) -> None:
    deleted = await google.create("Deleted in the UI", 1)
    cancelled = await google.create("Cancelled by the organizer", 2)
    _, cursor = await sync_round(google)

    await google.control("DELETE", f"{CALENDAR}/events/{deleted}")
    await google.control("POST", f"{CALENDAR}/events/{cancelled}/cancel")
    pages, _ = await sync_round(google, cursor)

    by_id = {event.provider_event_id: event for event in events_of(pages)}
    assert set(by_id) == {deleted, cancelled}
    for event in by_id.values():
        assert (event.kind, event.status, event.removed) == (
            EventKind.SINGLE,
            EventStatus.CANCELLED,
            False,
        )
    # showDeleted on incremental rounds: a deletion keeps its details.
    assert by_id[deleted].title == "Deleted in the UI"


async def test_full_sync_reports_cancelled_and_deleted_events_as_cancelled(
    google: Google,
) -> None:
    kept = await google.create("Kept", 1)
    deleted = await google.create("Deleted", 2)
    cancelled = await google.create("Cancelled", 3)
    await google.control("DELETE", f"{CALENDAR}/events/{deleted}")
    await google.control("POST", f"{CALENDAR}/events/{cancelled}/cancel")

    pages, _ = await sync_round(google)

    statuses = {event.provider_event_id: event.status for event in events_of(pages)}
    assert statuses == {
        kept: EventStatus.CONFIRMED,
        deleted: EventStatus.CANCELLED,
        cancelled: EventStatus.CANCELLED,
    }


async def test_incremental_round_over_several_pages_keeps_its_sync_token(google: Google) -> None:
    _, cursor = await sync_round(google)
    await google.control("POST", f"{CALENDAR}/events:bulk", json={"count": 2600})

    pages, cursor = await sync_round(google, cursor)

    assert [len(page.events) for page in pages] == [2500, 100]
    # The round ended at a sync token that already covers those 2,600 events.
    pages, _ = await sync_round(google, cursor)
    assert events_of(pages) == []


async def test_expired_sync_token_raises_cursor_expired(google: Google) -> None:
    await google.create("Standing", 1)
    _, cursor = await sync_round(google)
    await google.control("POST", f"{CALENDAR}/expire-sync-tokens")

    with pytest.raises(CursorExpired):
        await google.client.fetch_changes(cursor, window_start=WINDOW_START)
    pages, _ = await sync_round(google)  # a new full sync works
    assert len(events_of(pages)) == 1


async def test_a_sync_token_of_a_listing_with_other_parameters_raises_cursor_expired(
    google: Google,
) -> None:
    """A token remembers its listing's parameters. A cursor stored when Chronik's full round
    sent no `showDeleted` (its token from such a listing) meets Google's 400 on the
    incremental request, which sends it: a full round starts instead of failing forever."""
    await google.create("Standing", 1)
    async with google.http.post(f"{google.url}/_sandbox/users/{ALICE}/token", json={}) as resp:
        token = (await resp.json())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    listing = f"{google.url}/calendar/v3/calendars/primary/events"
    async with google.http.get(listing, params={"singleEvents": "false"}, headers=headers) as resp:
        status, body = resp.status, await resp.json()
    assert status == 200
    old_cursor = FeedCursor(body["nextSyncToken"], None).encode()

    with pytest.raises(CursorExpired, match="another showDeleted"):
        await google.client.fetch_changes(old_cursor, window_start=WINDOW_START)
    pages, cursor = await sync_round(google)  # the full round's token fits
    assert len(events_of(pages)) == 1
    assert (await google.client.fetch_changes(cursor, window_start=WINDOW_START)).complete


async def test_forgotten_page_token_raises_cursor_expired(google: Google) -> None:
    await google.control("POST", f"{CALENDAR}/events:bulk", json={"count": 2501})
    first = await google.client.fetch_changes(None, window_start=WINDOW_START)
    assert not first.complete
    # Google forgets page tokens after a while; the sandbox keeps a bounded number of them.
    google.sandbox.google.page_snapshots.clear()

    with pytest.raises(CursorExpired):
        await google.client.fetch_changes(first.cursor, window_start=WINDOW_START)


@pytest.mark.parametrize("cursor", ["not json", "{}", "[1]", '{"s": 5}'])
async def test_unreadable_cursor_raises_cursor_expired(google: Google, cursor: str) -> None:
    with pytest.raises(CursorExpired):
        await google.client.fetch_changes(cursor, window_start=WINDOW_START)


async def test_series_with_a_moved_and_a_cancelled_occurrence(google: Google) -> None:
    series = await google.control(
        "POST",
        f"{CALENDAR}/events",
        json={
            "summary": "Weekly sync with Initech",
            "start": {"dateTime": "2026-03-16T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-03-16T09:30:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=6"],
            "attendees": [{"email": "peter@initech.example"}],
        },
    )
    pages, cursor = await sync_round(google)
    [master] = events_of(pages)
    assert (master.kind, master.provider_event_id) == (EventKind.SERIES, series["id"])
    assert master.starts_at == datetime(2026, 3, 16, 8, tzinfo=UTC)  # the first occurrence
    assert master.time_zone == "Europe/Berlin"

    occurrence = f"{CALENDAR}/events/{series['id']}/occurrence"
    await google.control(
        "POST",
        occurrence,
        json={
            "originalStartTime": "2026-03-23T09:00:00+01:00",
            "changes": {
                "start": {"dateTime": "2026-03-24T15:00:00+01:00"},
                "end": {"dateTime": "2026-03-24T15:30:00+01:00"},
            },
        },
    )
    # 2026-03-30 is after the switch to summer time: 09:00 local is 07:00 UTC.
    await google.control(
        "POST", occurrence, json={"originalStartTime": "2026-03-30T09:00:00+02:00", "cancel": True}
    )
    pages, _ = await sync_round(google, cursor)

    moved, cancelled = events_of(pages)
    assert (moved.kind, moved.status) == (EventKind.EXCEPTION, EventStatus.CONFIRMED)
    assert moved.series_id == series["id"]
    assert moved.original_start == datetime(2026, 3, 23, 8, tzinfo=UTC)
    assert moved.starts_at == datetime(2026, 3, 24, 14, tzinfo=UTC)
    assert (cancelled.kind, cancelled.status) == (EventKind.EXCEPTION, EventStatus.CANCELLED)
    assert cancelled.series_id == series["id"]
    assert cancelled.original_start == datetime(2026, 3, 30, 7, tzinfo=UTC)

    # A later full sync lists the series as its master and both exceptions.
    pages, _ = await sync_round(google)
    kinds = {event.provider_event_id: (event.kind, event.status) for event in events_of(pages)}
    assert kinds == {
        series["id"]: (EventKind.SERIES, EventStatus.CONFIRMED),
        moved.provider_event_id: (EventKind.EXCEPTION, EventStatus.CONFIRMED),
        cancelled.provider_event_id: (EventKind.EXCEPTION, EventStatus.CANCELLED),
    }


async def test_secondary_calendar_events_never_appear(google: Google) -> None:
    other = await google.control(
        "POST", f"/_sandbox/users/{ALICE}/calendars", json={"summary": "Team"}
    )
    other_events = f"/_sandbox/calendars/{other['id']}/events"
    hidden = await google.control("POST", other_events, json=meeting("Team lunch", 1))
    primary = await google.create("Client call", 2)

    pages, cursor = await sync_round(google)
    assert [event.provider_event_id for event in events_of(pages)] == [primary]

    await google.control("PATCH", f"{other_events}/{hidden['id']}", json={"summary": "Moved"})
    await google.control("POST", other_events, json=meeting("Offsite", 3))
    pages, _ = await sync_round(google, cursor)
    assert events_of(pages) == []


async def test_throttling_and_server_errors_are_retried_through(google: Google) -> None:
    event_id = await google.create("Survives faults", 1)
    await google.control(
        "POST", "/_sandbox/faults", json={"kind": "rate_limit", "retryAfter": 1, "nextN": 1}
    )
    await google.control(
        "POST", "/_sandbox/faults", json={"kind": "server_error", "status": 503, "nextN": 1}
    )

    page = await google.client.fetch_changes(None, window_start=WINDOW_START)

    assert [event.provider_event_id for event in page.events] == [event_id]
    stats = await google.control("GET", "/_sandbox/faults")
    assert stats == {"injected": {"rate_limit": 1, "server_error": 1}, "active": 0}


async def test_lasting_outage_raises_provider_unavailable(google: Google) -> None:
    await google.control("POST", "/_sandbox/faults", json={"kind": "server_error", "nextN": 10})
    with pytest.raises(ProviderUnavailable):
        await google.client.fetch_changes(None, window_start=WINDOW_START)


async def test_other_errors_raise_provider_error(google: Google) -> None:
    await google.control("POST", f"{CALENDAR}/events:bulk", json={"count": 2501})
    first = await google.client.fetch_changes(None, window_start=WINDOW_START)
    # A 400 that is not about the page token must not pass for an expired cursor.
    await google.control(
        "POST", "/_sandbox/faults", json={"kind": "server_error", "status": 400, "nextN": 2}
    )

    for cursor in (None, first.cursor):
        with pytest.raises(ProviderError) as caught:
            await google.client.fetch_changes(cursor, window_start=WINDOW_START)
        assert caught.value.status == 400 and not isinstance(caught.value, ProviderUnavailable)


# -- push channels --------------------------------------------------------------------------------


@dataclass
class Receiver:
    """Chronik's push endpoint stand-in: records the headers of every POST it gets."""

    url: str
    headers: list[dict[str, str]] = field(default_factory=list)

    def states(self) -> list[tuple[str, str]]:
        return [(h["X-Goog-Channel-ID"], h["X-Goog-Resource-State"]) for h in self.headers]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    received: list[dict[str, str]] = []

    async def record(request: web.Request) -> web.Response:
        received.append(dict(request.headers))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hooks/google", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield Receiver(f"http://127.0.0.1:{port}/hooks/google", received)
    await runner.cleanup()


async def test_watch_delivers_sync_then_exists_and_stop_ends_delivery(
    google: Google, receiver: Receiver
) -> None:
    before = datetime.now(UTC)
    channel = await google.client.watch(
        address=receiver.url, channel_id="chronik-google-1", token="per-channel-secret"
    )
    assert channel.channel_id == "chronik-google-1" and channel.resource_id
    # Google's default (and longest) lifetime of an events channel is a week.
    assert before + timedelta(days=6) < channel.expires_at <= datetime.now(UTC) + timedelta(days=7)

    await google.create("Pushed", 1)
    await google.pushes_delivered()

    assert receiver.states() == [("chronik-google-1", "sync"), ("chronik-google-1", "exists")]
    for headers in receiver.headers:
        assert headers["X-Goog-Channel-Token"] == "per-channel-secret"
        assert headers["X-Goog-Resource-ID"] == channel.resource_id
    assert [h["X-Goog-Message-Number"] for h in receiver.headers] == ["1", "2"]

    await google.client.stop(channel)
    await google.create("Not pushed", 2)
    log = await google.pushes_delivered()
    assert len(receiver.headers) == 2
    assert all(entry["status"] == 200 for entry in log)
    await google.client.stop(channel)  # already gone: Google's 404 is not an error


async def test_renew_moves_delivery_to_the_new_channel(google: Google, receiver: Receiver) -> None:
    old = await google.client.watch(address=receiver.url, channel_id="chronik-a", token="t")
    new = await google.client.renew(old, address=receiver.url, channel_id="chronik-b", token="t")
    # resourceId names the watched collection, so both channels share it (as on Google).
    assert new.channel_id == "chronik-b" and new.resource_id == old.resource_id

    await google.create("After renewal", 1)
    await google.pushes_delivered()

    assert sorted(receiver.states()) == [
        ("chronik-a", "sync"),
        ("chronik-b", "exists"),
        ("chronik-b", "sync"),
    ]
    # The old channel is stopped already: renewing it again still yields a live channel.
    newer = await google.client.renew(old, address=receiver.url, channel_id="chronik-c", token="t")
    assert newer.channel_id == "chronik-c"


async def test_watch_refused_raises_provider_error(google: Google, receiver: Receiver) -> None:
    await google.client.watch(address=receiver.url, channel_id="chronik-dup", token="t")
    with pytest.raises(ProviderError) as caught:
        await google.client.watch(address=receiver.url, channel_id="chronik-dup", token="t")
    assert caught.value.reason == "channelIdNotUnique"


# -- cursors --------------------------------------------------------------------------------------


def test_page_cursors_stay_in_their_round() -> None:
    full_page = FeedCursor.decode(FeedCursor(None, "page-2").encode())
    assert full_page.params() == {
        "maxResults": "2500",
        "singleEvents": "false",
        "showDeleted": "true",
        "pageToken": "page-2",
    }
    incremental_page = FeedCursor.decode(FeedCursor("sync-1", "page-2").encode())
    assert incremental_page.params() == {
        "maxResults": "2500",
        "singleEvents": "false",
        "syncToken": "sync-1",
        "showDeleted": "true",
        "pageToken": "page-2",
    }
    assert FeedCursor.decode(None) == FeedCursor(None, None)


def test_full_and_incremental_rounds_send_the_same_parameters() -> None:
    """The sync guide: incremental requests repeat the initial full sync's parameters."""
    full = FeedCursor.decode(None).params()
    incremental = FeedCursor("sync-1", None).params()
    assert incremental == {**full, "syncToken": "sync-1"}


async def test_a_watch_whose_answer_was_lost_leaves_one_live_channel(
    google: Google, receiver: Receiver
) -> None:
    """events.watch is not idempotent: the lost answer's channel exists, and a retry under its
    id would meet 400 channelIdNotUnique. The client retries under a fresh id and stops the
    channel the lost answer made."""
    watch_path = "/calendar/v3/calendars/primary/events/watch"
    attempts: list[str] = []

    async def lose_first_answer(_: Any, __: Any, params: Any) -> None:
        if params.method == "POST" and params.url.path == watch_path:
            attempts.append(params.url.path)
            if len(attempts) == 1:
                # Google made the channel; the connection breaks before its answer is read.
                raise aiohttp.ServerDisconnectedError()

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(lose_first_answer)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        async with http.post(f"{google.url}/_sandbox/users/{ALICE}/token", json={}) as resp:
            token = (await resp.json())["access_token"]
        client = GoogleCalendarClient(http, google.url, StaticToken(token), FAST_RETRIES)
        channel = await client.watch(address=receiver.url, channel_id="chronik-w", token="t")

    assert len(attempts) == 2
    live = await google.control("GET", "/_sandbox/channels")
    assert [c["id"] for c in live["channels"]] == [channel.channel_id]
    assert channel.channel_id != "chronik-w"
