"""The Google sandbox's control API (/_sandbox/...): users, calendars, UI-side changes,
invitations from other people, responses, private events, bulk load, reset, determinism."""

from __future__ import annotations

from typing import Any

from sandboxes.google.app import GOOGLE_SANDBOX, create_google_sandbox
from tests.sandboxes.conftest import ALICE, GoogleHarness

EVENTS = "/calendar/v3/calendars/primary/events"
MEETING: dict[str, Any] = {
    "summary": "Demo",
    "start": {"dateTime": "2026-12-01T10:00:00Z"},
    "end": {"dateTime": "2026-12-01T11:00:00Z"},
}


async def test_users_are_created_idempotently_with_primary_calendar(
    google: GoogleHarness,
) -> None:
    created = await google.control(
        "POST", "/_sandbox/users", json={"email": "Bob@Example.com", "displayName": "Bob B"}
    )
    again = await google.control("POST", "/_sandbox/users", json={"email": "bob@example.com"})
    assert created == again
    assert created["calendars"][0]["id"] == "bob@example.com"
    assert created["calendars"][0]["primary"] is True
    users = await google.control("GET", "/_sandbox/users")
    assert [u["email"] for u in users["users"]] == [ALICE, "bob@example.com"]


async def test_minted_token_and_secondary_calendar(google: GoogleHarness) -> None:
    await google.control("POST", "/_sandbox/users", json={"email": "carol@example.com"})
    cal = await google.control(
        "POST", "/_sandbox/users/carol@example.com/calendars", json={"summary": "Team"}
    )
    assert cal["id"].endswith("@group.calendar.google.com") and cal["primary"] is False
    minted = await google.control("POST", "/_sandbox/users/carol@example.com/token", json={})
    status, listing, _ = await google.call(
        "GET", "/calendar/v3/users/me/calendarList", token=minted["access_token"]
    )
    assert status == 200 and len(listing["items"]) == 2


async def test_invitation_from_a_contact(google: GoogleHarness) -> None:
    event = await google.control(
        "POST",
        f"/_sandbox/calendars/{ALICE}/events",
        json={
            **MEETING,
            "organizer": {"email": "dana@customer.com", "displayName": "Dana"},
            "attendees": [{"email": "dana@customer.com", "responseStatus": "accepted"}],
        },
    )
    _, fetched, _ = await google.call("GET", f"{EVENTS}/{event['id']}")
    assert fetched["organizer"]["email"] == "dana@customer.com"
    assert "self" not in fetched["organizer"]
    me = [a for a in fetched["attendees"] if a["email"] == ALICE]
    assert me == [
        {
            "email": ALICE,
            "displayName": "Alice Example",
            "self": True,
            "responseStatus": "needsAction",
        }
    ]
    assert fetched["creator"]["email"] == "dana@customer.com"


async def test_ui_update_bumps_sequence_and_is_seen_by_sync(google: GoogleHarness) -> None:
    _, event, _ = await google.call("POST", EVENTS, json=MEETING)
    _, body, _ = await google.call("GET", EVENTS)
    updated = await google.control(
        "PATCH", f"/_sandbox/calendars/{ALICE}/events/{event['id']}", json={"summary": "Demo v2"}
    )
    assert updated["sequence"] == 1 and updated["etag"] != event["etag"]
    _, changes, _ = await google.call("GET", EVENTS, params={"syncToken": body["nextSyncToken"]})
    assert [i["summary"] for i in changes["items"]] == ["Demo v2"]


async def test_private_response_cancel_and_delete(google: GoogleHarness) -> None:
    _, event, _ = await google.call(
        "POST", EVENTS, json={**MEETING, "attendees": [{"email": "erin@customer.com"}]}
    )
    base = f"/_sandbox/calendars/{ALICE}/events/{event['id']}"
    private = await google.control("POST", f"{base}/private")
    assert private["visibility"] == "private"
    answered = await google.control(
        "POST",
        f"{base}/response",
        json={"email": "erin@customer.com", "responseStatus": "declined"},
    )
    assert answered["attendees"][0]["responseStatus"] == "declined"
    cancelled = await google.control("POST", f"{base}/cancel")
    assert cancelled["status"] == "cancelled" and cancelled["summary"] == "Demo"
    await google.control("DELETE", base)
    _, tomb, _ = await google.call("GET", f"{EVENTS}/{event['id']}")
    # get always returns deleted events, details included (Google keeps them for undelete)
    assert tomb["status"] == "cancelled" and tomb["summary"] == "Demo"


