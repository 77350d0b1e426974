"""GraphCalendarClient against the Microsoft sandbox over real HTTP: the calendarView delta feed
(paging, deltaLink rounds, removals, expiry, series with exceptions, other calendars, retries,
foreign cursors, bounded series-master reads) and Graph subscriptions delivered to a receiver
this test runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sync.credentials import StaticToken
from sync.http import RetryPolicy
from sync.model import ChangePage, CursorExpired, EventKind, EventStatus, ProviderEvent
from sync.provider import ProviderError, ProviderUnavailable
from sync.providers.microsoft.client import GraphCalendarClient
from sync.providers.microsoft.parse import parse_timestamp
from tests.support.sandboxes import Sandboxes, start_sandboxes

ALICE = "alice@contoso.example"
OLGA = "olga@fabrikam.example"  # an outside organizer who invites Alice
EVENTS = f"/_sandbox/users/{ALICE}/events"
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
WINDOW_START = NOW - timedelta(days=1)
# Short backoff keeps retry tests fast: a Retry-After of 1 s is capped at max_delay.
FAST_RETRIES = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, timeout=10.0)
PAGE_SIZE = 5


@dataclass
class Graph:
    """The Microsoft sandbox, its control API, a client holding Alice's token, and every
    request the client's HTTP session made (method, path, Prefer header)."""

    url: str
    sandboxes: Sandboxes
    http: aiohttp.ClientSession
    client: GraphCalendarClient
    token: str
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.http.request(method, self.url + path, **kwargs) as resp:
            raw = await resp.read()
            assert resp.status < 300, (resp.status, raw)
            return await resp.json(content_type=None) if raw else None

    async def create(self, subject: str, day: int = 1, **extra: Any) -> str:
        """An event Alice made in Outlook, `day` days from now; returns its id."""
        event = await self.control("POST", EVENTS, json=meeting(subject, NOW + day * DAY, **extra))
        return str(event["id"])

    def api_requests(self) -> list[tuple[str, str, str]]:
        """The client's Graph requests (not the test's control API calls)."""
        return [r for r in self.requests if r[1].startswith("/v1.0/")]

    def master_reads(self) -> int:
        return sum(1 for _, path, _ in self.api_requests() if path.startswith("/v1.0/me/events/"))

    async def round(
        self, cursor: str | None = None
    ) -> tuple[list[ProviderEvent], list[ChangePage]]:
        """Fetch pages from `cursor` until one completes the round: (all events, pages)."""
        pages = [await self.client.fetch_changes(cursor, window_start=WINDOW_START)]
        while not pages[-1].complete:
            pages.append(
                await self.client.fetch_changes(pages[-1].cursor, window_start=WINDOW_START)
            )
        return [event for page in pages for event in page.events], pages


DAY = timedelta(days=1)


