"""The bulk loader's realistic mix (benchmarks): the listing holds exactly `count` items, and
they are the promised kinds — guests internal/contact/unknown, series with a moved and a
cancelled occurrence, private events, invitations — the same for the same seed."""

from __future__ import annotations

from typing import Any

from sync.model import EventKind, EventStatus
from sync.providers.google.parse import parse_event
from tests.sandboxes.conftest import ALICE, GoogleHarness

EVENTS = "/calendar/v3/calendars/primary/events"


async def _listing(google: GoogleHarness) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params = {"maxResults": "2500", "showDeleted": "true"}
    while True:
        status, body, _ = await google.call("GET", EVENTS, params=params)
        assert status == 200
        items += body["items"]
        if "nextPageToken" not in body:
            return items
        params = {**params, "pageToken": body["nextPageToken"]}


async def test_mixed_bulk_load_makes_a_realistic_calendar(google: GoogleHarness) -> None:
    answer = await google.control(
        "POST", f"/_sandbox/calendars/{ALICE}/events:bulk", json={"count": 1000, "mix": {"seed": 3}}
    )
    assert answer["created"] == 1000
    mix = answer["mix"]
    assert mix["events"] == 1000
    assert mix["series"] > 0 and mix["movedOccurrences"] > 0 and mix["private"] > 0
    assert mix["invitations"] > 0 and mix["withoutContactGuest"] > 0
    assert all(n > 0 for n in mix["guests"].values())

    events = [parse_event(item, "UTC") for item in await _listing(google)]
    assert len(events) == 1000
    kinds = {k: sum(e.kind is k for e in events) for k in EventKind}
    assert kinds[EventKind.SERIES] == mix["series"]
    exceptions = [e for e in events if e.kind is EventKind.EXCEPTION]
    assert len(exceptions) == mix["movedOccurrences"] + mix["cancelledOccurrences"]
    cancelled = [e for e in exceptions if e.status is EventStatus.CANCELLED]
    assert len(cancelled) == mix["cancelledOccurrences"]
    moved = [e for e in exceptions if e.status is not EventStatus.CANCELLED]
    assert all(e.starts_at != e.original_start and e.series_id for e in moved)
    assert sum(e.private for e in events if e.kind is not EventKind.EXCEPTION) == mix["private"]
    invited = [e for e in events if e.organizer_email and e.organizer_email != ALICE]
    assert len(invited) >= mix["invitations"]
    domains = {a.email.rpartition("@")[2] for e in events for a in e.attendees}
    assert "example.com" in domains  # contacts (and Alice) …
    assert any(d.endswith(".example.org") for d in domains)  # … and strangers


async def test_same_seed_same_calendar_plain_load_unchanged(google: GoogleHarness) -> None:
    first = await google.control(
        "POST", f"/_sandbox/calendars/{ALICE}/events:bulk", json={"count": 200, "mix": {"seed": 5}}
    )
    await google.control("POST", "/_sandbox/reset")
    google.sandbox.create_user(ALICE, "Alice Example")
    google.token = google.sandbox.oauth.issue_access_token(ALICE, "chronik", "calendar")
    second = await google.control(
        "POST", f"/_sandbox/calendars/{ALICE}/events:bulk", json={"count": 200, "mix": {"seed": 5}}
    )
    assert first == second
    plain = await google.control(
        "POST", f"/_sandbox/calendars/{ALICE}/events:bulk", json={"count": 10}
    )
    assert plain == {"created": 10}
