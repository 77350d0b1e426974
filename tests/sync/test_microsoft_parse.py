"""Graph calendarView delta items → `ProviderEvent`: kinds, statuses, removals, privacy,
responses and times, on hand-written payloads shaped like Graph's (no server)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from sync.model import Attendee, EventKind, EventStatus, ProviderEvent, Response
from sync.provider import EventDraft, NotSupported
from sync.providers.microsoft.parse import draft_to_event, parse_event, parse_page, parse_series
from sync.providers.microsoft.wire import Event, RemovedEvent

MASTER_ID = "AAMkAGI2TAAA-series="
ORGANIZER = {"emailAddress": {"name": "Alice Contoso", "address": "Alice@Contoso.example"}}


def _single(**changes: Any) -> Event:
    """A singleInstance as calendarView delta returns it with `Prefer: outlook.timezone="UTC"`."""
    event: dict[str, Any] = {
        "@odata.etag": 'W/"DwAAABYAAAB1"',
        "id": "AAMkAGI2THVSAAA=",
        "createdDateTime": "2026-11-20T08:15:02.1234567Z",
        "lastModifiedDateTime": "2026-11-21T09:30:00.7654321Z",
        "changeKey": "DwAAABYAAAB1",
        "categories": [],
        "originalStartTimeZone": "W. Europe Standard Time",
        "originalEndTimeZone": "W. Europe Standard Time",
        "iCalUId": "040000008200E00074C5B7101A82E00800000000D0",
        "subject": "Quarterly review",
        "bodyPreview": "Agenda: numbers",
        "body": {"contentType": "html", "content": "<html><body>Agenda: numbers</body></html>"},
        "importance": "normal",
        "sensitivity": "normal",
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": True,
        "seriesMasterId": None,
        "showAs": "busy",
        "type": "singleInstance",
        "start": {"dateTime": "2026-12-01T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-01T10:00:00.0000000", "timeZone": "UTC"},
        "location": {"displayName": "Room 4", "locationType": "default"},
        "recurrence": None,
        "attendees": [
            {
                "type": "required",
                "status": {"response": "accepted", "time": "2026-11-21T09:00:00Z"},
                "emailAddress": {"name": "Dana Fabrikam", "address": "Dana@Fabrikam.example"},
            },
        ],
        "organizer": ORGANIZER,
    }
    event.update(changes)
    return cast(Event, event)


def _instance(kind: str, occurrence_id: str, original: str, /, **changes: Any) -> Event:
    """An occurrence or exception of the weekly series MASTER_ID (Monday 09:00 UTC), at its
    original time unless `changes` move it."""
    start, end = original, original.replace("T09:", "T10:")
    fields: dict[str, Any] = {
        "id": occurrence_id,
        "type": kind,
        "seriesMasterId": MASTER_ID,
        "originalStart": start + "Z",
        "start": {"dateTime": start + ".0000000", "timeZone": "UTC"},
        "end": {"dateTime": end + ".0000000", "timeZone": "UTC"},
    }
    return _single(**(fields | changes))


def _master(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "id": MASTER_ID,
        "type": "seriesMaster",
        "start": {"dateTime": "2026-12-07T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-07T10:00:00.0000000", "timeZone": "UTC"},
        "recurrence": {
            "pattern": {"type": "weekly", "daysOfWeek": ["monday"]},
            "range": {"type": "noEnd", "startDate": "2026-12-07"},
        },
    }
    return _single(**(fields | changes))


FIRST = _instance("occurrence", "AAMkOcc-1", "2026-12-07T09:00:00")
SECOND = _instance("occurrence", "AAMkOcc-2", "2026-12-14T09:00:00")


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def test_single_instance_maps_every_field() -> None:
    event = parse_event(_single())
    assert event == ProviderEvent(
        provider_event_id="AAMkAGI2THVSAAA=",
        kind=EventKind.SINGLE,
        status=EventStatus.CONFIRMED,
        ical_uid="040000008200E00074C5B7101A82E00800000000D0",
        title="Quarterly review",
        description="Agenda: numbers",
        location="Room 4",
        starts_at=_utc(2026, 12, 1, 9),
        ends_at=_utc(2026, 12, 1, 10),
        time_zone="Europe/Berlin",
        all_day=False,
        organizer_email="alice@contoso.example",
        attendees=(Attendee("dana@fabrikam.example", "Dana Fabrikam", Response.ACCEPTED),),
        private=False,
        created_at=_utc(2026, 11, 20, 8, 15, 2, 123456),
        updated_at=_utc(2026, 11, 21, 9, 30, 0, 765432),
        etag='W/"DwAAABYAAAB1"',
    )
    assert event.starts_at is not None and event.starts_at.tzinfo is UTC


def test_times_in_another_zone_are_converted_to_utc() -> None:
    event = parse_event(
        _single(
            start={"dateTime": "2026-07-01T09:00:00.0000000", "timeZone": "Pacific Standard Time"},
            end={"dateTime": "2026-07-01T10:00:00.0000000", "timeZone": "Europe/Berlin"},
        )
    )
    assert event.starts_at == _utc(2026, 7, 1, 16)  # PDT is UTC-7
    assert event.ends_at == _utc(2026, 7, 1, 8)  # CEST is UTC+2


def test_all_day_event_spans_midnights_utc() -> None:
    event = parse_event(
        _single(
            isAllDay=True,
            originalStartTimeZone="Tokyo Standard Time",
            start={"dateTime": "2026-12-24T00:00:00.0000000", "timeZone": "Tokyo Standard Time"},
            end={"dateTime": "2026-12-26T00:00:00.0000000", "timeZone": "Tokyo Standard Time"},
        )
    )
    assert event.all_day
    assert (event.starts_at, event.ends_at) == (_utc(2026, 12, 24), _utc(2026, 12, 26))
    assert event.time_zone == "Asia/Tokyo"


def test_text_body_is_the_description_html_body_gives_its_preview() -> None:
    long_text = "Line one\nLine two " + "x" * 300
    text = parse_event(
        _single(body={"contentType": "text", "content": long_text}, bodyPreview=long_text[:255])
    )
    assert text.description == long_text
    assert parse_event(_single()).description == "Agenda: numbers"


def test_plain_occurrence_belongs_to_its_series() -> None:
    event = parse_event(SECOND)
    assert event.kind is EventKind.OCCURRENCE
    assert event.provider_event_id == "AAMkOcc-2"
    assert event.series_id == MASTER_ID
    assert event.original_start == _utc(2026, 12, 14, 9)
    assert event.provider_alt_id is None


def test_first_occurrence_is_an_occurrence_like_the_others() -> None:
    event = parse_event(FIRST)
    assert (event.kind, event.provider_event_id) == (EventKind.OCCURRENCE, "AAMkOcc-1")
    assert event.series_id == MASTER_ID
    assert event.original_start == _utc(2026, 12, 7, 9)


def test_series_item_is_the_master_under_its_id() -> None:
    master = _master(subject="Weekly sync", iCalUId="040000008200E00074C5B7101A82E008000000SER")
    event = parse_series(MASTER_ID, master)
    assert event.kind is EventKind.SERIES
    assert event.provider_event_id == MASTER_ID
    assert event.status is EventStatus.CONFIRMED
    assert event.provider_alt_id is None
    assert event.series_id is None and event.original_start is None
    # The master's own details: its start and end are the first occurrence's.
    assert event.title == "Weekly sync"
    assert event.ical_uid == "040000008200E00074C5B7101A82E008000000SER"
    assert (event.starts_at, event.ends_at) == (_utc(2026, 12, 7, 9), _utc(2026, 12, 7, 10))
    assert event.attendees == (
        Attendee("dana@fabrikam.example", "Dana Fabrikam", Response.ACCEPTED),
    )


def test_gone_master_is_a_cancelled_series_item() -> None:
    assert parse_series(MASTER_ID, None) == ProviderEvent(
        provider_event_id=MASTER_ID, kind=EventKind.SERIES, status=EventStatus.CANCELLED
    )


def test_cancelled_master_cancels_the_series_item() -> None:
    event = parse_series(MASTER_ID, _master(isCancelled=True, subject="Canceled: Weekly sync"))
    assert (event.kind, event.status) == (EventKind.SERIES, EventStatus.CANCELLED)


def test_all_day_occurrence_original_start_is_midnight_utc_of_its_day() -> None:
    day = {"isAllDay": True, "originalStartTimeZone": "W. Europe Standard Time"}
    master = _master(
        **day,
        start={"dateTime": "2026-12-07T00:00:00.0000000", "timeZone": "W. Europe Standard Time"},
        end={"dateTime": "2026-12-08T00:00:00.0000000", "timeZone": "W. Europe Standard Time"},
    )
    second = _instance(
        "occurrence",
        "AAMkOcc-d2",
        "2026-12-14T00:00:00",
        **day,
        originalStart="2026-12-13T23:00:00Z",
        start={"dateTime": "2026-12-14T00:00:00.0000000", "timeZone": "W. Europe Standard Time"},
        end={"dateTime": "2026-12-15T00:00:00.0000000", "timeZone": "W. Europe Standard Time"},
    )
    series = parse_series(MASTER_ID, master)
    assert (series.all_day, series.starts_at, series.ends_at) == (
        True,
        _utc(2026, 12, 7),
        _utc(2026, 12, 8),
    )
    later = parse_event(second)
    assert later.kind is EventKind.OCCURRENCE
    # Midnight (Berlin) as Chronik's all-day instant: midnight UTC of that day.
    assert later.original_start == _utc(2026, 12, 14)


def test_moved_occurrence_is_an_exception_with_its_original_start() -> None:
    moved = _instance(
        "exception",
        "AAMkOcc-3",
        "2026-12-21T09:00:00",
        subject="Quarterly review (moved)",
        start={"dateTime": "2026-12-22T15:00:00.0000000", "timeZone": "UTC"},
        end={"dateTime": "2026-12-22T16:00:00.0000000", "timeZone": "UTC"},
    )
    event = parse_event(moved)
    assert event.kind is EventKind.EXCEPTION
    assert event.provider_event_id == "AAMkOcc-3"
    assert event.series_id == MASTER_ID
    assert event.original_start == _utc(2026, 12, 21, 9)
    assert event.starts_at == _utc(2026, 12, 22, 15)
    assert event.status is EventStatus.CONFIRMED


def test_edited_first_occurrence_is_an_exception_of_the_series() -> None:
    edited = _instance("exception", "AAMkOcc-1", "2026-12-07T09:00:00", subject="Kick-off")
    event = parse_event(edited)
    assert (event.kind, event.provider_event_id) == (EventKind.EXCEPTION, "AAMkOcc-1")
    assert event.series_id == MASTER_ID


def test_cancelled_occurrence_is_a_cancelled_exception() -> None:
    cancelled = _instance(
        "exception",
        "AAMkOcc-4",
        "2026-12-28T09:00:00",
        isCancelled=True,
        subject="Canceled: Quarterly review",
    )
    event = parse_event(cancelled)
    assert (event.kind, event.status) == (EventKind.EXCEPTION, EventStatus.CANCELLED)
    assert event.original_start == _utc(2026, 12, 28, 9)


def test_cancelled_series_cancels_its_series_item_and_leaves_occurrences_quiet() -> None:
    first = _instance("occurrence", "AAMkOcc-1", "2026-12-07T09:00:00", isCancelled=True)
    later = _instance("occurrence", "AAMkOcc-2", "2026-12-14T09:00:00", isCancelled=True)
    events = parse_page([first, later], {MASTER_ID: _master(isCancelled=True)})
    assert [(e.provider_event_id, e.kind, e.status) for e in events] == [
        (MASTER_ID, EventKind.SERIES, EventStatus.CANCELLED),
        ("AAMkOcc-1", EventKind.OCCURRENCE, EventStatus.CANCELLED),
        ("AAMkOcc-2", EventKind.OCCURRENCE, EventStatus.CANCELLED),
    ]


def test_cancelled_single_instance_is_a_cancelled_single() -> None:
    event = parse_event(_single(isCancelled=True, subject="Canceled: Quarterly review"))
    assert (event.kind, event.status) == (EventKind.SINGLE, EventStatus.CANCELLED)


def test_removed_stub_is_a_removal_with_nothing_else() -> None:
    stub = cast(
        RemovedEvent,
        {
            "@odata.type": "#microsoft.graph.event",
            "id": "AAMkOcc-1",
            "@removed": {"reason": "deleted"},
        },
    )
    assert parse_page([stub], {}) == [ProviderEvent(provider_event_id="AAMkOcc-1", removed=True)]


def test_page_puts_each_series_item_before_its_first_instance_once() -> None:
    other = _instance(
        "occurrence", "AAMkOcc-x", "2026-12-14T09:00:00", seriesMasterId="AAMkAOther="
    )
    moved_first = _instance("exception", "AAMkOcc-1", "2026-12-07T09:00:00", subject="Kick-off")
    events = parse_page(
        [_single(), moved_first, SECOND, other],
        {MASTER_ID: _master(subject="Weekly sync"), "AAMkAOther=": None},
    )
    assert [(e.kind, e.provider_event_id, e.status) for e in events] == [
        (EventKind.SINGLE, "AAMkAGI2THVSAAA=", EventStatus.CONFIRMED),
        (EventKind.SERIES, MASTER_ID, EventStatus.CONFIRMED),
        (EventKind.EXCEPTION, "AAMkOcc-1", EventStatus.CONFIRMED),
        (EventKind.OCCURRENCE, "AAMkOcc-2", EventStatus.CONFIRMED),
        # The other series' master answered 404: the whole series is gone.
        (EventKind.SERIES, "AAMkAOther=", EventStatus.CANCELLED),
        (EventKind.OCCURRENCE, "AAMkOcc-x", EventStatus.CONFIRMED),
    ]
    assert events[1].title == "Weekly sync"


def test_series_without_a_read_master_gets_no_series_item() -> None:
    assert [e.kind for e in parse_page([SECOND], {})] == [EventKind.OCCURRENCE]


def test_private_and_confidential_are_private_personal_is_not() -> None:
    sensitivity = {
        s: parse_event(_single(sensitivity=s)).private
        for s in ("normal", "personal", "private", "confidential")
    }
    assert sensitivity == {
        "normal": False,
        "personal": False,
        "private": True,
        "confidential": True,
    }


def test_attendee_responses_and_organizer() -> None:
    def attendee(address: str, response: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "required", "emailAddress": {"address": address}}
        if response is not None:
            entry["status"] = {"response": response, "time": "0001-01-01T00:00:00Z"}
        return entry

    answers = [
        "none",
        "organizer",
        "tentativelyAccepted",
        "accepted",
        "declined",
        "notResponded",
        None,
    ]
    raw = [attendee(f"Guest{n}@Example.com", r) for n, r in enumerate(answers)]
    raw.append(attendee("ALICE@contoso.example", "accepted"))
    raw.append({"type": "resource", "emailAddress": {"name": "Room without address"}})
    event = parse_event(_single(attendees=raw))
    assert [(a.email, a.response, a.is_organizer) for a in event.attendees] == [
        ("guest0@example.com", Response.NONE, False),
        ("guest1@example.com", Response.ORGANIZER, True),
        ("guest2@example.com", Response.TENTATIVE, False),
        ("guest3@example.com", Response.ACCEPTED, False),
        ("guest4@example.com", Response.DECLINED, False),
        ("guest5@example.com", Response.NEEDS_ACTION, False),
        ("guest6@example.com", Response.NONE, False),
        ("alice@contoso.example", Response.ACCEPTED, True),  # the organizer's address
    ]
    assert event.attendees[0].display_name is None


def test_missing_optional_fields_stay_empty() -> None:
    bare = cast(
        Event,
        {
            "id": "AAMkBare=",
            "type": "singleInstance",
            "start": {"dateTime": "2026-12-01T09:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-01T09:30:00.0000000", "timeZone": "UTC"},
            "subject": "",
            "bodyPreview": "",
            "location": {"displayName": ""},
            "originalStartTimeZone": "tzone://Microsoft/Custom",
            "organizer": {},
            "attendees": [],
        },
    )
    event = parse_event(bare)
    assert event == ProviderEvent(
        provider_event_id="AAMkBare=",
        starts_at=_utc(2026, 12, 1, 9),
        ends_at=_utc(2026, 12, 1, 9, 30),
    )


def test_a_zone_without_a_windows_name_is_refused_clearly() -> None:
    draft = EventDraft(
        title="t",
        description=None,
        location=None,
        starts_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
        ends_at=datetime(2026, 3, 2, 10, tzinfo=UTC),
        time_zone="Factory",
        all_day=False,
        attendees=(),
    )
    with pytest.raises(NotSupported, match="Factory"):
        draft_to_event(draft)
    zurich = draft_to_event(replace(draft, time_zone="Europe/Zurich"))
    assert zurich["start"] == {
        "dateTime": "2026-03-02T10:00:00",
        "timeZone": "W. Europe Standard Time",
    }


def test_a_deleted_occurrence_is_a_cancelled_week_of_its_series() -> None:
    """Graph drops a deleted occurrence from calendarView; its master's cancelledOccurrences
    (OID.{master}.{date}, the date in the series' zone) is where the cancelled week is."""
    master = _master(
        subject="Weekly sync",
        originalStartTimeZone="W. Europe Standard Time",
        # 08:00 UTC is 09:00 in Berlin in winter; the cancelled date is in summer time.
        start={"dateTime": "2026-12-07T08:00:00.0000000", "timeZone": "UTC"},
        end={"dateTime": "2026-12-07T08:30:00.0000000", "timeZone": "UTC"},
        cancelledOccurrences=[f"OID.{MASTER_ID}.2027-06-07", "not-an-oid"],
    )
    [week] = parse_page([SECOND], {MASTER_ID: master})[1:2]
    assert week.provider_event_id == f"OID.{MASTER_ID}.2027-06-07"
    assert (week.kind, week.status, week.series_id) == (
        EventKind.EXCEPTION,
        EventStatus.CANCELLED,
        MASTER_ID,
    )
    # 09:00 Berlin summer time on the cancelled date, half an hour long like the series.
    assert (week.original_start, week.starts_at, week.ends_at) == (
        _utc(2027, 6, 7, 7),
        _utc(2027, 6, 7, 7),
        _utc(2027, 6, 7, 7, 30),
    )
    assert week.title == "Weekly sync"


def test_an_instance_carries_its_occurrence_id_as_alternative_key() -> None:
    oid = f"OID.{MASTER_ID}.2026-12-14"
    assert (
        parse_event(
            _instance("occurrence", "AAMkOcc-2", "2026-12-14T09:00:00", occurrenceId=oid)
        ).provider_alt_id
        == oid
    )
    assert parse_event(_single()).provider_alt_id is None