def meeting(subject: str, at: datetime, /, minutes: int = 60, **extra: Any) -> dict[str, Any]:
    """A Graph event body at `at` (UTC) with one outside guest; `extra` overrides fields."""
    return {
        "subject": subject,
        "start": {"dateTime": at.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {
            "dateTime": (at + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S"),
            "timeZone": "UTC",
        },
        "attendees": [{"emailAddress": {"address": "Dana@Fabrikam.example"}, "type": "required"}],
        **extra,
    }


def _tracer(requests: list[tuple[str, str, str]]) -> aiohttp.TraceConfig:
    async def started(_session: Any, _context: Any, params: Any) -> None:
        requests.append((params.method, params.url.path, params.headers.get("Prefer", "")))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(started)
    return trace


@pytest.fixture
async def graph() -> AsyncIterator[Graph]:
    sandboxes = await start_sandboxes()
    requests: list[tuple[str, str, str]] = []
    try:
        async with aiohttp.ClientSession(trace_configs=[_tracer(requests)]) as http:
            url = sandboxes.microsoft_url
            async with http.post(f"{url}/_sandbox/users", json={"email": ALICE}) as resp:
                assert resp.status == 201
            async with http.post(f"{url}/_sandbox/users/{ALICE}/token") as resp:
                token = (await resp.json())["access_token"]
            client = GraphCalendarClient(
                http, url, StaticToken(token), FAST_RETRIES, page_size=PAGE_SIZE
            )
            graph = Graph(url, sandboxes, http, client, token)
            requests.clear()
            graph.requests = requests
            yield graph
    finally:
        await sandboxes.close()


# -- change feed ---------------------------------------------------------------------------------


async def test_full_round_pages_then_delta_link_brings_exactly_the_change(graph: Graph) -> None:
    ids = [await graph.create(f"Meeting {n}", day=n + 1) for n in range(12)]
    events, pages = await graph.round()
    assert [(len(p.events), p.complete) for p in pages] == [(5, False), (5, False), (2, True)]
    assert sorted(e.provider_event_id for e in events) == sorted(ids)
    assert {e.kind for e in events} == {EventKind.SINGLE}
    first = next(e for e in events if e.provider_event_id == ids[0])
    assert (first.title, first.starts_at) == ("Meeting 0", NOW + DAY)
    assert all('outlook.timezone="UTC"' in prefer for _, _, prefer in graph.api_requests())
    assert all("odata.maxpagesize=5" in prefer for _, _, prefer in graph.api_requests())

    await graph.control("PATCH", f"{EVENTS}/{ids[3]}", json={"subject": "Moved agenda"})
    changed, pages = await graph.round(pages[-1].cursor)
    assert [(e.provider_event_id, e.title) for e in changed] == [(ids[3], "Moved agenda")]
    assert pages[-1].complete
    nothing, _ = await graph.round(pages[-1].cursor)
    assert nothing == []


async def test_deleted_events_arrive_as_removed_over_several_pages(graph: Graph) -> None:
    ids = [await graph.create(f"Meeting {n}", day=n + 1) for n in range(8)]
    _, pages = await graph.round()
    for gone in ids[1:]:
        await graph.control("DELETE", f"{EVENTS}/{gone}")
    changed, pages = await graph.round(pages[-1].cursor)
    assert [len(p.events) for p in pages] == [5, 2]
    removed = sorted(changed, key=lambda e: e.provider_event_id)
    assert removed == [ProviderEvent(provider_event_id=i, removed=True) for i in sorted(ids[1:])]


async def test_all_day_and_private_events_over_the_wire(graph: Graph) -> None:
    day = (NOW + 3 * DAY).date().isoformat()
    after = (NOW + 4 * DAY).date().isoformat()
    zone = "W. Europe Standard Time"
    holiday = await graph.create(
        "Offsite",
        isAllDay=True,
        start={"dateTime": f"{day}T00:00:00", "timeZone": zone},
        end={"dateTime": f"{after}T00:00:00", "timeZone": zone},
    )
    secret = await graph.create("Doctor", day=2)
    events, pages = await graph.round()
    offsite = next(e for e in events if e.provider_event_id == holiday)
    assert offsite.all_day and offsite.time_zone == "Europe/Berlin"
    assert (offsite.starts_at, offsite.ends_at) == (
        datetime.fromisoformat(f"{day}T00:00:00+00:00"),
        datetime.fromisoformat(f"{after}T00:00:00+00:00"),
    )
    await graph.control("POST", f"{EVENTS}/{secret}/private", json={"sensitivity": "confidential"})
    changed, _ = await graph.round(pages[-1].cursor)
    assert [(e.provider_event_id, e.private) for e in changed] == [(secret, True)]


@pytest.mark.parametrize(
    ("status", "code"),
    [(410, "SyncStateNotFound"), (400, "syncStateNotFound"), (404, "resyncRequired")],
)
async def test_invalidated_delta_token_raises_cursor_expired(
    graph: Graph, status: int, code: str
) -> None:
    await graph.create("Anything")
    _, pages = await graph.round()
    await graph.control(
        "POST", "/_sandbox/quirks", json={"expiredStatus": status, "expiredCode": code}
    )
    await graph.control("POST", "/_sandbox/delta/invalidate", json={"email": ALICE})
    with pytest.raises(CursorExpired):
        await graph.client.fetch_changes(pages[-1].cursor, window_start=WINDOW_START)


def _series_items(events: list[ProviderEvent]) -> dict[str, ProviderEvent]:
    """The SERIES items by id (a series' item comes again on every page with its instances)."""
    return {e.provider_event_id: e for e in events if e.kind is EventKind.SERIES}


async def test_weekly_series_item_is_its_master_and_instances_keep_their_kind(
    graph: Graph,
) -> None:
    monday = NOW + (7 - NOW.weekday()) * DAY
    master_id = await create_weekly(graph, monday, weeks=6)
    events, pages = await graph.round()
    assert len(pages) > 1  # 6 instances over pages of PAGE_SIZE
    series = _series_items(events)
    assert list(series) == [master_id]
    assert series[master_id].starts_at == monday
    assert series[master_id].title == "Weekly sync"
    assert events[0].provider_event_id == master_id  # ahead of its instances
    occurrences = {
        e.original_start: e for e in events if e.kind is EventKind.OCCURRENCE and e.original_start
    }
    assert sorted(occurrences) == [monday + 7 * n * DAY for n in range(6)]
    assert {e.series_id for e in occurrences.values()} == {master_id}

    first = occurrences[monday].provider_event_id
    moved = occurrences[monday + 14 * DAY].provider_event_id
    cancelled = occurrences[monday + 28 * DAY].provider_event_id
    new_start = monday + 15 * DAY
    await graph.control("PATCH", f"{EVENTS}/{moved}", json=meeting("Weekly (moved)", new_start))
    await graph.control("POST", f"{EVENTS}/{cancelled}/cancel")  # Olga cancels that week
    await graph.control(
        "PATCH", f"{EVENTS}/{first}", json=meeting("Kick-off", monday + DAY / 4, minutes=30)
    )
    changed, pages = await graph.round(pages[-1].cursor)
    assert sorted((e.provider_event_id, e.kind, e.status) for e in changed) == sorted(
        [
            (master_id, EventKind.SERIES, EventStatus.CONFIRMED),
            (first, EventKind.EXCEPTION, EventStatus.CONFIRMED),
            (moved, EventKind.EXCEPTION, EventStatus.CONFIRMED),
            (cancelled, EventKind.EXCEPTION, EventStatus.CANCELLED),
        ]
    )
    by_id = {e.provider_event_id: e for e in changed}
    assert by_id[moved].starts_at == new_start
    assert by_id[moved].original_start == monday + 14 * DAY
    assert by_id[first].original_start == monday
    assert by_id[cancelled].series_id == master_id
    assert by_id[master_id].starts_at == monday  # the series still starts where it did

    again, _ = await graph.round()  # a fresh full round: the same series, the same shape
    assert list(_series_items(again)) == [master_id]
    assert sorted(e.kind for e in again if e.kind is not EventKind.SERIES) == sorted(
        [EventKind.OCCURRENCE] * 3 + [EventKind.EXCEPTION] * 3
    )
    assert graph.master_reads() == 1  # cached across pages and rounds

    await graph.control("DELETE", f"{EVENTS}/{master_id}")
    removed, _ = await graph.round(pages[-1].cursor)
    assert all(e.removed for e in removed)  # stubs of its instances, which name no series
    assert {moved, cancelled, first} <= {e.provider_event_id for e in removed}
    assert len(removed) == 6
    fresh = GraphCalendarClient(graph.http, graph.url, StaticToken(graph.token))
    assert await fresh.gone_series([master_id]) == {master_id}


async def test_rescheduled_series_keeps_its_id_with_the_new_first_start(graph: Graph) -> None:
    monday = NOW + (7 - NOW.weekday()) * DAY
    master_id = await create_weekly(graph, monday, weeks=4)
    _, pages = await graph.round()
    later = monday + 7 * DAY
    await graph.control(
        "PATCH",
        f"{EVENTS}/{master_id}",
        json={**meeting("Weekly sync", later, minutes=30), "recurrence": weekly(later, 4)},
    )
    changed, _ = await graph.round(pages[-1].cursor)
    series = _series_items(changed)
    assert [(e.provider_event_id, e.starts_at) for e in series.values()] == [(master_id, later)]
    assert graph.master_reads() == 2  # the series changed, so its master was read again


async def test_gone_series_are_deleted_or_have_nothing_left_in_the_window(graph: Graph) -> None:
    monday = NOW + (7 - NOW.weekday()) * DAY
    kept = await create_weekly(graph, monday, weeks=2)
    emptied = await create_weekly(graph, monday + DAY, weeks=2)
    deleted = await create_weekly(graph, monday + 2 * DAY, weeks=2)
    events, _ = await graph.round()
    for event in events:
        if event.series_id == emptied:
            await graph.control("DELETE", f"{EVENTS}/{event.provider_event_id}")
    await graph.control("DELETE", f"{EVENTS}/{deleted}")
    fresh = GraphCalendarClient(graph.http, graph.url, StaticToken(graph.token))
    await fresh.fetch_changes(None, window_start=WINDOW_START)  # sets the window
    assert await fresh.gone_series([kept, emptied, deleted]) == {emptied, deleted}


async def test_secondary_calendar_events_never_appear(graph: Graph) -> None:
    calendar = await graph.control(
        "POST", f"/_sandbox/users/{ALICE}/calendars", json={"name": "Private stuff"}
    )
    mine = await graph.create("In the default calendar")
    other = await graph.create("Elsewhere", calendarId=calendar["id"])
    events, pages = await graph.round()
    assert [e.provider_event_id for e in events] == [mine]
    await graph.control("PATCH", f"{EVENTS}/{other}", json={"subject": "Still elsewhere"})
    await graph.create("Also elsewhere", day=3, calendarId=calendar["id"])
    changed, _ = await graph.round(pages[-1].cursor)
    assert changed == []


async def test_throttling_and_server_errors_are_retried_through(graph: Graph) -> None:
    await graph.create("Busy day")
    for fault in (
        {"kind": "rate_limit", "status": 429, "retryAfter": 1, "nextN": 2},
        {"kind": "server_error", "status": 503, "nextN": 1},
    ):
        await graph.control("POST", "/_sandbox/faults", json={**fault, "pathContains": "delta"})
    events, _ = await graph.round()
    assert [e.title for e in events] == ["Busy day"]
    stats = await graph.control("GET", "/_sandbox/faults")
    assert stats["injected"] == {"rate_limit": 2, "server_error": 1}


@pytest.mark.parametrize(
    "cursor",
    [
        "https://evil.example/v1.0/me/calendarView/delta?$deltatoken=abc",
        "{url}.evil.example/v1.0/me/calendarView/delta?$deltatoken=abc",
        "{url}/_sandbox/reset",
        "not a url",
    ],
)
async def test_cursor_outside_the_graph_base_starts_a_full_round_without_sending_the_token(
    graph: Graph, cursor: str
) -> None:
    # CursorExpired: the engine starts a full round here instead of failing forever.
    with pytest.raises(CursorExpired, match="points outside"):
        await graph.client.fetch_changes(cursor.format(url=graph.url), window_start=WINDOW_START)
    assert graph.api_requests() == []  # the token went nowhere


async def test_series_masters_are_read_once_per_series(graph: Graph) -> None:
    monday = NOW + (7 - NOW.weekday()) * DAY
    big = await create_weekly(graph, monday, weeks=50)
    small = [await create_weekly(graph, monday + n * DAY, weeks=3) for n in (1, 2, 3)]
    events, pages = await graph.round()
    assert len(pages) == (50 + 9 + PAGE_SIZE - 1) // PAGE_SIZE
    assert sorted(_series_items(events)) == sorted([big, *small])
    assert graph.master_reads() == 4


async def create_weekly(graph: Graph, start: datetime, weeks: int) -> str:
    """A weekly series Olga organises with Alice invited; returns the master id."""
    body = meeting("Weekly sync", start, minutes=30, recurrence=weekly(start, weeks))
    body["organizer"] = {"emailAddress": {"address": OLGA}}
    body["attendees"].append({"emailAddress": {"address": ALICE}, "type": "required"})
    return str((await graph.control("POST", EVENTS, json=body))["id"])


def weekly(start: datetime, weeks: int) -> dict[str, Any]:
    return {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [start.strftime("%A").lower()]},
        "range": {
            "type": "numbered",
            "startDate": start.date().isoformat(),
            "numberOfOccurrences": weeks,
        },
    }


# -- push ----------------------------------------------------------------------------------------


@dataclass
class Receiver:
    """Chronik's webhook as Graph sees it: echoes validation tokens, records notifications."""

    url: str = ""
    echo: bool = True
    validations: int = 0
    notifications: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        token = request.query.get("validationToken")
        if token is not None:
            self.validations += 1
            return web.Response(text=token if self.echo else "nope", content_type="text/plain")
        self.notifications.extend((await request.json())["value"])
        self.arrived.set()
        return web.Response(status=202)

    async def next_notification(self) -> dict[str, Any]:
        await asyncio.wait_for(self.arrived.wait(), timeout=5)
        self.arrived.clear()
        return self.notifications[-1]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/graph", receiver.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    receiver.url = str(server.make_url("/hooks/graph"))
    yield receiver
    await server.close()


async def test_watch_validates_then_notifies_with_our_client_state(
    graph: Graph, receiver: Receiver
) -> None:
    before = datetime.now(UTC)
    channel = await graph.client.watch(address=receiver.url, channel_id="unused", token="s3cret")
    assert receiver.validations == 2  # the notification URL, and the same as lifecycle URL
    assert channel.resource_id is None
    assert before + timedelta(minutes=4200) < channel.expires_at <= before + timedelta(minutes=4230)
    [subscription] = (await graph.control("GET", "/_sandbox/subscriptions"))["value"]
    assert subscription["id"] == channel.channel_id
    assert subscription["resource"] == "me/events"
    assert subscription["changeType"] == "created,updated,deleted"
    assert subscription["lifecycleNotificationUrl"] == receiver.url

    event_id = await graph.create("Fresh meeting")
    notification = await receiver.next_notification()
    assert notification["clientState"] == "s3cret"
    assert notification["subscriptionId"] == channel.channel_id
    assert notification["resourceData"]["id"] == event_id


async def test_renew_extends_the_same_subscription(graph: Graph, receiver: Receiver) -> None:
    channel = await graph.client.watch(address=receiver.url, channel_id="unused", token="s3cret")
    soon = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with graph.http.patch(  # as if the subscription were close to expiring
        f"{graph.url}/v1.0/subscriptions/{channel.channel_id}",
        json={"expirationDateTime": soon},
        headers={"Authorization": f"Bearer {graph.token}"},
    ) as resp:
        assert resp.status == 200
    renewed = await graph.client.renew(
        channel, address=receiver.url, channel_id="unused", token="s3cret"
    )
    assert renewed.channel_id == channel.channel_id
    assert renewed.expires_at > datetime.now(UTC) + timedelta(days=2)
    [subscription] = (await graph.control("GET", "/_sandbox/subscriptions"))["value"]
    assert parse_timestamp(subscription["expirationDateTime"]) == renewed.expires_at

    await graph.control("POST", "/_sandbox/subscriptions/expire", json={"id": channel.channel_id})
    with pytest.raises(ProviderError) as expired:
        await graph.client.renew(channel, address=receiver.url, channel_id="x", token="s3cret")
    assert expired.value.status == 404


async def test_stop_ends_delivery_and_is_idempotent(graph: Graph, receiver: Receiver) -> None:
    channel = await graph.client.watch(address=receiver.url, channel_id="unused", token="s3cret")
    await graph.create("Before stop")
    await receiver.next_notification()
    await graph.client.stop(channel)
    assert (await graph.control("GET", "/_sandbox/subscriptions"))["value"] == []
    await graph.create("After stop", day=2)
    await graph.sandboxes.microsoft.drain_notifications()
    assert len(receiver.notifications) == 1
    await graph.client.stop(channel)  # already gone: 404 is fine


async def test_watch_fails_when_the_endpoint_does_not_echo(
    graph: Graph, receiver: Receiver
) -> None:
    receiver.echo = False
    with pytest.raises(ProviderError) as refused:
        await graph.client.watch(address=receiver.url, channel_id="unused", token="s3cret")
    assert (refused.value.status, refused.value.reason) == (400, "ValidationError")
    assert (await graph.control("GET", "/_sandbox/subscriptions"))["value"] == []


@pytest.mark.parametrize("lost", [1, FAST_RETRIES.attempts])
async def test_a_lost_answer_to_the_subscription_post_leaves_no_orphan(
    graph: Graph, receiver: Receiver, lost: int
) -> None:
    # Each lost answer made a subscription Chronik was not told of; with every attempt lost,
    # the one carrying Chronik's clientState is adopted.
    await graph.control("POST", "/_sandbox/quirks", json={"lostSubscriptionAnswers": lost})
    channel = await graph.client.watch(address=receiver.url, channel_id="unused", token="s3cret")
    stats = await graph.control("GET", "/_sandbox/faults")
    assert stats["injected"]["lost_answer"] == lost
    [subscription] = (await graph.control("GET", "/_sandbox/subscriptions"))["value"]
    assert subscription["id"] == channel.channel_id
    assert subscription["clientState"] == "s3cret"


# -- windows Graph cannot serve ------------------------------------------------------------------


def _window_end(cursor: str) -> datetime:
    """The end of the window a cursor's round reads (the client keeps it in the fragment)."""
    [end] = parse_qs(cursor.partition("#")[2])["windowEnd"]
    return parse_timestamp(end)


async def test_a_window_graph_answers_503_for_is_halved_until_graph_serves_it(
    graph: Graph,
) -> None:
    """calendarView delta over a long window can answer 503 for good (microsoft-graph-docs
    #3657, #6499; quirk `maxWindowDays`). The full round's first request is asked again over
    half the look-ahead until Graph serves it; nothing inside that window is missed, and the
    round's deltaLink goes on over the same window."""
    await graph.control("POST", "/_sandbox/quirks", json={"maxWindowDays": 400})
    inside = [await graph.create(f"Inside {n}", day=30 * n + 1) for n in range(8)]
    beyond = await graph.create("Beyond", day=500)
    events, pages = await graph.round()
    assert sorted(e.provider_event_id for e in events) == sorted(inside)
    end = _window_end(pages[-1].cursor)
    # 3 years -> 1.5 years -> 9 months: the first window Graph serves.
    assert timedelta(days=200) < end - WINDOW_START <= timedelta(days=400)
    assert beyond not in {e.provider_event_id for e in events}

    await graph.control("PATCH", f"{EVENTS}/{inside[3]}", json={"subject": "Moved on"})
    changes, later = await graph.round(pages[-1].cursor)
    assert [(e.provider_event_id, e.title) for e in changes] == [(inside[3], "Moved on")]
    assert _window_end(later[-1].cursor) == end


async def test_a_window_graph_never_serves_ends_the_round_at_the_floor(graph: Graph) -> None:
    """Halving stops at `MIN_LOOKAHEAD` past now: a window Graph refuses even then is
    `ProviderUnavailable`, as before (the run ends with the 503 and is tried again)."""
    await graph.control("POST", "/_sandbox/quirks", json={"maxWindowDays": 10})
    with pytest.raises(ProviderUnavailable):
        await graph.round()
    windows = [path for method, path, _ in graph.api_requests() if "calendarView" in path]
    # Each window is asked FAST_RETRIES.attempts times: 3 y, 1.5 y, 9 m, 4.5 m, the floor.
    assert len(windows) == 5 * FAST_RETRIES.attempts


async def test_a_later_page_answering_504_starts_a_full_round_over_half_the_window(
    graph: Graph,
) -> None:
    """Graph can also fail a long window's later page for good (#3657: 504 on the nextLink).
    The round is given up (`CursorExpired`, the engine starts a full round) and the next full
    round of the client asks for half the window."""
    ids = [await graph.create(f"Meeting {n}", day=n + 1) for n in range(7)]
    first = await graph.client.fetch_changes(None, window_start=WINDOW_START)
    assert not first.complete
    await graph.control(
        "POST",
        "/_sandbox/faults",
        json={
            "kind": "server_error",
            "status": 504,
            "pathContains": "skiptoken",
            "nextN": FAST_RETRIES.attempts,
        },
    )
    with pytest.raises(CursorExpired, match="504"):
        await graph.client.fetch_changes(first.cursor, window_start=WINDOW_START)
    events, pages = await graph.round()
    assert sorted(e.provider_event_id for e in events) == sorted(ids)
    full = _years_later_days(WINDOW_START)
    assert _window_end(pages[-1].cursor) - WINDOW_START == full / 2


def _years_later_days(start: datetime) -> timedelta:
    return start.replace(year=start.year + 3) - start


# -- the mailbox's concurrency is shared by every client of it ----------------------------------


async def test_two_clients_of_one_mailbox_over_its_concurrency_are_throttled_and_retry_through(
    graph: Graph,
) -> None:
    """Outlook serves 4 concurrent requests of one app per mailbox; each client keeps to 4 of
    its own, but two clients of the same mailbox (a sync run beside a scheduling call, or two
    worker processes) can have 8 in flight. Graph answers the excess 429 ApplicationThrottled
    "MailboxConcurrency" with a Retry-After; each client backs off and retries, and both
    finish with everything (https://learn.microsoft.com/en-us/graph/throttling-limits
    #outlook-service-limits)."""
    monday = NOW + (7 - NOW.weekday()) * DAY
    masters = {await create_weekly(graph, monday + n * DAY / 8, weeks=1) for n in range(12)}
    await graph.control("POST", "/_sandbox/quirks", json={"mailboxLatencyMs": 60})
    await graph.control("DELETE", "/_sandbox/faults")
    patient = RetryPolicy(attempts=20, base_delay=0.01, max_delay=0.05, timeout=10.0)
    clients = [
        GraphCalendarClient(
            graph.http, graph.url, StaticToken(graph.token), patient, page_size=PAGE_SIZE
        )
        for _ in range(2)
    ]

    async def full_round(client: GraphCalendarClient) -> set[str]:
        page = await client.fetch_changes(None, window_start=WINDOW_START)
        found = set(_series_items(page.events))
        while not page.complete:
            page = await client.fetch_changes(page.cursor, window_start=WINDOW_START)
            found |= set(_series_items(page.events))
        return found

    rounds = await asyncio.gather(*(full_round(client) for client in clients))
    assert rounds == [masters, masters]
    injected = (await graph.control("GET", "/_sandbox/faults"))["injected"]
    assert injected.get("mailbox_concurrency", 0) > 0  # throttled, and retried through
