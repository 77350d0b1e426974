"""Events, calendars and free/busy in the Microsoft sandbox over HTTP: create with transactionId,
If-Match, invitations/updates/cancellations, cancel, delete, Outlook-side changes, getSchedule."""

from __future__ import annotations

from typing import Any

MEETING: dict[str, Any] = {
    "subject": "Quarterly review",
    "body": {"contentType": "html", "content": "<p>Numbers &amp; plans</p>"},
    "start": {"dateTime": "2026-09-24T14:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-09-24T15:00:00", "timeZone": "UTC"},
    "location": {"displayName": "Room 4"},
    "attendees": [
        {
            "emailAddress": {"address": "carol@fabrikam.example", "name": "Carol"},
            "type": "required",
        },
        {"emailAddress": {"address": "dan@fabrikam.example"}, "type": "optional"},
    ],
}


async def _invitations(harness) -> list[dict]:
    return (await harness.control("GET", "/_sandbox/invitations"))["value"]


async def test_me_calendar_and_calendars(microsoft):
    await microsoft.control(
        "POST", f"/_sandbox/users/{microsoft.email}/calendars", json={"name": "Holidays"}
    )
    status, calendar, _ = await microsoft.call("GET", "/v1.0/me/calendar")
    assert status == 200 and calendar["isDefaultCalendar"] is True
    assert calendar["owner"]["address"] == microsoft.email
    _, calendars, _ = await microsoft.call("GET", "/v1.0/me/calendars")
    assert [c["name"] for c in calendars["value"]] == ["Calendar", "Holidays"]
    assert [c["isDefaultCalendar"] for c in calendars["value"]] == [True, False]


async def test_create_returns_the_full_resource(microsoft):
    status, event, resp = await microsoft.call("POST", "/v1.0/me/events", json=MEETING)
    assert status == 201
    assert event["id"].startswith("AAMkA") and event["iCalUId"]
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert event["bodyPreview"] == "Numbers & plans"
    assert event["organizer"]["emailAddress"]["address"] == microsoft.email
    assert event["isOrganizer"] is True and event["responseStatus"]["response"] == "organizer"
    assert event["attendees"][0]["status"] == {"response": "none", "time": "0001-01-01T00:00:00Z"}
    assert event["start"] == {"dateTime": "2026-09-24T14:00:00.0000000", "timeZone": "UTC"}
    assert event["sensitivity"] == "normal" and event["showAs"] == "busy"
    assert event["type"] == "singleInstance" and event["isCancelled"] is False
    assert event["webLink"].startswith("https://outlook.office365.com/owa/?itemid=")
    assert event["createdDateTime"].endswith("Z")
    assert resp.headers["request-id"]
    status, again, _ = await microsoft.call("GET", f"/v1.0/me/events/{event['id']}")
    assert status == 200 and again["changeKey"] == event["changeKey"]


async def test_same_transaction_id_twice_creates_one_event(microsoft):
    body = {**MEETING, "transactionId": "chronik-7f3a-retry-safe"}
    status1, first, _ = await microsoft.call("POST", "/v1.0/me/events", json=body)
    status2, second, _ = await microsoft.call("POST", "/v1.0/me/events", json=body)
    assert status1 == 201 and second["id"] == first["id"]
    assert status2 in (200, 201)
    assert second["transactionId"] == "chronik-7f3a-retry-safe"
    assert len(microsoft.sandbox.user(microsoft.email).events) == 1
    assert len(await _invitations(microsoft)) == 2  # invitations went out once


async def test_if_match_with_stale_etag_is_412(microsoft):
    _, event, _ = await microsoft.call("POST", "/v1.0/me/events", json=MEETING)
    status, updated, _ = await microsoft.call(
        "PATCH",
        f"/v1.0/me/events/{event['id']}",
        json={"subject": "v2"},
        headers={"If-Match": event["@odata.etag"]},
    )
    assert status == 200 and updated["subject"] == "v2"
    assert updated["@odata.etag"] != event["@odata.etag"]
    status, body, _ = await microsoft.call(
        "PATCH",
        f"/v1.0/me/events/{event['id']}",
        json={"subject": "v3"},
        headers={"If-Match": event["@odata.etag"]},
    )
    assert status == 412 and body["error"]["code"] == "ErrorIrresolvableConflict"
    _, current, _ = await microsoft.call("GET", f"/v1.0/me/events/{event['id']}")
    assert current["subject"] == "v2"


