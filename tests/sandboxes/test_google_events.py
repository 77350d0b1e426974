"""Events CRUD on the Google sandbox: insert (own ids, 409), get, patch, update, delete, If-Match,
sendUpdates, error bodies, calendars."""

from __future__ import annotations

from typing import Any

from tests.sandboxes.conftest import ALICE, GoogleHarness

EVENTS = "/calendar/v3/calendars/primary/events"


def meeting(**extra: Any) -> dict[str, Any]:
    return {
        "summary": "Quarterly review",
        "start": {"dateTime": "2026-12-01T10:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-12-01T11:00:00+01:00", "timeZone": "Europe/Berlin"},
        **extra,
    }


async def test_insert_returns_full_google_resource(google: GoogleHarness) -> None:
    status, event, _ = await google.call(
        "POST",
        EVENTS,
        json=meeting(
            attendees=[{"email": "Bob@Contoso.com", "displayName": "Bob"}, {"email": ALICE}],
            description="Numbers",
            location="Berlin",
        ),
    )
    assert status == 200
    assert event["kind"] == "calendar#event"
    assert event["status"] == "confirmed"
    assert event["etag"].startswith('"') and event["etag"].endswith('"')
    assert event["created"].endswith("Z") and len(event["created"]) == 24  # ms precision
    assert event["organizer"] == {"email": ALICE, "displayName": "Alice Example", "self": True}
    assert event["start"] == {"dateTime": "2026-12-01T10:00:00+01:00", "timeZone": "Europe/Berlin"}
    assert event["iCalUID"] == f"{event['id']}@google.com"
    assert event["sequence"] == 0
    assert "visibility" not in event  # default visibility is omitted, like Google
    bob, alice = event["attendees"]
    assert bob == {
        "email": "bob@contoso.com",
        "displayName": "Bob",
        "responseStatus": "needsAction",
    }
    assert alice["self"] is True and alice["organizer"] is True
    assert alice["responseStatus"] == "accepted"
    status, fetched, _ = await google.call("GET", f"{EVENTS}/{event['id']}")
    assert status == 200 and fetched == event


async def test_client_chosen_id_then_409_on_retry(google: GoogleHarness) -> None:
    body = meeting(id="chronik0123456789abcdefuv")
    status, first, _ = await google.call("POST", EVENTS, json=body)
    assert status == 200 and first["id"] == "chronik0123456789abcdefuv"
    status, again, _ = await google.call("POST", EVENTS, json=body)
    assert status == 409
    assert again["error"]["errors"][0]["reason"] == "duplicate"
    assert again["error"]["code"] == 409


async def test_invalid_client_ids_are_400(google: GoogleHarness) -> None:
    for bad in ("abc", "UPPERCASE123", "has-dash-123", "wxyz12345"):
        status, body, _ = await google.call("POST", EVENTS, json=meeting(id=bad))
        assert status == 400, bad
        assert body["error"]["errors"][0]["reason"] == "invalid"


