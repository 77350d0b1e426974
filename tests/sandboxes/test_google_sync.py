"""events.list paging and incremental sync on the Google sandbox: page tokens, sync tokens,
cancelled/deleted events in incremental results, 410, parameter rules."""

from __future__ import annotations

from typing import Any

from tests.sandboxes.conftest import ALICE, GoogleHarness

EVENTS = "/calendar/v3/calendars/primary/events"


def meeting(summary: str, day: int, **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": {"dateTime": f"2026-12-{day:02d}T10:00:00Z"},
        "end": {"dateTime": f"2026-12-{day:02d}T11:00:00Z"},
        **extra,
    }


async def full_sync(google: GoogleHarness, **params: str) -> tuple[list[dict[str, Any]], str]:
    """Page through events.list; returns all items and the final nextSyncToken."""
    items: list[dict[str, Any]] = []
    page_token = None
    while True:
        query = dict(params)
        if page_token:
            query["pageToken"] = page_token
        status, body, _ = await google.call("GET", EVENTS, params=query)
        assert status == 200, body
        items.extend(body["items"])
        page_token = body.get("nextPageToken")
        if page_token is None:
            return items, body["nextSyncToken"]
        assert "nextSyncToken" not in body  # only the last page carries it


async def test_paging_returns_every_event_once(google: GoogleHarness) -> None:
    google.sandbox.bulk_load(ALICE, 1234)
    items, token = await full_sync(google, maxResults="500")
    assert len(items) == 1234 and len({item["id"] for item in items}) == 1234
    assert token


async def test_default_page_size_is_250_and_max_is_2500(google: GoogleHarness) -> None:
    google.sandbox.bulk_load(ALICE, 2600)
    _, body, _ = await google.call("GET", EVENTS)
    assert len(body["items"]) == 250
    _, body, _ = await google.call("GET", EVENTS, params={"maxResults": "5000"})
    assert len(body["items"]) == 2500 and "nextPageToken" in body
    status, _, _ = await google.call("GET", EVENTS, params={"maxResults": "0"})
    assert status == 400


async def test_list_envelope_fields(google: GoogleHarness) -> None:
    _, body, _ = await google.call("GET", EVENTS)
    assert body["kind"] == "calendar#events"
    assert body["summary"] == ALICE and body["timeZone"] == "UTC"
    assert body["accessRole"] == "owner" and body["defaultReminders"]
    assert body["etag"] and body["updated"].endswith("Z") and body["items"] == []


async def test_incremental_sync_returns_exactly_the_changes(google: GoogleHarness) -> None:
    ids = []
    for day in range(1, 6):
        _, event, _ = await google.call("POST", EVENTS, json=meeting(f"m{day}", day))
        ids.append(event["id"])
    items, token = await full_sync(google)
    assert len(items) == 5

    await google.call("PATCH", f"{EVENTS}/{ids[1]}", json={"summary": "changed"})
    await google.call("DELETE", f"{EVENTS}/{ids[3]}")
    _, added, _ = await google.call("POST", EVENTS, json=meeting("new", 9))
    google.sandbox.ui_cancel_event(ALICE, ids[4])

    changes, token2 = await full_sync(google, syncToken=token)
    by_id = {item["id"]: item for item in changes}
    assert list(by_id) == [ids[1], ids[3], added["id"], ids[4]]
    assert by_id[ids[1]]["summary"] == "changed"
    assert by_id[ids[3]]["status"] == "cancelled"
    assert by_id[ids[4]]["status"] == "cancelled"
    # Deleted: incremental sync without showDeleted returns the sparse form only.
    assert set(by_id[ids[3]]) == {"kind", "etag", "id", "status"}
    # An organizer's cancellation is not a deletion: details stay.
    assert by_id[ids[4]]["summary"] == "m5"

    nothing, _ = await full_sync(google, syncToken=token2)
    assert nothing == []
    # The old token still works and still returns the same changes.
    again, _ = await full_sync(google, syncToken=token)
    assert [item["id"] for item in again] == list(by_id)


async def test_incremental_with_show_deleted_keeps_deleted_details(google: GoogleHarness) -> None:
    _, event, _ = await google.call("POST", EVENTS, json=meeting("doomed", 1))
    _, token = await full_sync(google)
    _, detailed_token = await full_sync(google, showDeleted="true")
    await google.call("DELETE", f"{EVENTS}/{event['id']}")
    sparse, _ = await full_sync(google, syncToken=token)
    detailed, _ = await full_sync(google, syncToken=detailed_token, showDeleted="true")
    assert sparse[0]["status"] == detailed[0]["status"] == "cancelled"
    assert "summary" not in sparse[0] and detailed[0]["summary"] == "doomed"


async def test_full_list_hides_deleted_unless_show_deleted(google: GoogleHarness) -> None:
    _, keep, _ = await google.call("POST", EVENTS, json=meeting("keep", 1))
    _, gone, _ = await google.call("POST", EVENTS, json=meeting("gone", 2))
    await google.call("DELETE", f"{EVENTS}/{gone['id']}")
    items, _ = await full_sync(google)
    assert [item["id"] for item in items] == [keep["id"]]
    items, _ = await full_sync(google, showDeleted="true")
    assert {item["id"] for item in items} == {keep["id"], gone["id"]}