async def test_invitations_on_create_and_updates_on_change(microsoft):
    _, event, _ = await microsoft.call("POST", "/v1.0/me/events", json=MEETING)
    sent = await _invitations(microsoft)
    assert {(m["kind"], m["to"]) for m in sent} == {
        ("invitation", "carol@fabrikam.example"),
        ("invitation", "dan@fabrikam.example"),
    }
    assert all(m["from"] == microsoft.email and m["eventId"] == event["id"] for m in sent)
    attendees = [
        *MEETING["attendees"][:1],
        {"emailAddress": {"address": "erin@fabrikam.example"}, "type": "required"},
    ]
    await microsoft.call(
        "PATCH",
        f"/v1.0/me/events/{event['id']}",
        json={
            "attendees": attendees,
            "start": {"dateTime": "2026-09-24T16:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-09-24T17:00:00", "timeZone": "UTC"},
        },
    )
    later = (await _invitations(microsoft))[2:]
    assert {(m["kind"], m["to"]) for m in later} == {
        ("invitation", "erin@fabrikam.example"),
        ("cancellation", "dan@fabrikam.example"),
        ("update", "carol@fabrikam.example"),
    }


async def test_cancel_sends_cancellations_and_removes_the_event(microsoft):
    _, event, _ = await microsoft.call("POST", "/v1.0/me/events", json=MEETING)
    status, body, _ = await microsoft.call(
        "POST", f"/v1.0/me/events/{event['id']}/cancel", json={"comment": "Postponed"}
    )
    assert status == 202 and body is None
    cancellations = [m for m in await _invitations(microsoft) if m["kind"] == "cancellation"]
    assert {m["to"] for m in cancellations} == {"carol@fabrikam.example", "dan@fabrikam.example"}
    assert all(
        m["comment"] == "Postponed" and m["subject"].startswith("Canceled: ") for m in cancellations
    )
    status, body, _ = await microsoft.call("GET", f"/v1.0/me/events/{event['id']}")
    assert status == 404 and body["error"]["code"] == "ErrorItemNotFound"


async def test_only_the_organizer_can_cancel(microsoft):
    invite = microsoft.sandbox.create_event(
        microsoft.email,
        {
            **MEETING,
            "organizer": {"emailAddress": {"address": "carol@fabrikam.example"}},
            "attendees": [{"emailAddress": {"address": microsoft.email}}],
        },
    )
    assert invite["isOrganizer"] is False
    assert invite["responseStatus"]["response"] == "notResponded"
    assert await _invitations(microsoft) == []  # Carol's invite was not sent by Alice
    status, body, _ = await microsoft.call(
        "POST", f"/v1.0/me/events/{invite['id']}/cancel", json={}
    )
    assert status == 400 and body["error"]["code"] == "ErrorAccessDenied"


async def test_organizer_cancelling_an_invite_marks_it_cancelled(microsoft):
    invite = microsoft.sandbox.create_event(
        microsoft.email,
        {**MEETING, "organizer": {"emailAddress": {"address": "carol@fabrikam.example"}}},
    )
    cancelled = await microsoft.control(
        "POST", f"/_sandbox/users/{microsoft.email}/events/{invite['id']}/cancel"
    )
    assert cancelled["isCancelled"] is True
    _, event, _ = await microsoft.call("GET", f"/v1.0/me/events/{invite['id']}")
    assert event["isCancelled"] is True and event["subject"] == "Canceled: Quarterly review"


