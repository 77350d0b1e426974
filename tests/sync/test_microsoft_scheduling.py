"""GraphCalendarClient's scheduling methods against the Microsoft sandbox over real HTTP: create
(with transactionId dedup and retries), update (If-Match, added attendees), cancel, delete,
free/busy, and the meeting mail Graph sends (the sandbox's recorded invitations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from sync.credentials import StaticToken
from sync.http import RetryPolicy
from sync.model import EventStatus, ProviderEvent, Response
from sync.provider import EventChanged, EventDraft, EventGone, ProviderError
from sync.providers.microsoft.client import NOTIFICATIONS_UNAVOIDABLE, GraphCalendarClient
from tests.support.sandboxes import Sandboxes, start_sandboxes

ALICE = "alice@contoso.example"
DANA = "dana@fabrikam.example"
ERIK = "erik@fabrikam.example"
FRAN = "fran@fabrikam.example"
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
TOMORROW_9 = (NOW + timedelta(days=1)).replace(hour=9)
FAST_RETRIES = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, timeout=10.0)


@dataclass
class Graph:
    """The Microsoft sandbox, a client holding Alice's token, and the client's requests."""

    url: str
    sandboxes: Sandboxes
    http: aiohttp.ClientSession
    client: GraphCalendarClient
    token: str
    requests: list[tuple[str, str]] = field(default_factory=list)

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """(status, JSON body) of a request the test makes itself (control API or Graph)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, self.url + path, headers=headers, **kwargs) as resp:
            raw = await resp.read()
            return resp.status, (await resp.json(content_type=None) if raw else None)

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, **kwargs)
        assert status < 300, (status, body)
        return body

    async def events(self) -> list[dict[str, Any]]:
        """Every event in Alice's calendar, as Graph lists them."""
        return list((await self.control("GET", "/v1.0/me/events?$top=100"))["value"])

    async def mail(self, kind: str | None = None) -> list[tuple[str, str, str]]:
        """(kind, to, eventId) of every meeting message Outlook sent, oldest first."""
        sent = (await self.control("GET", "/_sandbox/invitations"))["value"]
        return [
            (m["kind"], m["to"].lower(), m["eventId"])
            for m in sent
            if kind is None or m["kind"] == kind
        ]

    def posts(self) -> int:
        return sum(1 for method, path in self.requests if (method, path) == ("POST", EVENTS))


EVENTS = "/v1.0/me/events"


def draft(
    title: str = "Quarterly review",
    starts_at: datetime = TOMORROW_9,
    minutes: int = 45,
    *,
    attendees: tuple[tuple[str, str | None], ...] = ((DANA, "Dana Scully"), (ERIK, None)),
    time_zone: str = "Europe/Berlin",
    all_day: bool = False,
) -> EventDraft:
    return EventDraft(
        title=title,
        description="Numbers and next steps",
        location="Room 4",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        time_zone=time_zone,
        all_day=all_day,
        attendees=attendees,
    )


def _tracer(requests: list[tuple[str, str]]) -> aiohttp.TraceConfig:
    async def started(_session: Any, _context: Any, params: Any) -> None:
        requests.append((params.method, params.url.path))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(started)
    return trace


@pytest.fixture
async def graph() -> AsyncIterator[Graph]:
    sandboxes = await start_sandboxes()
    requests: list[tuple[str, str]] = []
    try:
        async with aiohttp.ClientSession(trace_configs=[_tracer(requests)]) as http:
            url = sandboxes.microsoft_url
            async with http.post(f"{url}/_sandbox/users", json={"email": ALICE}) as resp:
                assert resp.status == 201
            async with http.post(f"{url}/_sandbox/users/{ALICE}/token") as resp:
                token = (await resp.json())["access_token"]
            client = GraphCalendarClient(http, url, StaticToken(token), FAST_RETRIES)
            graph = Graph(url, sandboxes, http, client, token)
            requests.clear()
            graph.requests = requests
            yield graph
    finally:
        await sandboxes.close()


# -- create ---------------------------------------------------------------------------------------