async def test_change_one_occurrence_through_control(google: GoogleHarness) -> None:
    _, master, _ = await google.call(
        "POST", EVENTS, json={**MEETING, "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"]}
    )
    changed = await google.control(
        "POST",
        f"/_sandbox/calendars/{ALICE}/events/{master['id']}/occurrence",
        json={"originalStartTime": "2026-12-02T10:00:00Z", "changes": {"summary": "Moved"}},
    )
    assert changed["id"] == f"{master['id']}_20261202T100000Z"
    assert changed["summary"] == "Moved"


async def test_unknown_things_are_404_in_control(google: GoogleHarness) -> None:
    async with google.http.post(
        google.url + "/_sandbox/calendars/nobody@x.com/events", json=MEETING
    ) as resp:
        assert resp.status == 404
    async with google.http.post(google.url + "/_sandbox/users", json={"email": "nope"}) as resp:
        assert resp.status == 400


async def test_bulk_load_and_reset(google: GoogleHarness) -> None:
    answer = await google.control(
        "POST",
        f"/_sandbox/calendars/{ALICE}/events:bulk",
        json={"count": 300, "start": "2026-01-01T08:00:00Z"},
    )
    assert answer == {"created": 300}
    _, body, _ = await google.call("GET", EVENTS, params={"maxResults": "2500"})
    assert len(body["items"]) == 300
    assert body["items"][0]["start"] == {"dateTime": "2026-01-01T08:00:00Z", "timeZone": "UTC"}
    await google.control("POST", "/_sandbox/reset")
    assert (await google.control("GET", "/_sandbox/users"))["users"] == []
    status, _, _ = await google.call("GET", EVENTS)
    assert status == 401  # tokens are gone too


def test_same_seed_same_ids_and_tokens() -> None:
    def run() -> tuple[str, str, str]:
        sandbox = create_google_sandbox(seed=11, clock=lambda: 1_800_000_000.0)[GOOGLE_SANDBOX]
        sandbox.create_user(ALICE)
        event = sandbox.ui_create_event(ALICE, MEETING)
        token = sandbox.oauth.issue_access_token(ALICE)
        return event.id, event.data["etag"], token

    assert run() == run()


async def test_demo_calendar_has_the_kinds_of_meetings_chronik_syncs(
    google: GoogleHarness,
) -> None:
    created = await google.control("POST", f"/_sandbox/users/{ALICE}/demo")
    assert len(created["created"]) == 7
    _, body, _ = await google.call("GET", EVENTS, params={"showDeleted": "true"})
    items = {item["summary"]: item for item in body["items"]}
    assert items["Team sync"]["recurrence"]
    assert items["Lunch with a friend"]["visibility"] == "private"
    invited = items["Quarterly business review - Globex"]
    assert invited["organizer"]["email"] == "hank.scorpio@globex.example"
    assert items["Pricing follow-up - Umbrella"]["status"] == "cancelled"
    assert "date" in items["SaaS Connect conference"]["start"]
    _, expanded, _ = await google.call("GET", EVENTS, params={"singleEvents": "true"})
    assert sum(1 for i in expanded["items"] if i["summary"] == "Team sync") == 12


async def test_consent_page_can_seed_a_new_account(google: GoogleHarness) -> None:
    from tests.sandboxes.conftest import CLIENT_ID, REDIRECT_URI

    form = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "email https://www.googleapis.com/auth/calendar",
        "decision": "allow",
        "email": "demo.user@startup.example",
        "demo": "1",
    }
    async with google.http.post(
        google.url + "/o/oauth2/v2/auth", data=form, allow_redirects=False
    ) as resp:
        assert resp.status == 302
    calendar = google.sandbox.calendars["demo.user@startup.example"]
    assert len(calendar.events) == 7