async def test_delete_is_204_then_404(microsoft):
    _, event, _ = await microsoft.call("POST", "/v1.0/me/events", json=MEETING)
    status, body, _ = await microsoft.call("DELETE", f"/v1.0/me/events/{event['id']}")
    assert status == 204 and body is None
    status, body, _ = await microsoft.call("DELETE", f"/v1.0/me/events/{event['id']}")
    assert status == 404 and body["error"]["code"] == "ErrorItemNotFound"
    assert body["error"]["message"] == "The specified object was not found in the store."


async def test_attendee_response_recorded(microsoft):
    _, event, _ = await microsoft.call("POST", "/v1.0/me/events", json=MEETING)
    await microsoft.control(
        "POST",
        f"/_sandbox/users/{microsoft.email}/events/{event['id']}/responses",
        json={"attendee": "carol@fabrikam.example", "response": "declined"},
    )
    _, current, _ = await microsoft.call("GET", f"/v1.0/me/events/{event['id']}")
    carol = current["attendees"][0]
    assert carol["status"]["response"] == "declined"
    assert carol["status"]["time"] != "0001-01-01T00:00:00Z"
    assert current["changeKey"] != event["changeKey"]


async def test_bad_requests_use_graph_error_bodies(microsoft):
    status, body, _ = await microsoft.call("POST", "/v1.0/me/events", json={"subject": "x"})
    assert status == 400 and body["error"]["code"] == "ErrorInvalidRequest"
    status, body, _ = await microsoft.call(
        "POST", "/v1.0/me/events", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and body["error"]["code"] == "BadRequest"
    status, body, _ = await microsoft.call(
        "POST",
        "/v1.0/me/events",
        json={**MEETING, "start": {"dateTime": "2026-09-24T14:00:00", "timeZone": "Mars/Olympus"}},
    )
    assert status == 400 and body["error"]["code"] == "TimeZoneNotSupportedException"
    status, body, _ = await microsoft.call("GET", "/v1.0/me/nonsense")
    assert status == 400 and body["error"]["code"] == "BadRequest"


async def test_get_schedule_reports_busy_slots(microsoft):
    await microsoft.call("POST", "/v1.0/me/events", json=MEETING)  # 14:00-15:00 busy
    await microsoft.call(
        "POST",
        "/v1.0/me/events",
        json={
            **MEETING,
            "subject": "Maybe",
            "showAs": "tentative",
            "attendees": [],
            "start": {"dateTime": "2026-09-24T15:30:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-09-24T16:00:00", "timeZone": "UTC"},
        },
    )
    status, body, _ = await microsoft.call(
        "POST",
        "/v1.0/me/calendar/getSchedule",
        json={
            "schedules": [microsoft.email, "nobody@nowhere.example"],
            "startTime": {"dateTime": "2026-09-24T13:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": "2026-09-24T17:00:00", "timeZone": "UTC"},
            "availabilityViewInterval": 30,
        },
    )
    assert status == 200
    mine, unknown = body["value"]
    assert mine["scheduleId"] == microsoft.email
    assert mine["availabilityView"] == "00220100"  # 30-minute slots from 13:00
    assert [(i["status"], i["subject"]) for i in mine["scheduleItems"]] == [
        ("busy", "Quarterly review"),
        ("tentative", "Maybe"),
    ]
    assert mine["scheduleItems"][0]["start"]["dateTime"] == "2026-09-24T14:00:00.0000000"
    assert mine["workingHours"]["daysOfWeek"][0] == "monday"
    assert unknown["error"]["responseCode"] == "ErrorMailRecipientNotFound"


async def test_get_schedule_in_another_time_zone(microsoft):
    await microsoft.call("POST", "/v1.0/me/events", json=MEETING)
    _, body, _ = await microsoft.call(
        "POST",
        "/v1.0/me/calendar/getSchedule",
        json={
            "schedules": [microsoft.email],
            "startTime": {"dateTime": "2026-09-24T00:00:00", "timeZone": "Pacific Standard Time"},
            "endTime": {"dateTime": "2026-09-25T00:00:00", "timeZone": "Pacific Standard Time"},
            "availabilityViewInterval": 60,
        },
    )
    info = body["value"][0]
    assert info["scheduleItems"][0]["start"] == {
        "dateTime": "2026-09-24T07:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert info["availabilityView"] == "0000000200000000" + "00000000"


async def test_all_day_event_keeps_its_zone(microsoft):
    status, event, _ = await microsoft.call(
        "POST",
        "/v1.0/me/events",
        json={
            "subject": "Offsite",
            "isAllDay": True,
            "showAs": "oof",
            "start": {"dateTime": "2026-09-28T00:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-09-29T00:00:00", "timeZone": "W. Europe Standard Time"},
        },
    )
    assert status == 201 and event["isAllDay"] is True
    assert event["start"] == {
        "dateTime": "2026-09-28T00:00:00.0000000",
        "timeZone": "W. Europe Standard Time",
    }
    status, body, _ = await microsoft.call(
        "POST",
        "/v1.0/me/events",
        json={
            "subject": "Not midnight",
            "isAllDay": True,
            "start": {"dateTime": "2026-09-28T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-09-29T00:00:00", "timeZone": "UTC"},
        },
    )
    assert status == 400 and body["error"]["code"] == "ErrorPropertyValidationFailure"


async def test_events_in_a_secondary_calendar(microsoft):
    calendar = await microsoft.control(
        "POST", f"/_sandbox/users/{microsoft.email}/calendars", json={"name": "Side"}
    )
    status, event, _ = await microsoft.call(
        "POST", f"/v1.0/me/calendars/{calendar['id']}/events", json=MEETING
    )
    assert status == 201
    status, view, _ = await microsoft.call(
        "GET",
        "/v1.0/me/calendarView",
        params={"startDateTime": "2026-09-24T00:00:00Z", "endDateTime": "2026-09-25T00:00:00Z"},
    )
    assert view["value"] == []
    status, view, _ = await microsoft.call(
        "GET",
        f"/v1.0/me/calendars/{calendar['id']}/calendarView",
        params={"startDateTime": "2026-09-24T00:00:00Z", "endDateTime": "2026-09-25T00:00:00Z"},
    )
    assert [e["id"] for e in view["value"]] == [event["id"]]


async def test_reset_restarts_ids_from_the_seed(microsoft):
    first = microsoft.sandbox.create_event(microsoft.email, MEETING)["id"]
    await microsoft.control("POST", "/_sandbox/reset")
    assert await microsoft.control("GET", "/_sandbox/users") == {"value": []}
    await microsoft.control("POST", "/_sandbox/users", json={"email": microsoft.email})
    await microsoft.control("POST", "/_sandbox/users", json={"email": microsoft.email})
    assert len((await microsoft.control("GET", "/_sandbox/users"))["value"]) == 1
    # Same seed and same sequence of operations as a fresh sandbox: same ids.
    microsoft.sandbox.reset()
    microsoft.sandbox.create_user(microsoft.email, "Alice Contoso")
    assert microsoft.sandbox.issue_access_token(microsoft.email) == microsoft.token
    assert microsoft.sandbox.create_event(microsoft.email, MEETING)["id"] == first


async def test_calendar_view_and_events_list_page_with_skip(microsoft):
    microsoft.sandbox.bulk_load(microsoft.email, 12, start="2026-09-22T08:00:00Z", span_days=5)
    window = {"startDateTime": "2026-09-22T00:00:00Z", "endDateTime": "2026-09-30T00:00:00Z"}
    status, first, _ = await microsoft.call("GET", "/v1.0/me/calendarView", params=window)
    assert status == 200 and len(first["value"]) == 10
    assert "$skip=10" in first["@odata.nextLink"]
    _, second, _ = await microsoft.call("GET", first["@odata.nextLink"])
    assert len(second["value"]) == 2 and "@odata.nextLink" not in second
    ids = [e["id"] for e in first["value"] + second["value"]]
    assert len(set(ids)) == 12
    _, listed, _ = await microsoft.call("GET", "/v1.0/me/events", params={"$top": "5"})
    assert len(listed["value"]) == 5 and "$skip=5" in listed["@odata.nextLink"]


async def test_request_ids_and_client_request_id_echo(microsoft):
    _, _, resp = await microsoft.call(
        "GET", "/v1.0/me", headers={"client-request-id": "chronik-trace-1"}
    )
    assert resp.headers["client-request-id"] == "chronik-trace-1"
    assert resp.headers["request-id"] != "chronik-trace-1"
    assert resp.headers["Content-Type"].startswith("application/json;odata.metadata=minimal")
    _, body, resp = await microsoft.call(
        "GET", "/v1.0/me/events/AAMkAnope", headers={"client-request-id": "chronik-trace-2"}
    )
    assert body["error"]["innerError"]["client-request-id"] == "chronik-trace-2"
    assert body["error"]["innerError"]["request-id"] == resp.headers["request-id"]


async def test_select_and_text_body_preferences(microsoft):
    _, event, _ = await microsoft.call("POST", "/v1.0/me/events", json=MEETING)
    status, body, resp = await microsoft.call(
        "GET",
        f"/v1.0/me/events/{event['id']}",
        params={"$select": "subject,body"},
        headers={"Prefer": 'outlook.body-content-type="text"'},
    )
    assert status == 200
    assert set(body) == {"@odata.context", "@odata.etag", "id", "subject", "body"}
    assert body["body"] == {"contentType": "text", "content": "Numbers & plans"}
    assert resp.headers["Preference-Applied"] == 'outlook.body-content-type="text"'


async def test_our_user_answers_an_invitation(microsoft):
    invite = microsoft.sandbox.create_event(
        microsoft.email,
        {
            **MEETING,
            "organizer": {"emailAddress": {"address": "carol@fabrikam.example"}},
            "attendees": [{"emailAddress": {"address": microsoft.email}, "type": "required"}],
        },
    )
    status, body, _ = await microsoft.call(
        "POST",
        f"/v1.0/me/events/{invite['id']}/tentativelyAccept",
        json={"comment": "Might be late", "sendResponse": True},
    )
    assert status == 202 and body is None
    _, event, _ = await microsoft.call("GET", f"/v1.0/me/events/{invite['id']}")
    assert event["responseStatus"]["response"] == "tentativelyAccepted"
    assert event["attendees"][0]["status"]["response"] == "tentativelyAccepted"
    [mail] = await _invitations(microsoft)
    assert (mail["kind"], mail["to"], mail["comment"]) == (
        "response",
        "carol@fabrikam.example",
        "Might be late",
    )
    _, mine, _ = await microsoft.call("POST", "/v1.0/me/events", json=MEETING)
    status, body, _ = await microsoft.call("POST", f"/v1.0/me/events/{mine['id']}/decline", json={})
    assert status == 400 and body["error"]["code"] == "ErrorInvalidRequest"


async def test_an_event_is_read_within_its_own_calendar_only(microsoft):
    side = await microsoft.control(
        "POST", f"/_sandbox/users/{microsoft.email}/calendars", json={"name": "Side"}
    )
    _, main_event, _ = await microsoft.call("POST", "/v1.0/me/events", json=MEETING)
    _, side_event, _ = await microsoft.call(
        "POST", f"/v1.0/me/calendars/{side['id']}/events", json=MEETING
    )
    status, read, _ = await microsoft.call("GET", f"/v1.0/me/calendar/events/{main_event['id']}")
    assert status == 200 and read["id"] == main_event["id"]
    status, body, _ = await microsoft.call("GET", f"/v1.0/me/calendar/events/{side_event['id']}")
    assert status == 404 and body["error"]["code"] == "ErrorItemNotFound"
    status, read, _ = await microsoft.call(
        "GET", f"/v1.0/me/calendars/{side['id']}/events/{side_event['id']}"
    )
    assert status == 200 and read["id"] == side_event["id"]
    status, body, _ = await microsoft.call("GET", "/v1.0/me/events/not-an-item-id")
    assert status == 400 and body["error"]["code"] == "ErrorInvalidIdMalformed"
