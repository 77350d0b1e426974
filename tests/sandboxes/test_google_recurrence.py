"""Recurring series on the Google sandbox: expansion with singleEvents, instance ids, modified and
cancelled occurrences (exceptions), DST, events.instances, incremental sync of exceptions."""

from __future__ import annotations

import base64
from typing import Any

from tests.sandboxes.conftest import ALICE, GoogleHarness

EVENTS = "/calendar/v3/calendars/primary/events"


def weekly(count: int = 4, **extra: Any) -> dict[str, Any]:
    return {
        "summary": "Standup",
        "start": {"dateTime": "2026-03-16T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-16T09:30:00", "timeZone": "Europe/Berlin"},
        "recurrence": [f"RRULE:FREQ=WEEKLY;COUNT={count}"],
        **extra,
    }


async def listed(google: GoogleHarness, **params: str) -> list[dict[str, Any]]:
    status, body, _ = await google.call("GET", EVENTS, params=params)
    assert status == 200, body
    return body["items"]


async def test_single_events_expands_with_google_instance_ids(google: GoogleHarness) -> None:
    _, master, _ = await google.call("POST", EVENTS, json=weekly())
    items = await listed(google, singleEvents="true", orderBy="startTime")
    assert [item["id"] for item in items] == [
        f"{master['id']}_20260316T080000Z",
        f"{master['id']}_20260323T080000Z",
        # Europe/Berlin switches to summer time on 2026-03-29: still 09:00 local, 07:00 UTC.
        f"{master['id']}_20260330T070000Z",
        f"{master['id']}_20260406T070000Z",
    ]
    third = items[2]
    assert third["recurringEventId"] == master["id"]
    assert third["originalStartTime"] == {
        "dateTime": "2026-03-30T09:00:00+02:00",
        "timeZone": "Europe/Berlin",
    }
    assert third["start"]["dateTime"] == "2026-03-30T09:00:00+02:00"
    assert "recurrence" not in third and third["iCalUID"] == master["iCalUID"]


async def test_without_single_events_the_master_is_listed(google: GoogleHarness) -> None:
    _, master, _ = await google.call("POST", EVENTS, json=weekly())
    items = await listed(google)
    assert [item["id"] for item in items] == [master["id"]]
    assert items[0]["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=4"]


async def test_modified_and_cancelled_occurrences(google: GoogleHarness) -> None:
    _, master, _ = await google.call("POST", EVENTS, json=weekly())
    second = f"{master['id']}_20260323T080000Z"
    third = f"{master['id']}_20260330T070000Z"
    status, moved, _ = await google.call(
        "PATCH",
        f"{EVENTS}/{second}",
        json={
            "start": {"dateTime": "2026-03-24T15:00:00+01:00"},
            "end": {"dateTime": "2026-03-24T15:30:00+01:00"},
        },
    )
    assert status == 200
    assert moved["recurringEventId"] == master["id"]
    assert moved["originalStartTime"]["dateTime"] == "2026-03-23T09:00:00+01:00"
    status, _, _ = await google.call("DELETE", f"{EVENTS}/{third}")
    assert status == 204

    items = await listed(google, singleEvents="true", orderBy="startTime")
    assert [item["id"] for item in items] == [
        f"{master['id']}_20260316T080000Z",
        second,
        f"{master['id']}_20260406T070000Z",
    ]
    assert items[1]["start"]["dateTime"] == "2026-03-24T15:00:00+01:00"

    # Without singleEvents: master, the modified instance, and the cancelled instance.
    plain = {item["id"]: item for item in await listed(google)}
    assert set(plain) == {master["id"], second, third}
    assert plain[third]["status"] == "cancelled"
    assert plain[third]["recurringEventId"] == master["id"]

    cancelled = await listed(google, singleEvents="true", showDeleted="true")
    assert third in {item["id"] for item in cancelled}