async def test_create_makes_the_meeting_and_invites_each_attendee(graph: Graph) -> None:
    event = await graph.client.create_event(draft(), idempotency_key="k-1", send_invitations=True)

    assert (event.title, event.description, event.location) == (
        "Quarterly review",
        "Numbers and next steps",
        "Room 4",
    )
    assert (event.starts_at, event.ends_at) == (TOMORROW_9, TOMORROW_9 + timedelta(minutes=45))
    assert (event.time_zone, event.all_day, event.status) == (
        "Europe/Berlin",
        False,
        EventStatus.CONFIRMED,
    )
    assert event.organizer_email == ALICE
    assert [(a.email, a.display_name) for a in event.attendees] == [
        (DANA, "Dana Scully"),
        (ERIK, ERIK),  # Outlook fills a missing name with the address
    ]
    assert event.etag
    [stored] = await graph.events()
    assert stored["id"] == event.provider_event_id
    # Graph takes few IANA names on create: Chronik writes the zone's Windows name.
    assert stored["originalStartTimeZone"] == "W. Europe Standard Time"
    assert await graph.mail() == [
        ("invitation", DANA, event.provider_event_id),
        ("invitation", ERIK, event.provider_event_id),
    ]


@pytest.mark.parametrize(
    ("zone", "windows"),
    [
        ("Europe/Zurich", "W. Europe Standard Time"),
        ("America/Toronto", "Eastern Standard Time"),
        ("Etc/UTC", "UTC"),
        ("Asia/Kolkata", "India Standard Time"),
    ],
)
async def test_meetings_in_zones_graph_does_not_list_are_created_and_moved(
    graph: Graph, zone: str, windows: str
) -> None:
    # Graph refuses Europe/Zurich and most other IANA names (TimeZoneNotSupportedException):
    # Chronik writes the Windows name CLDR maps the zone to, the wall time the user's zone's.
    event = await graph.client.create_event(
        draft(time_zone=zone), idempotency_key="k-1", send_invitations=True
    )
    assert (event.starts_at, event.ends_at) == (TOMORROW_9, TOMORROW_9 + timedelta(minutes=45))
    [stored] = await graph.events()
    assert stored["originalStartTimeZone"] == windows
    later = TOMORROW_9 + timedelta(hours=2)
    moved = await graph.client.update_event(
        event.provider_event_id,
        draft(starts_at=later, time_zone=zone),
        etag=event.etag,
        send_updates=True,
    )
    assert moved.starts_at == later


async def test_create_without_invitations_is_refused_when_there_are_attendees(
    graph: Graph,
) -> None:
    with pytest.raises(ProviderError) as refused:
        await graph.client.create_event(draft(), idempotency_key="k-1", send_invitations=False)
    assert refused.value.reason == NOTIFICATIONS_UNAVOIDABLE
    assert graph.requests == []  # refused before Graph could mail anyone
    assert await graph.events() == []


async def test_create_without_invitations_and_without_attendees_is_a_plain_event(
    graph: Graph,
) -> None:
    event = await graph.client.create_event(
        draft(attendees=()), idempotency_key="k-1", send_invitations=False
    )
    assert event.attendees == ()
    assert [e["id"] for e in await graph.events()] == [event.provider_event_id]
    assert await graph.mail() == []


async def test_create_retried_after_a_503_makes_exactly_one_event(graph: Graph) -> None:
    await graph.control(
        "POST",
        "/_sandbox/faults",
        json={
            "kind": "server_error",
            "status": 503,
            "nextN": 1,
            "method": "POST",
            "pathContains": EVENTS,
        },
    )
    event = await graph.client.create_event(draft(), idempotency_key="k-1", send_invitations=True)

    assert graph.posts() == 2
    assert (await graph.control("GET", "/_sandbox/faults"))["injected"] == {"server_error": 1}
    assert [e["id"] for e in await graph.events()] == [event.provider_event_id]
    assert len(await graph.mail("invitation")) == 2  # one per attendee, not per attempt


async def test_same_idempotency_key_returns_the_first_event(graph: Graph) -> None:
    first = await graph.client.create_event(draft(), idempotency_key="k-1", send_invitations=True)
    again = await graph.client.create_event(draft(), idempotency_key="k-1", send_invitations=True)
    other = await graph.client.create_event(draft(), idempotency_key="k-2", send_invitations=True)

    assert again.provider_event_id == first.provider_event_id
    assert other.provider_event_id != first.provider_event_id
    assert sorted(e["id"] for e in await graph.events()) == sorted(
        [first.provider_event_id, other.provider_event_id]
    )
    [stored] = [e for e in await graph.events() if e["id"] == first.provider_event_id]
    assert stored["transactionId"] == "k-1"
    assert len(await graph.mail("invitation")) == 4  # two meetings, two attendees each


