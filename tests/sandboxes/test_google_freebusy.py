"""freeBusy.query on the Google sandbox: busy blocks, free cancelled/transparent events,
recurring instances, merging, clipping, unknown calendars."""

from __future__ import annotations

from typing import Any

from tests.sandboxes.conftest import ALICE, GoogleHarness

EVENTS = "/calendar/v3/calendars/primary/events"


def block(start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"summary": "b", "start": {"dateTime": start}, "end": {"dateTime": end}, **extra}


async def query(
    google: GoogleHarness,
    *ids: str,
    lo: str = "2026-12-01T00:00:00Z",
    hi: str = "2026-12-02T00:00:00Z",
) -> dict[str, Any]:
    status, body, _ = await google.call(
        "POST",
        "/calendar/v3/freeBusy",
        json={"timeMin": lo, "timeMax": hi, "items": [{"id": i} for i in ids]},
    )
    assert status == 200, body
    assert body["kind"] == "calendar#freeBusy"
    return body


async def test_busy_blocks_merge_and_skip_free_events(google: GoogleHarness) -> None:
    await google.call("POST", EVENTS, json=block("2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"))
    await google.call("POST", EVENTS, json=block("2026-12-01T09:30:00Z", "2026-12-01T11:00:00Z"))
    await google.call(
        "POST",
        EVENTS,
        json=block("2026-12-01T13:00:00Z", "2026-12-01T14:00:00Z", transparency="transparent"),
    )
    _, gone, _ = await google.call(
        "POST", EVENTS, json=block("2026-12-01T15:00:00Z", "2026-12-01T16:00:00Z")
    )
    await google.call("DELETE", f"{EVENTS}/{gone['id']}")
    google.sandbox.ui_create_event(
        ALICE,
        block(  # an invitation Alice declined
            "2026-12-01T17:00:00Z",
            "2026-12-01T18:00:00Z",
            organizer={"email": "x@other.com"},
            attendees=[{"email": ALICE, "responseStatus": "declined"}],
        ),
    )
    body = await query(google, "primary")
    assert body["calendars"]["primary"]["busy"] == [
        {"start": "2026-12-01T09:00:00Z", "end": "2026-12-01T11:00:00Z"}
    ]
    assert body["timeMin"] == "2026-12-01T00:00:00Z"


async def test_clipping_recurring_and_other_users(google: GoogleHarness) -> None:
    google.sandbox.create_user("bob@example.com")
    google.sandbox.ui_create_event(
        "bob@example.com", block("2026-11-30T23:00:00Z", "2026-12-01T01:00:00Z")
    )
    await google.call(
        "POST",
        EVENTS,
        json=block(
            "2026-11-28T08:00:00Z", "2026-11-28T08:30:00Z", recurrence=["RRULE:FREQ=DAILY;COUNT=10"]
        ),
    )
    body = await query(google, ALICE, "bob@example.com", "ghost@example.com")
    assert body["calendars"][ALICE]["busy"] == [
        {"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T08:30:00Z"}
    ]
    assert body["calendars"]["bob@example.com"]["busy"] == [
        {"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T01:00:00Z"}
    ]
    assert body["calendars"]["ghost@example.com"]["errors"][0]["reason"] == "notFound"


async def test_empty_range_is_400(google: GoogleHarness) -> None:
    status, body, _ = await google.call(
        "POST",
        "/calendar/v3/freeBusy",
        json={"timeMin": "2026-12-02T00:00:00Z", "timeMax": "2026-12-01T00:00:00Z", "items": []},
    )
    assert status == 400 and body["error"]["errors"][0]["reason"] == "timeRangeEmpty"