async def test_exceptions_arrive_in_incremental_sync(google: GoogleHarness) -> None:
    _, master, _ = await google.call("POST", EVENTS, json=weekly())
    _, body, _ = await google.call("GET", EVENTS)
    token = body["nextSyncToken"]
    google.sandbox.ui_update_event(
        ALICE, f"{master['id']}_20260323T080000Z", {"summary": "Standup (moved room)"}
    )
    await google.control(
        "POST",
        f"/_sandbox/calendars/{ALICE}/events/{master['id']}/occurrence",
        json={"originalStartTime": "2026-04-06T09:00:00+02:00", "cancel": True},
    )
    _, changes, _ = await google.call("GET", EVENTS, params={"syncToken": token})
    got = [(item["id"], item["status"]) for item in changes["items"]]
    assert got == [
        (f"{master['id']}_20260323T080000Z", "confirmed"),
        (f"{master['id']}_20260406T070000Z", "cancelled"),
    ]
    assert all(item["recurringEventId"] == master["id"] for item in changes["items"])


async def test_a_cancelled_occurrence_restored_from_the_trash_comes_back(
    google: GoogleHarness,
) -> None:
    _, master, _ = await google.call("POST", EVENTS, json=weekly())
    occurrence = f"/_sandbox/calendars/{ALICE}/events/{master['id']}/occurrence"
    week = {"originalStartTime": "2026-04-06T09:00:00+02:00"}
    await google.control("POST", occurrence, json={**week, "cancel": True})
    _, body, _ = await google.call("GET", EVENTS)
    token = body["nextSyncToken"]
    await google.control("POST", occurrence, json={**week, "restore": True})
    _, changes, _ = await google.call("GET", EVENTS, params={"syncToken": token})
    [item] = changes["items"]
    assert (item["id"], item["status"]) == (f"{master['id']}_20260406T070000Z", "confirmed")
    assert item["summary"] == "Standup"
    assert (item["start"]["dateTime"], item["end"]["dateTime"]) == (
        "2026-04-06T09:00:00+02:00",
        "2026-04-06T09:30:00+02:00",
    )
    expanded = await listed(google, singleEvents="true")
    assert len(expanded) == 4
    # Only what was deleted can be restored.
    async with google.http.post(google.url + occurrence, json={**week, "restore": True}) as resp:
        assert resp.status == 404


async def test_deleting_the_series_cancels_it_and_its_exceptions(google: GoogleHarness) -> None:
    _, master, _ = await google.call("POST", EVENTS, json=weekly())
    await google.call(
        "PATCH", f"{EVENTS}/{master['id']}_20260323T080000Z", json={"summary": "special"}
    )
    await google.call("DELETE", f"{EVENTS}/{master['id']}")
    assert await listed(google, singleEvents="true") == []
    assert await listed(google) == []  # no orphaned cancelled occurrences either
    deleted = {item["id"]: item["status"] for item in await listed(google, showDeleted="true")}
    assert deleted == {master["id"]: "cancelled", f"{master['id']}_20260323T080000Z": "cancelled"}


async def test_instances_endpoint_and_get_of_unmodified_instance(google: GoogleHarness) -> None:
    _, master, _ = await google.call("POST", EVENTS, json=weekly(count=3))
    status, body, _ = await google.call("GET", f"{EVENTS}/{master['id']}/instances")
    assert status == 200 and len(body["items"]) == 3 and "nextSyncToken" not in body
    status, one, _ = await google.call("GET", f"{EVENTS}/{master['id']}_20260323T080000Z")
    assert status == 200 and one["recurringEventId"] == master["id"]
    status, _, _ = await google.call("GET", f"{EVENTS}/{master['id']}_20260324T080000Z")
    assert status == 404


async def test_time_window_limits_instances_and_open_series(google: GoogleHarness) -> None:
    body = weekly()
    body["recurrence"] = ["RRULE:FREQ=DAILY"]  # never ends
    await google.call("POST", EVENTS, json=body)
    items = await listed(
        google, singleEvents="true", timeMin="2026-05-01T00:00:00Z", timeMax="2026-05-04T00:00:00Z"
    )
    assert [item["start"]["dateTime"] for item in items] == [
        "2026-05-01T09:00:00+02:00",
        "2026-05-02T09:00:00+02:00",
        "2026-05-03T09:00:00+02:00",
    ]
    # A series overlapping the window is listed as its master without singleEvents.
    masters = await listed(google, timeMin="2030-01-01T00:00:00Z")
    assert len(masters) == 1