# -- update ---------------------------------------------------------------------------------------


async def _meeting(graph: Graph, **changes: Any) -> ProviderEvent:
    return await graph.client.create_event(
        draft(**changes), idempotency_key="k-1", send_invitations=True
    )


async def test_update_invites_an_added_attendee_and_updates_the_others(graph: Graph) -> None:
    created = await _meeting(graph, attendees=((DANA, None),))
    later = TOMORROW_9 + timedelta(hours=2)
    changed = draft("Quarterly review (moved)", later, attendees=((DANA, None), (ERIK, "Erik")))

    updated = await graph.client.update_event(
        created.provider_event_id, changed, etag=created.etag, send_updates=True
    )

    assert updated.provider_event_id == created.provider_event_id
    assert (updated.title, updated.starts_at) == ("Quarterly review (moved)", later)
    assert [a.email for a in updated.attendees] == [DANA, ERIK]
    assert updated.etag != created.etag
    assert (await graph.mail())[1:] == [
        ("invitation", ERIK, created.provider_event_id),
        ("update", DANA, created.provider_event_id),
    ]


async def test_update_keeps_the_answers_of_attendees_who_stay(graph: Graph) -> None:
    created = await _meeting(graph)
    await graph.control(
        "POST",
        f"/_sandbox/users/{ALICE}/events/{created.provider_event_id}/responses",
        json={"attendee": DANA, "response": "accepted"},
    )
    updated = await graph.client.update_event(
        created.provider_event_id,
        draft("Quarterly review (agenda)", attendees=((DANA, None), (FRAN, None))),
        etag=None,
        send_updates=True,
    )
    assert [(a.email, a.response) for a in updated.attendees] == [
        (DANA, Response.ACCEPTED),
        (FRAN, Response.NONE),
    ]
    assert await graph.mail("cancellation") == [("cancellation", ERIK, created.provider_event_id)]


async def test_update_with_a_stale_etag_raises_event_changed(graph: Graph) -> None:
    created = await _meeting(graph)
    await graph.client.update_event(
        created.provider_event_id, draft("First edit"), etag=created.etag, send_updates=True
    )
    with pytest.raises(EventChanged) as changed:
        await graph.client.update_event(
            created.provider_event_id, draft("Second edit"), etag=created.etag, send_updates=True
        )
    assert changed.value.status == 412
    [stored] = await graph.events()
    assert stored["subject"] == "First edit"


async def test_update_of_a_missing_event_raises_event_gone(graph: Graph) -> None:
    created = await _meeting(graph, attendees=())
    await graph.client.delete_event(created.provider_event_id)
    with pytest.raises(EventGone):
        await graph.client.update_event(
            created.provider_event_id, draft(attendees=()), etag=None, send_updates=True
        )


async def test_update_without_notifications_is_refused_when_there_are_attendees(
    graph: Graph,
) -> None:
    created = await _meeting(graph)
    graph.requests.clear()
    with pytest.raises(ProviderError) as refused:
        await graph.client.update_event(
            created.provider_event_id, draft("Quietly"), etag=None, send_updates=False
        )
    assert refused.value.reason == NOTIFICATIONS_UNAVOIDABLE
    assert graph.requests == []


# -- cancel and delete ----------------------------------------------------------------------------


async def test_cancel_with_notify_mails_cancellations_and_removes_the_event(graph: Graph) -> None:
    created = await _meeting(graph)
    await graph.client.cancel_event(created.provider_event_id, notify=True)

    assert await graph.mail("cancellation") == [
        ("cancellation", DANA, created.provider_event_id),
        ("cancellation", ERIK, created.provider_event_id),
    ]
    status, _ = await graph.call("GET", f"{EVENTS}/{created.provider_event_id}")
    assert status == 404
    await graph.client.cancel_event(created.provider_event_id, notify=True)  # gone is fine
    assert len(await graph.mail("cancellation")) == 2