async def test_changes_while_paging_arrive_in_next_incremental(google: GoogleHarness) -> None:
    google.sandbox.bulk_load(ALICE, 30)
    _, first, _ = await google.call("GET", EVENTS, params={"maxResults": "10"})
    _, late, _ = await google.call("POST", EVENTS, json=meeting("late", 3))
    rest, token = await full_sync(google, maxResults="10", pageToken=first["nextPageToken"])
    assert len(first["items"]) + len(rest) == 30
    changes, _ = await full_sync(google, syncToken=token)
    assert [item["id"] for item in changes] == [late["id"]]


async def test_invalid_or_expired_sync_token_is_410(google: GoogleHarness) -> None:
    status, body, _ = await google.call("GET", EVENTS, params={"syncToken": "forged"})
    assert status == 410
    assert body == {
        "error": {
            "errors": [
                {
                    "domain": "global",
                    "reason": "fullSyncRequired",
                    "message": "Sync token is no longer valid, a full sync is required.",
                }
            ],
            "code": 410,
            "message": "Sync token is no longer valid, a full sync is required.",
        }
    }
    _, token = await full_sync(google)
    await google.control("POST", f"/_sandbox/calendars/{ALICE}/expire-sync-tokens")
    status, _, _ = await google.call("GET", EVENTS, params={"syncToken": token})
    assert status == 410
    _, fresh = await full_sync(google)
    assert (await google.call("GET", EVENTS, params={"syncToken": fresh}))[0] == 200


async def test_tampered_token_and_tokens_from_before_a_reset_are_410(
    google: GoogleHarness,
) -> None:
    _, token = await full_sync(google)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert (await google.call("GET", EVENTS, params={"syncToken": tampered}))[0] == 410
    google.sandbox.reset()
    google.sandbox.create_user(ALICE)
    fresh_token = google.sandbox.oauth.issue_access_token(ALICE)
    status, _, _ = await google.call("GET", EVENTS, params={"syncToken": token}, token=fresh_token)
    assert status == 410


async def test_sync_token_of_another_calendar_is_410(google: GoogleHarness) -> None:
    other = google.sandbox.add_calendar(ALICE, "Other")
    _, body, _ = await google.call("GET", f"/calendar/v3/calendars/{other.id}/events")
    status, _, _ = await google.call("GET", EVENTS, params={"syncToken": body["nextSyncToken"]})
    assert status == 410


async def test_sync_token_refuses_incompatible_parameters(google: GoogleHarness) -> None:
    _, token = await full_sync(google)
    for extra in (
        {"timeMin": "2026-01-01T00:00:00Z"},
        {"orderBy": "updated"},
        {"q": "x"},
        {"updatedMin": "2026-01-01T00:00:00Z"},
        {"timeMax": "2026-01-01T00:00:00Z"},
    ):
        status, body, _ = await google.call("GET", EVENTS, params={"syncToken": token, **extra})
        assert status == 400, extra
        assert body["error"]["code"] == 400


async def test_order_by_start_time_requires_single_events(google: GoogleHarness) -> None:
    status, body, _ = await google.call("GET", EVENTS, params={"orderBy": "startTime"})
    assert status == 400
    assert body["error"]["message"] == (
        "The requested ordering is not available for the particular query."
    )


async def test_time_window_and_ordering(google: GoogleHarness) -> None:
    for summary, day in (("late", 20), ("early", 2), ("middle", 10)):
        await google.call("POST", EVENTS, json=meeting(summary, day))
    items, _ = await full_sync(
        google,
        singleEvents="true",
        orderBy="startTime",
        timeMin="2026-12-01T00:00:00Z",
        timeMax="2026-12-15T00:00:00Z",
    )
    assert [item["summary"] for item in items] == ["early", "middle"]
    status, body, _ = await google.call(
        "GET", EVENTS, params={"timeMin": "2026-12-15T00:00:00Z", "timeMax": "2026-12-01T00:00:00Z"}
    )
    assert status == 400 and body["error"]["errors"][0]["reason"] == "timeRangeEmpty"
    status, _, _ = await google.call("GET", EVENTS, params={"timeMin": "yesterday"})
    assert status == 400


async def test_updated_min_includes_later_changes_and_deletions(google: GoogleHarness) -> None:
    _, old, _ = await google.call("POST", EVENTS, json=meeting("old", 1))
    google.clock.advance(60)
    _, new, _ = await google.call("POST", EVENTS, json=meeting("new", 2))
    await google.call("DELETE", f"{EVENTS}/{old['id']}")
    items, _ = await full_sync(google, updatedMin=new["updated"])
    assert {item["id"]: item["status"] for item in items} == {
        new["id"]: "confirmed",
        old["id"]: "cancelled",
    }