async def test_invalid_bodies_are_400(google: GoogleHarness) -> None:
    status, body, _ = await google.call("POST", EVENTS, json={"summary": "no times"})
    assert status == 400 and body["error"]["errors"][0]["reason"] == "required"
    status, body, _ = await google.call(
        "POST", EVENTS, json=meeting(end={"dateTime": "2026-12-01T08:00:00+01:00"})
    )
    assert status == 400 and body["error"]["errors"][0]["reason"] == "timeRangeEmpty"
    status, body, _ = await google.call(
        "POST", EVENTS, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and body["error"]["errors"][0]["reason"] == "parseError"


async def test_patch_changes_etag_updated_and_sequence_on_time_change(
    google: GoogleHarness,
) -> None:
    _, event, _ = await google.call("POST", EVENTS, json=meeting())
    status, renamed, _ = await google.call(
        "PATCH", f"{EVENTS}/{event['id']}", json={"summary": "Renamed"}
    )
    assert status == 200
    assert renamed["summary"] == "Renamed" and renamed["start"] == event["start"]
    assert renamed["etag"] != event["etag"] and renamed["updated"] > event["updated"]
    assert renamed["sequence"] == 0  # a title change is not significant
    _, moved, _ = await google.call(
        "PATCH",
        f"{EVENTS}/{event['id']}",
        json={
            "start": {"dateTime": "2026-12-02T10:00:00Z"},
            "end": {"dateTime": "2026-12-02T11:00:00Z"},
        },
    )
    assert moved["sequence"] == 1
    assert moved["summary"] == "Renamed"  # patch keeps what it does not mention


async def test_update_replaces_the_whole_resource(google: GoogleHarness) -> None:
    _, event, _ = await google.call("POST", EVENTS, json=meeting(location="Berlin"))
    status, replaced, _ = await google.call(
        "PUT", f"{EVENTS}/{event['id']}", json=meeting(summary="Only this")
    )
    assert status == 200
    assert replaced["summary"] == "Only this" and "location" not in replaced
    assert replaced["created"] == event["created"]


async def test_if_match_precondition(google: GoogleHarness) -> None:
    _, event, _ = await google.call("POST", EVENTS, json=meeting())
    _, changed, _ = await google.call(
        "PATCH",
        f"{EVENTS}/{event['id']}",
        json={"summary": "x"},
        headers={"If-Match": event["etag"]},
    )
    assert changed["summary"] == "x"
    status, body, _ = await google.call(
        "PATCH",
        f"{EVENTS}/{event['id']}",
        json={"summary": "y"},
        headers={"If-Match": event["etag"]},
    )
    assert status == 412
    assert body["error"]["errors"][0]["reason"] == "conditionNotMet"
    status, _, _ = await google.call(
        "DELETE", f"{EVENTS}/{event['id']}", headers={"If-Match": event["etag"]}
    )
    assert status == 412
    status, _, _ = await google.call(
        "DELETE", f"{EVENTS}/{event['id']}", headers={"If-Match": changed["etag"]}
    )
    assert status == 204


async def test_delete_leaves_tombstone_then_410(google: GoogleHarness) -> None:
    _, event, _ = await google.call("POST", EVENTS, json=meeting())
    status, body, _ = await google.call("DELETE", f"{EVENTS}/{event['id']}")
    assert (status, body) == (204, None)
    status, tomb, _ = await google.call("GET", f"{EVENTS}/{event['id']}")
    assert status == 200 and tomb["status"] == "cancelled" and tomb["id"] == event["id"]
    status, body, _ = await google.call("DELETE", f"{EVENTS}/{event['id']}")
    assert status == 410 and body["error"]["errors"][0]["reason"] == "deleted"
    status, _, _ = await google.call("POST", EVENTS, json=meeting(id=event["id"]))
    assert status == 409  # ids of deleted events stay taken


async def test_unknown_event_and_calendar_are_404_in_google_format(google: GoogleHarness) -> None:
    status, body, _ = await google.call("GET", f"{EVENTS}/doesnotexist1")
    assert status == 404
    assert body == {
        "error": {
            "errors": [{"domain": "global", "reason": "notFound", "message": "Not Found"}],
            "code": 404,
            "message": "Not Found",
        }
    }
    status, _, _ = await google.call("GET", "/calendar/v3/calendars/nobody@example.com/events")
    assert status == 404


async def test_other_users_calendar_is_not_visible(google: GoogleHarness) -> None:
    google.sandbox.create_user("bob@example.com")
    status, _, _ = await google.call("GET", "/calendar/v3/calendars/bob@example.com/events")
    assert status == 404


async def test_send_updates_records_invitations_updates_cancellations(
    google: GoogleHarness,
) -> None:
    google.sandbox.create_user("colleague@example.com")
    guests = [{"email": "client@customer.com"}, {"email": "colleague@example.com"}]
    _, event, _ = await google.call(
        "POST", EVENTS, params={"sendUpdates": "all"}, json=meeting(attendees=guests)
    )
    await google.call(
        "PATCH",
        f"{EVENTS}/{event['id']}",
        params={"sendUpdates": "externalOnly"},
        json={"attendees": [{"email": "client@customer.com"}, {"email": "new@customer.com"}]},
    )
    await google.call("PATCH", f"{EVENTS}/{event['id']}", json={"summary": "silent"})
    await google.call("DELETE", f"{EVENTS}/{event['id']}", params={"sendUpdates": "all"})
    log = (await google.control("GET", "/_sandbox/invitations"))["invitations"]
    sent = [(m["kind"], m["to"], m["sendUpdates"]) for m in log]
    assert sent == [
        ("invitation", "client@customer.com", "all"),
        ("invitation", "colleague@example.com", "all"),
        # externalOnly: the sandbox user colleague@ (a Google user) is not mailed its removal
        ("invitation", "new@customer.com", "externalOnly"),
        ("update", "client@customer.com", "externalOnly"),
        ("cancellation", "client@customer.com", "all"),
        ("cancellation", "new@customer.com", "all"),
    ]


async def test_send_updates_none_sends_nothing(google: GoogleHarness) -> None:
    guests = [{"email": "client@customer.com"}]
    _, event, _ = await google.call(
        "POST", EVENTS, params={"sendUpdates": "none"}, json=meeting(attendees=guests)
    )
    await google.call(
        "PATCH",
        f"{EVENTS}/{event['id']}",
        params={"sendUpdates": "none"},
        json={"summary": "moved"},
    )
    await google.call("DELETE", f"{EVENTS}/{event['id']}", params={"sendUpdates": "none"})
    assert (await google.control("GET", "/_sandbox/invitations"))["invitations"] == []


async def test_send_updates_validates_value(google: GoogleHarness) -> None:
    status, _, _ = await google.call(
        "POST", EVENTS, params={"sendUpdates": "everyone"}, json=meeting()
    )
    assert status == 400


async def test_calendar_list_and_get(google: GoogleHarness) -> None:
    secondary = google.sandbox.add_calendar(ALICE, "Holidays")
    status, listed, _ = await google.call("GET", "/calendar/v3/users/me/calendarList")
    assert status == 200 and listed["kind"] == "calendar#calendarList"
    by_id = {item["id"]: item for item in listed["items"]}
    assert by_id[ALICE]["primary"] is True and by_id[ALICE]["accessRole"] == "owner"
    assert "primary" not in by_id[secondary.id]
    status, cal, _ = await google.call("GET", f"/calendar/v3/calendars/{secondary.id}")
    assert status == 200 and cal["kind"] == "calendar#calendar" and cal["summary"] == "Holidays"


async def test_all_day_events(google: GoogleHarness) -> None:
    status, event, _ = await google.call(
        "POST",
        EVENTS,
        json={"summary": "Offsite", "start": {"date": "2026-12-24"}, "end": {"date": "2026-12-26"}},
    )
    assert status == 200
    assert event["start"] == {"date": "2026-12-24"} and event["end"] == {"date": "2026-12-26"}


async def test_api_cannot_forge_the_organizer(google: GoogleHarness) -> None:
    _, event, _ = await google.call(
        "POST", EVENTS, json=meeting(organizer={"email": "ceo@elsewhere.com"})
    )
    assert event["organizer"]["email"] == ALICE


async def test_get_with_if_none_match_is_304(google: GoogleHarness) -> None:
    _, event, _ = await google.call("POST", EVENTS, json=meeting())
    status, _, resp = await google.call(
        "GET", f"{EVENTS}/{event['id']}", headers={"If-None-Match": event["etag"]}
    )
    assert status == 304
    status, _, resp = await google.call(
        "GET", f"{EVENTS}/{event['id']}", headers={"If-None-Match": '"stale"'}
    )
    assert status == 200 and resp.headers["ETag"] == event["etag"]


async def test_patch_merges_objects_and_replaces_arrays(google: GoogleHarness) -> None:
    _, event, _ = await google.call(
        "POST",
        EVENTS,
        json=meeting(
            extendedProperties={"private": {"chronikId": "42", "source": "crm"}},
            attendees=[{"email": "a@x.com"}, {"email": "b@x.com"}],
        ),
    )
    _, patched, _ = await google.call(
        "PATCH",
        f"{EVENTS}/{event['id']}",
        json={
            "extendedProperties": {"private": {"source": None, "synced": "yes"}},
            "attendees": [{"email": "c@x.com"}],
        },
    )
    assert patched["extendedProperties"] == {"private": {"chronikId": "42", "synced": "yes"}}
    assert [a["email"] for a in patched["attendees"]] == ["c@x.com"]
    _, cleared, _ = await google.call(
        "PATCH", f"{EVENTS}/{event['id']}", json={"extendedProperties": None}
    )
    assert "extendedProperties" not in cleared


async def test_list_filters_by_extended_property(google: GoogleHarness) -> None:
    _, mine, _ = await google.call(
        "POST",
        EVENTS,
        json=meeting(extendedProperties={"private": {"chronikId": "42"}, "shared": {"deal": "7"}}),
    )
    await google.call(
        "POST", EVENTS, json=meeting(extendedProperties={"private": {"chronikId": "43"}})
    )
    await google.call("POST", EVENTS, json=meeting())
    _, body, _ = await google.call(
        "GET", f"{EVENTS}?privateExtendedProperty=chronikId%3D42&sharedExtendedProperty=deal%3D7"
    )
    assert [item["id"] for item in body["items"]] == [mine["id"]]
    status, _, _ = await google.call("GET", EVENTS, params={"privateExtendedProperty": "novalue"})
    assert status == 400


async def test_list_filters_by_event_types(google: GoogleHarness) -> None:
    _, ooo, _ = await google.call(
        "POST", EVENTS, json=meeting(eventType="outOfOffice", outOfOfficeProperties={})
    )
    _, normal, _ = await google.call("POST", EVENTS, json=meeting())
    _, body, _ = await google.call("GET", f"{EVENTS}?eventTypes=default")
    assert [item["id"] for item in body["items"]] == [normal["id"]]
    _, body, _ = await google.call("GET", f"{EVENTS}?eventTypes=default&eventTypes=outOfOffice")
    assert {item["id"] for item in body["items"]} == {normal["id"], ooo["id"]}


async def test_patch_merges_start_and_refuses_both_date_and_datetime(
    google: GoogleHarness,
) -> None:
    """events.patch merges `start` like any object: a `date` patched onto a timed start keeps
    its `dateTime`, which Google refuses with 400 "Invalid start time."; nulling the other
    keys switches the event to all-day."""
    _, event, _ = await google.call("POST", EVENTS, json=meeting())
    path = f"{EVENTS}/{event['id']}"
    all_day = {"start": {"date": "2026-12-01"}, "end": {"date": "2026-12-02"}}
    status, body, _ = await google.call("PATCH", path, json=all_day)
    assert status == 400
    assert body["error"]["message"] == "Invalid start time."
    _, unchanged, _ = await google.call("GET", path)
    assert unchanged["start"] == event["start"]

    cleared = {key: {**value, "dateTime": None, "timeZone": None} for key, value in all_day.items()}
    status, switched, _ = await google.call("PATCH", path, json=cleared)
    assert status == 200
    assert switched["start"] == {"date": "2026-12-01"}

    # A timeZone alone is merged into the start it patches, not a start without a time.
    status, _, _ = await google.call(
        "PATCH",
        path,
        json={
            "start": {"dateTime": "2026-12-01T10:00:00Z", "date": None},
            "end": {"dateTime": "2026-12-01T11:00:00Z", "date": None},
        },
    )
    assert status == 200
    status, zoned, _ = await google.call(
        "PATCH", path, json={"start": {"timeZone": "Europe/Paris"}}
    )
    assert status == 200
    assert zoned["start"]["timeZone"] == "Europe/Paris"
    assert zoned["start"]["dateTime"].startswith("2026-12-01T11:00:00")


async def test_insert_refuses_event_types_the_api_cannot_create(google: GoogleHarness) -> None:
    """ "Google Calendar API doesn't allow creating [fromGmail events] using the insert method"
    (https://developers.google.com/calendar/api/guides/event-types)."""
    for refused in ("fromGmail", "meeting"):
        status, body, _ = await google.call("POST", EVENTS, json=meeting(eventType=refused))
        assert status == 400, refused
        assert body["error"]["errors"][0]["location"] == "eventType"
    status, focus, _ = await google.call(
        "POST", EVENTS, json=meeting(eventType="focusTime", focusTimeProperties={})
    )
    assert status == 200 and focus["eventType"] == "focusTime"


async def test_gmail_makes_events_organized_by_its_placeholder(google: GoogleHarness) -> None:
    made = await google.control(
        "POST",
        f"/_sandbox/calendars/{ALICE}/events",
        json={**meeting(summary="Flight to Lisbon"), "eventType": "fromGmail"},
    )
    _, listed, _ = await google.call("GET", EVENTS)
    [item] = listed["items"]
    assert item["id"] == made["id"] and item["eventType"] == "fromGmail"
    assert item["organizer"]["email"] == "unknownorganizer@calendar.google.com"
    assert ALICE in [a["email"] for a in item["attendees"]]


async def test_a_birthday_is_one_private_transparent_yearly_day_without_guests(
    google: GoogleHarness,
) -> None:
    """https://developers.google.com/calendar/api/guides/event-types#birthday"""
    birthday = {
        "summary": "Carla's birthday",
        "eventType": "birthday",
        "start": {"date": "2026-12-24"},
        "end": {"date": "2026-12-25"},
        "visibility": "private",
        "transparency": "transparent",
        "recurrence": ["RRULE:FREQ=YEARLY"],
    }
    broken = [
        {"attendees": [{"email": "carla@client.test"}]},
        {"end": {"date": "2026-12-26"}},
        {"visibility": "default"},
        {"transparency": "opaque"},
        {"recurrence": ["RRULE:FREQ=WEEKLY"]},
    ]
    for change in broken:
        status, _, _ = await google.call("POST", EVENTS, json={**birthday, **change})
        assert status == 400, change
    status, made, _ = await google.call("POST", EVENTS, json=birthday)
    assert status == 200 and made["eventType"] == "birthday"


STATUS_EVENTS: dict[str, dict[str, Any]] = {
    "focusTime": meeting(
        eventType="focusTime",
        focusTimeProperties={
            "autoDeclineMode": "declineOnlyNewConflictingInvitations",
            "chatStatus": "doNotDisturb",
        },
    ),
    "outOfOffice": meeting(
        eventType="outOfOffice",
        outOfOfficeProperties={
            "autoDeclineMode": "declineAllConflictingInvitations",
            "declineMessage": "Away",
        },
    ),
    "workingLocation": meeting(
        eventType="workingLocation",
        visibility="public",
        transparency="transparent",
        workingLocationProperties={"type": "customLocation", "customLocation": {"label": "Cafe"}},
    ),
}
ALL_DAY = {"start": {"date": "2026-12-01"}, "end": {"date": "2026-12-02"}}


async def test_status_events_are_made_as_the_guide_says_and_nothing_else(
    google: GoogleHarness,
) -> None:
    """Focus time, out of office and working location (the calendar-status guide): primary
    calendars only, the type's properties required, no guests; focus time and out of office
    opaque and timed; working location public, transparent, timed or one all-day date.
    https://developers.google.com/calendar/api/guides/calendar-status"""
    secondary = google.sandbox.add_calendar(ALICE, "Team")
    guest = {"attendees": [{"email": "carla@client.test"}]}
    refused: list[tuple[str, dict[str, Any], str]] = [
        ("focusTime", {"focusTimeProperties": None}, "focusTimeProperties"),
        ("focusTime", guest, "attendees"),
        ("focusTime", ALL_DAY, "start"),
        ("focusTime", {"transparency": "transparent"}, "transparency"),
        ("focusTime", {"focusTimeProperties": {"chatStatus": "busy"}}, None),
        ("focusTime", {"outOfOfficeProperties": {}}, "outOfOfficeProperties"),
        ("outOfOffice", {"outOfOfficeProperties": None}, "outOfOfficeProperties"),
        ("outOfOffice", guest, "attendees"),
        ("outOfOffice", ALL_DAY, "start"),
        ("outOfOffice", {"outOfOfficeProperties": {"autoDeclineMode": "always"}}, None),
        ("workingLocation", {"workingLocationProperties": None}, "workingLocationProperties"),
        ("workingLocation", {"workingLocationProperties": {}}, "workingLocationProperties.type"),
        ("workingLocation", {"workingLocationProperties": {"type": "moon"}}, None),
        ("workingLocation", {"visibility": "default"}, "visibility"),
        ("workingLocation", {"transparency": "opaque"}, "transparency"),
        ("workingLocation", guest, "attendees"),
        ("workingLocation", {"start": {"date": "2026-12-01"}, "end": {"date": "2026-12-03"}}, None),
    ]
    for event_type, change, location in refused:
        body = {**STATUS_EVENTS[event_type], **change}
        status, answer, _ = await google.call("POST", EVENTS, json=body)
        assert status == 400, (event_type, change)
        [error] = answer["error"]["errors"]
        assert error["reason"] in ("invalid", "required"), error
        if location is not None:
            assert error["location"] == location, (event_type, change, error)
    on_secondary = f"/calendar/v3/calendars/{secondary.id}/events"
    for event_type, body in STATUS_EVENTS.items():
        status, answer, _ = await google.call("POST", on_secondary, json=body)
        assert status == 400 and answer["error"]["errors"][0]["location"] == "eventType"
        status, made, _ = await google.call("POST", EVENTS, json=body)
        assert status == 200, made
        key = f"{event_type}Properties"
        assert made["eventType"] == event_type and made[key] == body[key]
    status, _, _ = await google.call(
        "POST", EVENTS, json={**STATUS_EVENTS["workingLocation"], **ALL_DAY}
    )
    assert status == 200


async def test_an_event_keeps_its_type_and_a_status_event_its_required_fields(
    google: GoogleHarness,
) -> None:
    """eventType "cannot be modified after the event is created" (events resource); an update
    of a status event "must maintain the required fields" (calendar-status guide)."""
    _, plain, _ = await google.call("POST", EVENTS, json=meeting())
    status, answer, _ = await google.call(
        "PATCH",
        f"{EVENTS}/{plain['id']}",
        json={"eventType": "focusTime", "focusTimeProperties": {}},
    )
    assert status == 400 and answer["error"]["errors"][0]["location"] == "eventType"

    _, focus, _ = await google.call("POST", EVENTS, json=STATUS_EVENTS["focusTime"])
    path = f"{EVENTS}/{focus['id']}"
    for change in ({"eventType": "default"}, {"focusTimeProperties": None}, guest_list()):
        status, _, _ = await google.call("PATCH", path, json=change)
        assert status == 400, change
    # An update (PUT) without the required property object is refused too, with or without
    # eventType: the type stays what it was.
    without = {k: v for k, v in STATUS_EVENTS["focusTime"].items() if k != "focusTimeProperties"}
    for body in (without, {k: v for k, v in without.items() if k != "eventType"}):
        status, _, _ = await google.call("PUT", path, json=body)
        assert status == 400, body
    status, renamed, _ = await google.call("PATCH", path, json={"summary": "Deep work"})
    assert status == 200 and renamed["eventType"] == "focusTime"
    assert renamed["focusTimeProperties"] == STATUS_EVENTS["focusTime"]["focusTimeProperties"]


def guest_list() -> dict[str, Any]:
    return {"attendees": [{"email": "carla@client.test"}]}
