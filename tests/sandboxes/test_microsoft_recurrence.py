"""Recurring series in the Microsoft sandbox: calendarView expansion into occurrences, exceptions,
deleted occurrences, time zones, and /instances — observed over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

WEEKLY = {
    "subject": "Weekly sync",
    "start": {"dateTime": "2026-10-05T09:00:00", "timeZone": "W. Europe Standard Time"},
    "end": {"dateTime": "2026-10-05T09:30:00", "timeZone": "W. Europe Standard Time"},
    "recurrence": {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
        "range": {"type": "numbered", "startDate": "2026-10-05", "numberOfOccurrences": 6},
    },
    "attendees": [{"emailAddress": {"address": "dana@fabrikam.example"}, "type": "required"}],
}
WINDOW = {"startDateTime": "2026-09-01T00:00:00Z", "endDateTime": "2027-01-01T00:00:00Z"}


async def _view(harness) -> list[dict]:
    """Every instance of a fresh delta round over WINDOW (all pages)."""
    headers = {"Prefer": "odata.maxpagesize=100"}
    status, body, _ = await harness.call(
        "GET", "/v1.0/me/calendarView/delta", params=WINDOW, headers=headers
    )
    assert status == 200, body
    items = list(body["value"])
    while "@odata.nextLink" in body:
        _, body, _ = await harness.call("GET", body["@odata.nextLink"], headers=headers)
        items.extend(body["value"])
    return items


async def _round(harness, link: str) -> tuple[list[dict], str]:
    status, body, _ = await harness.call("GET", link)
    assert status == 200, body
    return body["value"], body.get("@odata.deltaLink", "")


async def test_series_expands_into_occurrences_and_never_shows_the_master(microsoft):
    status, master, _ = await microsoft.call("POST", "/v1.0/me/events", json=WEEKLY)
    assert status == 201 and master["type"] == "seriesMaster"
    assert master["recurrence"]["range"]["numberOfOccurrences"] == 6
    events = await _view(microsoft)
    assert len(events) == 6
    assert {e["type"] for e in events} == {"occurrence"}
    assert {e["seriesMasterId"] for e in events} == {master["id"]}
    assert len({e["id"] for e in events}) == 6
    assert events[0]["originalStart"] == "2026-10-05T07:00:00Z"  # 09:00 CEST
    # 09:00 Berlin wall time is kept across the end of DST (25 Oct 2026): 08:00 UTC afterwards.
    assert [e["start"]["dateTime"][11:16] for e in events] == ["07:00"] * 3 + ["08:00"] * 3
    assert all(e["recurrence"] is None for e in events)


async def test_occurrence_can_be_read_by_id(microsoft):
    _, master, _ = await microsoft.call("POST", "/v1.0/me/events", json=WEEKLY)
    occurrence = (await _view(microsoft))[1]
    status, body, _ = await microsoft.call("GET", f"/v1.0/me/events/{occurrence['id']}")
    assert status == 200
    assert body["type"] == "occurrence" and body["seriesMasterId"] == master["id"]
    assert body["start"] == occurrence["start"]


async def test_modified_occurrence_becomes_an_exception(microsoft):
    _, master, _ = await microsoft.call("POST", "/v1.0/me/events", json=WEEKLY)
    _, delta_link = await _round(
        microsoft,
        "/v1.0/me/calendarView/delta?"
        "startDateTime=2026-09-01T00:00:00Z"
        "&endDateTime=2027-01-01T00:00:00Z",
    )
    microsoft.sandbox.modify_occurrence(
        microsoft.email,
        master["id"],
        "2026-10-12T07:00:00Z",
        {
            "subject": "Weekly sync (moved)",
            "start": {"dateTime": "2026-10-13T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-10-13T10:30:00", "timeZone": "UTC"},
        },
    )
    changed, _ = await _round(microsoft, delta_link)
    assert len(changed) == 1
    exception = changed[0]
    assert exception["type"] == "exception"
    assert exception["seriesMasterId"] == master["id"]
    assert exception["originalStart"] == "2026-10-12T07:00:00Z"
    assert exception["start"]["dateTime"].startswith("2026-10-13T10:00")
    events = await _view(microsoft)
    assert len(events) == 6
    assert [e["type"] for e in events].count("exception") == 1


async def test_patching_an_occurrence_over_graph_makes_an_exception(microsoft):
    await microsoft.call("POST", "/v1.0/me/events", json=WEEKLY)
    occurrence = (await _view(microsoft))[2]
    status, body, _ = await microsoft.call(
        "PATCH", f"/v1.0/me/events/{occurrence['id']}", json={"subject": "Special"}
    )
    assert status == 200
    assert body["type"] == "exception" and body["id"] == occurrence["id"]
    again = {e["id"]: e for e in await _view(microsoft)}
    assert again[occurrence["id"]]["subject"] == "Special"


async def test_cancelled_occurrence_leaves_the_view_and_is_removed_in_delta(microsoft):
    _, master, _ = await microsoft.call("POST", "/v1.0/me/events", json=WEEKLY)
    first = await _view(microsoft)
    _, delta_link = await _round(
        microsoft,
        "/v1.0/me/calendarView/delta?"
        "startDateTime=2026-09-01T00:00:00Z"
        "&endDateTime=2027-01-01T00:00:00Z",
    )
    await microsoft.control(
        "POST",
        f"/_sandbox/users/{microsoft.email}/events/{master['id']}/occurrences/cancel",
        json={"originalStart": "2026-10-19T07:00:00Z"},
    )
    changed, _ = await _round(microsoft, delta_link)
    gone = next(e for e in first if e["originalStart"] == "2026-10-19T07:00:00Z")
    assert changed == [
        {
            "@odata.type": "#microsoft.graph.event",
            "id": gone["id"],
            "@removed": {"reason": "deleted"},
        }
    ]
    assert len(await _view(microsoft)) == 5
    status, body, _ = await microsoft.call("GET", f"/v1.0/me/events/{gone['id']}")
    assert status == 404 and body["error"]["code"] == "ErrorItemNotFound"
    # The master names it (only when selected): its occurrenceId, dated in the series' zone.
    assert gone["occurrenceId"] == f"OID.{master['id']}.2026-10-19"
    _, read, _ = await microsoft.call(
        "GET", f"/v1.0/me/events/{master['id']}", params={"$select": "subject,cancelledOccurrences"}
    )
    assert read["cancelledOccurrences"] == [gone["occurrenceId"]]
    _, plain, _ = await microsoft.call("GET", f"/v1.0/me/events/{master['id']}")
    assert "cancelledOccurrences" not in plain


async def test_a_restored_occurrence_comes_back_as_a_plain_occurrence(microsoft):
    _, master, _ = await microsoft.call("POST", "/v1.0/me/events", json=WEEKLY)
    path = f"/_sandbox/users/{microsoft.email}/events/{master['id']}/occurrences"
    week = {"originalStart": "2026-10-19T07:00:00Z"}
    await microsoft.control("POST", f"{path}/cancel", json=week)
    _, delta_link = await _round(
        microsoft,
        "/v1.0/me/calendarView/delta?"
        "startDateTime=2026-09-01T00:00:00Z"
        "&endDateTime=2027-01-01T00:00:00Z",
    )
    await microsoft.control("POST", f"{path}/restore", json=week)
    changed, _ = await _round(microsoft, delta_link)
    assert [(e["type"], e["originalStart"]) for e in changed] == [
        ("occurrence", "2026-10-19T07:00:00Z")
    ]
    assert len(await _view(microsoft)) == 6
    _, read, _ = await microsoft.call(
        "GET", f"/v1.0/me/events/{master['id']}", params={"$select": "cancelledOccurrences"}
    )
    assert read["cancelledOccurrences"] == []


async def test_series_level_change_updates_every_occurrence(microsoft):
    _, master, _ = await microsoft.call("POST", "/v1.0/me/events", json=WEEKLY)
    _, delta_link = await _round(
        microsoft,
        "/v1.0/me/calendarView/delta?"
        "startDateTime=2026-09-01T00:00:00Z"
        "&endDateTime=2027-01-01T00:00:00Z",
    )
    await microsoft.call(
        "PATCH", f"/v1.0/me/events/{master['id']}", json={"subject": "Renamed sync"}
    )
    changed, _ = await _round(microsoft, delta_link)
    assert len(changed) == 6 and {e["subject"] for e in changed} == {"Renamed sync"}


async def test_deleting_the_master_removes_all_occurrences(microsoft):
    _, master, _ = await microsoft.call("POST", "/v1.0/me/events", json=WEEKLY)
    _, delta_link = await _round(
        microsoft,
        "/v1.0/me/calendarView/delta?"
        "startDateTime=2026-09-01T00:00:00Z"
        "&endDateTime=2027-01-01T00:00:00Z",
    )
    assert (await microsoft.call("DELETE", f"/v1.0/me/events/{master['id']}"))[0] == 204
    changed, _ = await _round(microsoft, delta_link)
    assert len(changed) == 6 and all("@removed" in e for e in changed)


async def test_instances_endpoint_lists_occurrences(microsoft):
    _, master, _ = await microsoft.call("POST", "/v1.0/me/events", json=WEEKLY)
    status, body, _ = await microsoft.call(
        "GET", f"/v1.0/me/events/{master['id']}/instances", params=WINDOW
    )
    assert status == 200 and len(body["value"]) == 6


async def test_monthly_relative_and_daily_end_date_patterns(microsoft):
    monthly = {
        "subject": "Board",
        "start": {"dateTime": "2026-10-06T15:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-10-06T16:00:00", "timeZone": "UTC"},
        "recurrence": {
            "pattern": {"type": "relativeMonthly", "daysOfWeek": ["tuesday"], "index": "first"},
            "range": {"type": "endDate", "startDate": "2026-10-01", "endDate": "2026-12-31"},
        },
    }
    daily = {
        "subject": "Gym",
        "start": {"dateTime": "2026-11-30T06:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-11-30T07:00:00", "timeZone": "UTC"},
        "recurrence": {
            "pattern": {"type": "daily", "interval": 2},
            "range": {"type": "endDate", "startDate": "2026-11-30", "endDate": "2026-12-06"},
        },
    }
    await microsoft.call("POST", "/v1.0/me/events", json=monthly)
    await microsoft.call("POST", "/v1.0/me/events", json=daily)
    events = await _view(microsoft)
    board = [e["start"]["dateTime"][:10] for e in events if e["subject"] == "Board"]
    gym = [e["start"]["dateTime"][:10] for e in events if e["subject"] == "Gym"]
    assert board == ["2026-10-06", "2026-11-03", "2026-12-01"]
    assert gym == ["2026-11-30", "2026-12-02", "2026-12-04", "2026-12-06"]


async def test_no_end_series_is_bounded_by_the_window(microsoft):
    start = datetime(2026, 9, 1, 12, tzinfo=UTC)
    microsoft.sandbox.create_event(
        microsoft.email,
        {
            "subject": "Forever",
            "start": {"dateTime": start.isoformat()[:19], "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()[:19], "timeZone": "UTC"},
            "recurrence": {
                "pattern": {"type": "daily"},
                "range": {"type": "noEnd", "startDate": "2026-09-01"},
            },
        },
    )
    events = await _view(microsoft)
    assert len(events) == (datetime(2027, 1, 1, tzinfo=UTC) - start).days + 1


async def test_invalid_recurrence_is_rejected(microsoft):
    body = dict(
        WEEKLY,
        recurrence={
            "pattern": {"type": "fortnightly"},
            "range": {"type": "noEnd", "startDate": "2026-10-05"},
        },
    )
    status, error, _ = await microsoft.call("POST", "/v1.0/me/events", json=body)
    assert status == 400 and error["error"]["code"] == "ErrorPropertyValidationFailure"


async def test_all_day_series_stays_on_whole_days_across_dst(microsoft):
    await microsoft.call(
        "POST",
        "/v1.0/me/events",
        json={
            "subject": "Holiday",
            "isAllDay": True,
            "showAs": "free",
            "start": {"dateTime": "2026-10-19T00:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-10-20T00:00:00", "timeZone": "W. Europe Standard Time"},
            "recurrence": {
                "pattern": {"type": "weekly", "daysOfWeek": ["monday"]},
                "range": {"type": "numbered", "startDate": "2026-10-19", "numberOfOccurrences": 3},
            },
        },
    )
    events = await _view(microsoft)
    assert [(e["start"]["dateTime"], e["end"]["dateTime"]) for e in events] == [
        ("2026-10-19T00:00:00.0000000", "2026-10-20T00:00:00.0000000"),
        ("2026-10-26T00:00:00.0000000", "2026-10-27T00:00:00.0000000"),
        ("2026-11-02T00:00:00.0000000", "2026-11-03T00:00:00.0000000"),
    ]


async def test_each_occurrence_has_its_own_ical_uid(microsoft):
    _, master, _ = await microsoft.call("POST", "/v1.0/me/events", json=WEEKLY)
    events = await _view(microsoft)
    uids = [e["iCalUId"] for e in events]
    assert len(set(uids)) == 6 and master["iCalUId"] not in uids
    assert all(uid[:32] == master["iCalUId"][:32] for uid in uids)


async def test_an_organizer_cancelling_a_series_cancels_its_exceptions_and_delta_reports_them(
    microsoft,
):
    """Another person's weekly meeting with one moved occurrence: when they cancel the series,
    Outlook marks every instance cancelled, the moved one included, and delta says so."""
    invitation = {
        **WEEKLY,
        "organizer": {"emailAddress": {"address": "dana@fabrikam.example"}},
        "attendees": [{"emailAddress": {"address": microsoft.email}, "type": "required"}],
    }
    master = microsoft.sandbox.create_event(microsoft.email, invitation)
    microsoft.sandbox.modify_occurrence(
        microsoft.email,
        master["id"],
        "2026-10-12T07:00:00Z",
        {
            "start": {"dateTime": "2026-10-13T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-10-13T10:30:00", "timeZone": "UTC"},
        },
    )
    _, delta_link = await _round(
        microsoft,
        "/v1.0/me/calendarView/delta?"
        "startDateTime=2026-09-01T00:00:00Z"
        "&endDateTime=2027-01-01T00:00:00Z",
    )
    microsoft.sandbox.cancel_event(microsoft.email, master["id"])
    changed, _ = await _round(microsoft, delta_link)
    moved = [e for e in changed if e["type"] == "exception"]
    assert len(moved) == 1 and moved[0]["isCancelled"] is True
    assert moved[0]["subject"].startswith("Canceled: ")
    assert all(e["isCancelled"] for e in await _view(microsoft))