async def test_cancel_without_notify_deletes_and_graph_still_mails_attendees(
    graph: Graph,
) -> None:
    # Graph documents a DELETE of the organizer's meeting as sending cancellations: the client
    # cannot prevent it, and this pins that the sandbox (like Graph) does it.
    created = await _meeting(graph)
    await graph.client.cancel_event(created.provider_event_id, notify=False)

    assert await graph.events() == []
    assert len(await graph.mail("cancellation")) == 2


async def test_delete_removes_the_event_and_gone_is_fine(graph: Graph) -> None:
    created = await _meeting(graph, attendees=())
    await graph.client.delete_event(created.provider_event_id)
    await graph.client.delete_event(created.provider_event_id)

    assert await graph.events() == []
    assert await graph.mail() == []


# -- free/busy -----------------------------------------------------------------------------------


async def test_free_busy_shows_created_events_and_not_cancelled_ones(graph: Graph) -> None:
    nine = TOMORROW_9
    created = [
        await graph.client.create_event(
            draft(f"Meeting {n}", nine + offset, minutes),
            idempotency_key=f"k-{n}",
            send_invitations=True,
        )
        for n, (offset, minutes) in enumerate(
            [
                (timedelta(hours=0), 60),  # 9:00-10:00
                (timedelta(minutes=30), 60),  # 9:30-10:30, overlaps: merged
                (timedelta(hours=3), 30),  # 12:00-12:30, cancelled below
                (timedelta(hours=5), 30),  # 14:00-14:30
                (timedelta(hours=-2), 180),  # 7:00-10:00, starts before the window: clipped
            ]
        )
    ]
    await graph.client.cancel_event(created[2].provider_event_id, notify=True)
    # Alice's own "free" block (showAs free) is not busy.
    await graph.control(
        "POST",
        f"/_sandbox/users/{ALICE}/events",
        json={
            "subject": "Focus (free)",
            "showAs": "free",
            "start": {
                "dateTime": (nine + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC",
            },
            "end": {
                "dateTime": (nine + timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC",
            },
        },
    )

    window_start, window_end = nine - timedelta(hours=1), nine + timedelta(hours=8)
    busy = await graph.client.free_busy(window_start, window_end)

    assert busy == [
        (window_start, nine + timedelta(minutes=90)),
        (nine + timedelta(hours=5), nine + timedelta(hours=5, minutes=30)),
    ]
    assert all(start.tzinfo is UTC for pair in busy for start in pair)


async def test_free_busy_reads_the_owner_once(graph: Graph) -> None:
    await graph.client.free_busy(NOW, NOW + timedelta(days=1))
    await graph.client.free_busy(NOW, NOW + timedelta(days=2))
    assert [path for _, path in graph.requests].count("/v1.0/me") == 1


# -- all-day --------------------------------------------------------------------------------------


async def test_all_day_event_round_trips(graph: Graph) -> None:
    first_day = (NOW + timedelta(days=3)).replace(hour=0)
    two_days = draft(
        "Offsite",
        first_day,
        2 * 24 * 60,
        attendees=(),
        time_zone="America/New_York",
        all_day=True,
    )
    created = await graph.client.create_event(
        two_days, idempotency_key="k-1", send_invitations=True
    )

    assert (created.all_day, created.starts_at, created.ends_at, created.time_zone) == (
        True,
        first_day,
        first_day + timedelta(days=2),
        "America/New_York",
    )
    [stored] = await graph.events()
    assert stored["start"] == {
        "dateTime": first_day.strftime("%Y-%m-%dT00:00:00.0000000"),
        "timeZone": "Eastern Standard Time",
    }
    page = await graph.client.fetch_changes(None, window_start=NOW)
    [seen] = page.events
    assert (seen.all_day, seen.starts_at, seen.ends_at) == (
        True,
        first_day,
        first_day + timedelta(days=2),
    )
    # getSchedule reports the event's own midnights (New York's), not Chronik's UTC ones.
    new_york = ZoneInfo("America/New_York")
    midnights = [
        datetime.combine((first_day + timedelta(days=n)).date(), time(), new_york).astimezone(UTC)
        for n in (0, 2)
    ]
    busy = await graph.client.free_busy(first_day, first_day + timedelta(days=5))
    assert busy == [(midnights[0], midnights[1])]