async def test_q_searches_text(google: GoogleHarness) -> None:
    await google.call("POST", EVENTS, json=meeting("Budget review", 1))
    await google.call("POST", EVENTS, json=meeting("Lunch", 2))
    items, _ = await full_sync(google, q="budget")
    assert [item["summary"] for item in items] == ["Budget review"]


async def test_unknown_page_token_is_400(google: GoogleHarness) -> None:
    status, _, _ = await google.call("GET", EVENTS, params={"pageToken": "nope"})
    assert status == 400


async def test_ical_uid_filter_and_order_by_updated(google: GoogleHarness) -> None:
    _, first, _ = await google.call("POST", EVENTS, json=meeting("first", 1))
    _, second, _ = await google.call("POST", EVENTS, json=meeting("second", 2))
    await google.call("PATCH", f"{EVENTS}/{first['id']}", json={"summary": "first again"})
    items, _ = await full_sync(google, orderBy="updated")
    assert [item["id"] for item in items] == [second["id"], first["id"]]
    items, _ = await full_sync(google, iCalUID=second["iCalUID"])
    assert [item["id"] for item in items] == [second["id"]]


async def test_sync_token_refuses_show_deleted_false(google: GoogleHarness) -> None:
    """events.list: with a syncToken "it is not allowed to set showDeleted to False"."""
    _, token = await full_sync(google)
    status, body, _ = await google.call(
        "GET", EVENTS, params={"syncToken": token, "showDeleted": "false"}
    )
    assert status == 400
    assert body["error"]["errors"][0]["location"] == "showDeleted"
    _, detailed_token = await full_sync(google, showDeleted="true")
    assert (
        await google.call(
            "GET", EVENTS, params={"syncToken": detailed_token, "showDeleted": "true"}
        )
    )[0] == 200


async def test_sync_token_keeps_the_single_events_of_its_full_sync(
    google: GoogleHarness,
) -> None:
    """The sync guide: incremental requests repeat the full sync's parameters. A token from a
    listing of series (singleEvents=false) used to list occurrences, or the other way round,
    would name events a client never stored: refused."""
    _, series_token = await full_sync(google)
    _, single_token = await full_sync(google, singleEvents="true")
    for token, single in ((series_token, "true"), (single_token, "false")):
        status, body, _ = await google.call(
            "GET", EVENTS, params={"syncToken": token, "singleEvents": single}
        )
        assert status == 400
        assert body["error"]["errors"][0]["location"] == "syncToken"
    assert (await google.call("GET", EVENTS, params={"syncToken": series_token}))[0] == 200
    assert (
        await google.call("GET", EVENTS, params={"syncToken": single_token, "singleEvents": "true"})
    )[0] == 200


async def test_sync_token_keeps_the_show_deleted_of_its_full_sync(google: GoogleHarness) -> None:
    """A token remembers its listing's showDeleted: a listing without it holds nothing of what
    was deleted before it, so its token cannot start an incremental listing with it (and the
    other way round); the answer is 400 naming the syncToken, as for singleEvents."""
    _, event, _ = await google.call("POST", EVENTS, json=meeting("doomed", 1))
    await google.call("DELETE", f"{EVENTS}/{event['id']}")
    _, plain_token = await full_sync(google)
    _, deleted_token = await full_sync(google, showDeleted="true")
    for token, extra in ((plain_token, {"showDeleted": "true"}), (deleted_token, {})):
        status, body, _ = await google.call("GET", EVENTS, params={"syncToken": token, **extra})
        assert status == 400, extra
        assert body["error"]["errors"][0] == {
            "domain": "global",
            "reason": "invalid",
            "message": "Sync token was issued for a listing with another showDeleted value.",
            "location": "syncToken",
            "locationType": "parameter",
        }
    assert (await google.call("GET", EVENTS, params={"syncToken": plain_token}))[0] == 200
    params = {"syncToken": deleted_token, "showDeleted": "true"}
    assert (await google.call("GET", EVENTS, params=params))[0] == 200


async def test_sync_token_keeps_the_event_types_of_its_full_sync(google: GoogleHarness) -> None:
    """A listing filtered by eventTypes hands out a token for those types: an incremental
    request must name the same types, and it reports changes of those types only."""
    _, token = await full_sync(google, eventTypes="default")
    _, typed, _ = await google.call("POST", EVENTS, json=meeting("typed", 2))
    google.sandbox.ui_create_event(
        ALICE,
        {
            "eventType": "focusTime",
            "start": {"dateTime": "2026-12-03T10:00:00Z"},
            "end": {"dateTime": "2026-12-03T11:00:00Z"},
            "focusTimeProperties": {"chatStatus": "doNotDisturb"},
        },
    )
    for params in ({"syncToken": token}, {"syncToken": token, "eventTypes": "focusTime"}):
        status, body, _ = await google.call("GET", EVENTS, params=params)
        assert status == 400, params
        assert body["error"]["errors"][0]["location"] == "syncToken"
    changes, _ = await full_sync(google, syncToken=token, eventTypes="default")
    assert [item["id"] for item in changes] == [typed["id"]]
