"""sync/providers/google/parse.py on hand-written Google Calendar payloads shaped like
events.list items (singleEvents=false): singles, all-day, series masters, exceptions,
tombstones, privacy, attendee responses and sparse items."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.model import Attendee, EventKind, EventStatus, EventType, ProviderEvent, Response
from sync.providers.google.parse import parse_event
from sync.providers.google.wire import Event

SINGLE: Event = {
    "kind": "calendar#event",
    "etag": '"3512345678901000"',
    "id": "4fk2s9q1b7o3m5t0v8r6e2a1c4",
    "status": "confirmed",
    "htmlLink": "https://www.google.com/calendar/event?eid=NGZrMnM5cTFiN28zbTV0MHY4cjZlMmExYzQ",
    "created": "2026-11-02T08:15:30.000Z",
    "updated": "2026-11-20T14:03:12.417Z",
    "summary": "Quarterly review with Initech",
    "description": "Agenda: renewal, Q1 roadmap",
    "location": "Meeting room Elbe",
    "creator": {"email": "alice@acme.test", "self": True},
    "organizer": {"email": "Alice@Acme.test", "displayName": "Alice Example", "self": True},
    "start": {"dateTime": "2026-12-03T10:00:00+01:00", "timeZone": "Europe/Berlin"},
    "end": {"dateTime": "2026-12-03T11:30:00+01:00", "timeZone": "Europe/Berlin"},
    "iCalUID": "4fk2s9q1b7o3m5t0v8r6e2a1c4@google.com",
    "sequence": 2,
    "attendees": [
        {
            "email": "alice@acme.test",
            "displayName": "Alice Example",
            "organizer": True,
            "self": True,
            "responseStatus": "accepted",
        },
        {"email": "Peter.Gibbons@Initech.example", "responseStatus": "needsAction"},
        {"email": "bill@initech.example", "displayName": "Bill", "responseStatus": "declined"},
        {"email": "milton@initech.example", "responseStatus": "tentative", "optional": True},
    ],
    "reminders": {"useDefault": True},
    "eventType": "default",
}


def with_fields(base: Event, **changes: object) -> Event:
    item = dict(base)
    item.update(changes)
    return item  # type: ignore[return-value]


def test_single_event_maps_every_field() -> None:
    event = parse_event(SINGLE, "Europe/Berlin")
    assert event == ProviderEvent(
        provider_event_id="4fk2s9q1b7o3m5t0v8r6e2a1c4",
        kind=EventKind.SINGLE,
        status=EventStatus.CONFIRMED,
        ical_uid="4fk2s9q1b7o3m5t0v8r6e2a1c4@google.com",
        title="Quarterly review with Initech",
        description="Agenda: renewal, Q1 roadmap",
        location="Meeting room Elbe",
        starts_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 3, 10, 30, tzinfo=UTC),
        time_zone="Europe/Berlin",
        all_day=False,
        organizer_email="alice@acme.test",
        attendees=(
            Attendee("alice@acme.test", "Alice Example", Response.ACCEPTED, is_organizer=True),
            Attendee("peter.gibbons@initech.example", None, Response.NEEDS_ACTION),
            Attendee("bill@initech.example", "Bill", Response.DECLINED),
            Attendee("milton@initech.example", None, Response.TENTATIVE),
        ),
        private=False,
        created_at=datetime(2026, 11, 2, 8, 15, 30, tzinfo=UTC),
        updated_at=datetime(2026, 11, 20, 14, 3, 12, 417000, tzinfo=UTC),
        etag='"3512345678901000"',
    )


def test_times_are_utc_aware() -> None:
    event = parse_event(SINGLE, None)
    assert event.starts_at is not None and event.starts_at.tzinfo is UTC
    assert event.updated_at is not None and event.updated_at.utcoffset() is not None


def test_time_zone_falls_back_to_the_calendars() -> None:
    item = with_fields(
        SINGLE,
        start={"dateTime": "2026-12-03T10:00:00Z"},
        end={"dateTime": "2026-12-03T11:00:00Z"},
    )
    event = parse_event(item, "America/New_York")
    assert event.time_zone == "America/New_York"
    assert event.starts_at == datetime(2026, 12, 3, 10, tzinfo=UTC)


def test_local_time_without_offset_is_read_in_its_zone() -> None:
    item = with_fields(
        SINGLE,
        start={"dateTime": "2026-07-01T09:00:00", "timeZone": "Europe/Berlin"},
        end={"dateTime": "2026-07-01T10:00:00", "timeZone": "Europe/Berlin"},
    )
    assert parse_event(item, "UTC").starts_at == datetime(2026, 7, 1, 7, tzinfo=UTC)


def test_all_day_event_is_midnight_utc_with_exclusive_end() -> None:
    item = with_fields(
        SINGLE,
        summary="Offsite",
        start={"date": "2026-12-07"},
        end={"date": "2026-12-09"},  # two days: the 7th and the 8th
    )
    event = parse_event(item, "Europe/Berlin")
    assert event.all_day is True
    assert event.starts_at == datetime(2026, 12, 7, tzinfo=UTC)
    assert event.ends_at == datetime(2026, 12, 9, tzinfo=UTC)
    assert event.time_zone == "Europe/Berlin"


SERIES_ID = "7hq0c2m4ae9d1k3ub5n6s8v0pl"
MASTER: Event = {
    "kind": "calendar#event",
    "etag": '"3512000000000000"',
    "id": SERIES_ID,
    "status": "confirmed",
    "created": "2026-03-01T09:00:00.000Z",
    "updated": "2026-03-01T09:00:00.000Z",
    "summary": "Weekly sync with Globex",
    "organizer": {"email": "alice@acme.test", "self": True},
    "start": {"dateTime": "2026-03-16T09:00:00+01:00", "timeZone": "Europe/Berlin"},
    "end": {"dateTime": "2026-03-16T09:30:00+01:00", "timeZone": "Europe/Berlin"},
    "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10"],
    "iCalUID": f"{SERIES_ID}@google.com",
    "sequence": 0,
    "attendees": [{"email": "hank@globex.example", "responseStatus": "accepted"}],
}


def test_series_master_is_series_with_first_occurrence_times() -> None:
    event = parse_event(MASTER, "UTC")
    assert event.kind is EventKind.SERIES
    assert event.provider_event_id == SERIES_ID
    assert event.starts_at == datetime(2026, 3, 16, 8, tzinfo=UTC)
    assert event.ends_at == datetime(2026, 3, 16, 8, 30, tzinfo=UTC)
    assert event.series_id is None and event.original_start is None
    assert event.attendees == (Attendee("hank@globex.example", None, Response.ACCEPTED),)


def test_moved_occurrence_is_an_exception_of_its_series() -> None:
    moved: Event = {
        "kind": "calendar#event",
        "etag": '"3512100000000000"',
        "id": f"{SERIES_ID}_20260323T080000Z",
        "status": "confirmed",
        "created": "2026-03-01T09:00:00.000Z",
        "updated": "2026-03-18T16:20:00.000Z",
        "summary": "Weekly sync with Globex (moved)",
        "organizer": {"email": "alice@acme.test", "self": True},
        "start": {"dateTime": "2026-03-24T15:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-24T15:30:00+01:00", "timeZone": "Europe/Berlin"},
        "recurringEventId": SERIES_ID,
        "originalStartTime": {
            "dateTime": "2026-03-23T09:00:00+01:00",
            "timeZone": "Europe/Berlin",
        },
        "iCalUID": f"{SERIES_ID}@google.com",
        "sequence": 1,
    }
    event = parse_event(moved, "UTC")
    assert event.kind is EventKind.EXCEPTION
    assert event.status is EventStatus.CONFIRMED
    assert event.series_id == SERIES_ID
    assert event.original_start == datetime(2026, 3, 23, 8, tzinfo=UTC)
    assert event.starts_at == datetime(2026, 3, 24, 14, tzinfo=UTC)


def test_cancelled_occurrence_is_a_cancelled_exception() -> None:
    # Google lists a cancelled occurrence in this sparse form only.
    cancelled: Event = {
        "kind": "calendar#event",
        "etag": '"3512200000000000"',
        "id": f"{SERIES_ID}_20260330T070000Z",
        "status": "cancelled",
        "recurringEventId": SERIES_ID,
        "originalStartTime": {
            "dateTime": "2026-03-30T09:00:00+02:00",
            "timeZone": "Europe/Berlin",
        },
    }
    event = parse_event(cancelled, "UTC")
    assert event.kind is EventKind.EXCEPTION
    assert event.status is EventStatus.CANCELLED
    assert event.series_id == SERIES_ID
    assert event.original_start == datetime(2026, 3, 30, 7, tzinfo=UTC)
    assert event.starts_at is None and event.ends_at is None
    assert event.removed is False


def test_cancelled_all_day_occurrence_has_a_date_original_start() -> None:
    cancelled: Event = {
        "kind": "calendar#event",
        "etag": '"1"',
        "id": "gym0000000_20260602",
        "status": "cancelled",
        "recurringEventId": "gym0000000",
        "originalStartTime": {"date": "2026-06-02"},
    }
    assert parse_event(cancelled, "Europe/Berlin").original_start == datetime(
        2026, 6, 2, tzinfo=UTC
    )


def test_deleted_single_tombstone_keeps_only_what_is_there() -> None:
    tombstone: Event = {
        "kind": "calendar#event",
        "etag": '"3512300000000000"',
        "id": "4fk2s9q1b7o3m5t0v8r6e2a1c4",
        "status": "cancelled",
    }
    event = parse_event(tombstone, "Europe/Berlin")
    assert event == ProviderEvent(
        provider_event_id="4fk2s9q1b7o3m5t0v8r6e2a1c4",
        kind=EventKind.SINGLE,
        status=EventStatus.CANCELLED,
        time_zone="Europe/Berlin",
        etag='"3512300000000000"',
    )
    assert event.removed is False


def test_cancelled_single_with_details_keeps_them() -> None:
    event = parse_event(with_fields(SINGLE, status="cancelled"), None)
    assert (event.kind, event.status) == (EventKind.SINGLE, EventStatus.CANCELLED)
    assert event.title == "Quarterly review with Initech" and len(event.attendees) == 4


def test_tentative_status() -> None:
    assert parse_event(with_fields(SINGLE, status="tentative"), None).status is (
        EventStatus.TENTATIVE
    )


def test_private_and_confidential_are_private_default_and_public_are_not() -> None:
    for visibility, private in (
        ("private", True),
        ("confidential", True),
        ("public", False),
        ("default", False),
    ):
        assert parse_event(with_fields(SINGLE, visibility=visibility), None).private is private


def test_invitation_from_someone_else() -> None:
    invitation = with_fields(
        SINGLE,
        organizer={"email": "Peter.Gibbons@Initech.example", "displayName": "Peter"},
        attendees=[
            {
                "email": "peter.gibbons@initech.example",
                "organizer": True,
                "responseStatus": "accepted",
            },
            {"email": "alice@acme.test", "self": True},  # no responseStatus: needsAction
        ],
    )
    event = parse_event(invitation, None)
    assert event.organizer_email == "peter.gibbons@initech.example"
    assert event.attendees == (
        Attendee("peter.gibbons@initech.example", None, Response.ACCEPTED, is_organizer=True),
        Attendee("alice@acme.test", None, Response.NEEDS_ACTION),
    )


def test_attendee_without_email_is_skipped() -> None:
    item = with_fields(
        SINGLE, attendees=[{"id": "room-1", "resource": True}, {"email": "x@y.example"}]
    )
    assert [a.email for a in parse_event(item, None).attendees] == ["x@y.example"]


def test_missing_optional_fields_stay_empty() -> None:
    bare: Event = {
        "id": "bare000001",
        "start": {"dateTime": "2026-12-03T10:00:00Z"},
        "end": {"dateTime": "2026-12-03T10:15:00Z"},
    }
    event = parse_event(bare, None)
    assert event == ProviderEvent(
        provider_event_id="bare000001",
        starts_at=datetime(2026, 12, 3, 10, tzinfo=UTC),
        ends_at=datetime(2026, 12, 3, 10, 15, tzinfo=UTC),
    )
    assert event.status is EventStatus.CONFIRMED and event.kind is EventKind.SINGLE


def test_same_guest_answering_differently_on_two_events() -> None:
    accepted = with_fields(
        SINGLE, attendees=[{"email": "g@x.example", "responseStatus": "accepted"}]
    )
    declined = with_fields(
        SINGLE, attendees=[{"email": "G@x.example", "responseStatus": "declined"}]
    )
    assert parse_event(accepted, None).attendees == (
        Attendee("g@x.example", None, Response.ACCEPTED),
    )
    assert parse_event(declined, None).attendees == (
        Attendee("g@x.example", None, Response.DECLINED),
    )
    assert parse_event(accepted, None).attendees[0].response is Response.ACCEPTED


def test_event_types_are_read_and_gmails_placeholder_organizer_is_nobody() -> None:
    """https://developers.google.com/calendar/api/guides/event-types"""
    types = {
        "default": EventType.MEETING,
        "focusTime": EventType.FOCUS_TIME,
        "outOfOffice": EventType.OUT_OF_OFFICE,
        "workingLocation": EventType.WORKING_LOCATION,
        "birthday": EventType.BIRTHDAY,
        "fromGmail": EventType.FROM_MAIL,
        "somethingNew": EventType.OTHER,
    }
    for wire, expected in types.items():
        assert parse_event(with_fields(SINGLE, eventType=wire), None).event_type is expected
    gmail = with_fields(
        SINGLE,
        eventType="fromGmail",
        organizer={"email": "unknownorganizer@calendar.google.com"},
        attendees=[
            {"email": "unknownorganizer@calendar.google.com", "organizer": True},
            {"email": "alice@acme.test", "self": True, "responseStatus": "accepted"},
        ],
    )
    parsed = parse_event(gmail, None)
    assert parsed.organizer_email is None
    assert [a.email for a in parsed.attendees] == ["alice@acme.test"]
