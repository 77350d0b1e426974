"""Meetings between two sandbox users: the organizer's event appears on the guest's calendar
(same id and iCalUID), follows the organizer's changes, and carries the guest's response."""

from __future__ import annotations

from typing import Any

from tests.sandboxes.conftest import ALICE, GoogleHarness

BOB = "bob@example.com"
EVENTS = "/calendar/v3/calendars/primary/events"


def meeting(**extra: Any) -> dict[str, Any]:
    return {
        "summary": "Pipeline review",
        "start": {"dateTime": "2026-12-01T10:00:00Z"},
        "end": {"dateTime": "2026-12-01T11:00:00Z"},
        "attendees": [{"email": BOB}, {"email": "client@customer.com"}],
        **extra,
    }


async def bob_token(google: GoogleHarness) -> str:
    google.sandbox.create_user(BOB, "Bob Builder")
    return google.sandbox.oauth.issue_access_token(BOB)


async def test_guest_gets_a_copy_with_self_flags(google: GoogleHarness) -> None:
    bob = await bob_token(google)
    _, event, _ = await google.call("POST", EVENTS, json=meeting())
    status, copy, _ = await google.call("GET", f"{EVENTS}/{event['id']}", token=bob)
    assert status == 200
    assert copy["iCalUID"] == event["iCalUID"]
    assert copy["organizer"] == {"email": ALICE, "displayName": "Alice Example"}
    me = [a for a in copy["attendees"] if a.get("self")]
    assert [a["email"] for a in me] == [BOB]
    assert copy["htmlLink"] != event["htmlLink"]


async def test_organizer_changes_and_deletion_reach_the_guest(google: GoogleHarness) -> None:
    bob = await bob_token(google)
    _, event, _ = await google.call("POST", EVENTS, json=meeting())
    _, listing, _ = await google.call("GET", EVENTS, token=bob)
    token = listing["nextSyncToken"]
    await google.call("PATCH", f"{EVENTS}/{event['id']}", json={"location": "Room 7"})
    _, changes, _ = await google.call("GET", EVENTS, params={"syncToken": token}, token=bob)
    assert [(i["id"], i.get("location")) for i in changes["items"]] == [(event["id"], "Room 7")]
    await google.call("DELETE", f"{EVENTS}/{event['id']}")
    _, gone, _ = await google.call(
        "GET", EVENTS, params={"syncToken": changes["nextSyncToken"]}, token=bob
    )
    assert [(i["id"], i["status"]) for i in gone["items"]] == [(event["id"], "cancelled")]


async def test_removing_the_guest_cancels_their_copy(google: GoogleHarness) -> None:
    bob = await bob_token(google)
    _, event, _ = await google.call("POST", EVENTS, json=meeting())
    await google.call(
        "PATCH", f"{EVENTS}/{event['id']}", json={"attendees": [{"email": "client@customer.com"}]}
    )
    _, listing, _ = await google.call("GET", EVENTS, token=bob)
    assert listing["items"] == []


async def test_guest_response_flows_to_organizer_and_delete_declines(
    google: GoogleHarness,
) -> None:
    bob = await bob_token(google)
    _, event, _ = await google.call("POST", EVENTS, json=meeting())
    google.sandbox.set_response(BOB, event["id"], BOB, "accepted")

    def bob_status(resource: dict[str, Any]) -> str:
        return next(a["responseStatus"] for a in resource["attendees"] if a["email"] == BOB)

    _, mine, _ = await google.call("GET", f"{EVENTS}/{event['id']}")
    _, theirs, _ = await google.call("GET", f"{EVENTS}/{event['id']}", token=bob)
    assert bob_status(mine) == bob_status(theirs) == "accepted"
    await google.call("DELETE", f"{EVENTS}/{event['id']}", token=bob)
    _, mine, _ = await google.call("GET", f"{EVENTS}/{event['id']}")
    assert bob_status(mine) == "declined"
    # Bob's deletion sticks even when Alice edits again.
    await google.call("PATCH", f"{EVENTS}/{event['id']}", json={"summary": "v2"})
    _, listing, _ = await google.call("GET", EVENTS, token=bob)
    assert listing["items"] == []


async def test_guest_calendar_is_pushed(google: GoogleHarness, receiver: Any) -> None:
    bob = await bob_token(google)
    await google.call(
        "POST",
        f"{EVENTS}/watch",
        token=bob,
        json={"id": "bob-chan", "type": "web_hook", "address": receiver.url},
    )
    await google.call("POST", EVENTS, json=meeting())
    await google.sandbox.push.drain()
    states = [r["headers"]["X-Goog-Resource-State"] for r in receiver.requests]
    assert states == ["sync", "exists"]