async def test_all_day_series_and_exdate(google: GoogleHarness) -> None:
    _, master, _ = await google.call(
        "POST",
        EVENTS,
        json={
            "summary": "Gym",
            "start": {"date": "2026-06-01"},
            "end": {"date": "2026-06-02"},
            "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20260604", "EXDATE;VALUE=DATE:20260602"],
        },
    )
    items = await listed(google, singleEvents="true", orderBy="startTime")
    assert [item["id"] for item in items] == [
        f"{master['id']}_20260601",
        f"{master['id']}_20260603",
        f"{master['id']}_20260604",
    ]
    assert items[0]["originalStartTime"] == {"date": "2026-06-01"}


async def test_invalid_recurrence_is_400(google: GoogleHarness) -> None:
    status, body, _ = await google.call(
        "POST", EVENTS, json=weekly(recurrence=["RRULE:FREQ=SOMETIMES"])
    )
    assert status == 400 and body["error"]["errors"][0]["reason"] == "invalid"


async def test_until_in_utc_and_exdate_with_tzid(google: GoogleHarness) -> None:
    _, master, _ = await google.call(
        "POST",
        EVENTS,
        json=weekly(
            count=0,
            recurrence=[
                "RRULE:FREQ=WEEKLY;UNTIL=20260406T070000Z",
                "EXDATE;TZID=Europe/Berlin:20260323T090000",
            ],
        ),
    )
    items = await listed(google, singleEvents="true", orderBy="startTime")
    assert [item["id"] for item in items] == [
        f"{master['id']}_20260316T080000Z",
        f"{master['id']}_20260330T070000Z",
        f"{master['id']}_20260406T070000Z",  # UNTIL is inclusive
    ]


async def test_recurrence_needs_a_rule(google: GoogleHarness) -> None:
    status, _, _ = await google.call(
        "POST", EVENTS, json=weekly(recurrence=["EXDATE:20260323T080000Z"])
    )
    assert status == 400


async def test_occurrence_years_into_an_open_series_can_be_changed(google: GoogleHarness) -> None:
    body = weekly()
    body["recurrence"] = ["RRULE:FREQ=DAILY"]
    _, master, _ = await google.call("POST", EVENTS, json=body)
    far = f"{master['id']}_20300316T080000Z"  # 4 years in, past any expansion cap
    status, moved, _ = await google.call("PATCH", f"{EVENTS}/{far}", json={"summary": "Far"})
    assert status == 200 and moved["originalStartTime"]["dateTime"] == "2030-03-16T09:00:00+01:00"
    assert (await google.call("GET", f"{EVENTS}/{master['id']}_20300316T090000Z"))[0] == 404


async def test_single_events_incremental_sends_each_instance_once(
    google: GoogleHarness,
) -> None:
    _, master, _ = await google.call("POST", EVENTS, json=weekly())
    _, body, _ = await google.call("GET", EVENTS, params={"singleEvents": "true"})
    token = body["nextSyncToken"]
    second = f"{master['id']}_20260323T080000Z"
    await google.call("PATCH", f"{EVENTS}/{second}", json={"summary": "Moved"})
    await google.call("PATCH", f"{EVENTS}/{master['id']}", json={"location": "Room 2"})
    _, changes, _ = await google.call(
        "GET", EVENTS, params={"syncToken": token, "singleEvents": "true"}
    )
    ids = [item["id"] for item in changes["items"]]
    assert len(ids) == len(set(ids)) == 4
    assert {i["summary"] for i in changes["items"] if i["id"] == second} == {"Moved"}


async def test_an_instance_links_to_itself_not_to_its_series(google: GoogleHarness) -> None:
    _, master, _ = await google.call("POST", EVENTS, json=weekly())
    items = await listed(google, singleEvents="true", orderBy="startTime")
    eid = items[1]["htmlLink"].partition("eid=")[2]
    decoded = base64.urlsafe_b64decode(eid + "=" * (-len(eid) % 4)).decode()
    assert decoded == f"{items[1]['id']} {ALICE}"
    assert items[1]["htmlLink"] != master["htmlLink"]
