"""Google Calendar events (wire format) → Chronik's `ProviderEvent`, and Chronik's
`EventDraft` → the wire bodies of events.insert/patch: pure functions, no I/O.

On the hot path of every sync: an events.list page is decoded straight into the typed structs
of wire.py (msgspec), then per event a handful of attribute reads and `fromisoformat` calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from sync.model import Attendee, EventKind, EventStatus, EventType, ProviderEvent, Response
from sync.provider import EventDraft
from sync.providers.google.wire import Attendee as WireAttendee
from sync.providers.google.wire import (
    Event,
    EventDateTime,
    ListedAttendee,
    ListedEvent,
    ListedTime,
)

_STATUS = {
    "confirmed": EventStatus.CONFIRMED,
    "tentative": EventStatus.TENTATIVE,
    "cancelled": EventStatus.CANCELLED,
}
_RESPONSE = {
    "needsAction": Response.NEEDS_ACTION,
    "accepted": Response.ACCEPTED,
    "tentative": Response.TENTATIVE,
    "declined": Response.DECLINED,
}
_PRIVATE = frozenset({"private", "confidential"})
# https://developers.google.com/calendar/api/guides/event-types
_EVENT_TYPES = {
    "default": EventType.MEETING,
    "focusTime": EventType.FOCUS_TIME,
    "outOfOffice": EventType.OUT_OF_OFFICE,
    "workingLocation": EventType.WORKING_LOCATION,
    "birthday": EventType.BIRTHDAY,
    "fromGmail": EventType.FROM_MAIL,
}
# The organizer Google names on events Gmail made from a message: an address of nobody.
GMAIL_ORGANIZER = "unknownorganizer@calendar.google.com"


def parse_event(item: Event, calendar_time_zone: str | None) -> ProviderEvent:
    """One `calendar#event` (decoded as a dict: events.get, insert, patch) as a
    `ProviderEvent`: `parse_listed` of its fields."""
    return parse_listed(msgspec.convert(item, ListedEvent), calendar_time_zone)


def parse_listed(item: ListedEvent, calendar_time_zone: str | None) -> ProviderEvent:
    """One `calendar#event` of an events.list page (singleEvents=false) as a `ProviderEvent`.

    Kind: `recurrence` → SERIES (start/end are the master's, i.e. the first occurrence);
    `recurringEventId` → EXCEPTION with `series_id` and `original_start`; otherwise SINGLE.
    Missing fields stay empty (a deleted event may carry only id, etag and status); `removed`
    is never set, because Google always says `status: cancelled` instead of dropping the id.
    `calendar_time_zone` (the envelope's `timeZone`) is the zone when `start` names none.
    """
    series_id = item.recurringEventId
    if item.recurrence:
        kind = EventKind.SERIES
    elif series_id is not None:
        kind = EventKind.EXCEPTION
    else:
        kind = EventKind.SINGLE
    start = item.start
    end = item.end
    time_zone = (start.timeZone if start else None) or calendar_time_zone
    organizer = item.organizer
    organizer_email = organizer.email if organizer else None
    if organizer_email is not None and organizer_email.lower() == GMAIL_ORGANIZER:
        organizer_email = None
    attendees = item.attendees
    original = item.originalStartTime
    created = item.created
    updated = item.updated
    return ProviderEvent(
        provider_event_id=item.id,
        kind=kind,
        status=_STATUS.get(item.status or "", EventStatus.CONFIRMED),
        ical_uid=item.iCalUID,
        title=item.summary,
        description=item.description,
        location=item.location,
        starts_at=_listed_when(start, time_zone) if start else None,
        ends_at=_listed_when(end, time_zone) if end else None,
        time_zone=time_zone,
        all_day=bool(start and start.date is not None),
        organizer_email=organizer_email.lower() if organizer_email else None,
        attendees=_listed_attendees(attendees) if attendees else (),
        private=item.visibility in _PRIVATE,
        series_id=series_id,
        original_start=_listed_when(original, time_zone) if original else None,
        created_at=parse_timestamp(created) if created else None,
        updated_at=parse_timestamp(updated) if updated else None,
        etag=item.etag,
        event_type=_EVENT_TYPES.get(item.eventType or "", EventType.OTHER),
    )


def parse_attendees(attendees: list[WireAttendee]) -> tuple[Attendee, ...]:
    """Google's attendee list as `Attendee`s (`_listed_attendees`)."""
    return _listed_attendees(msgspec.convert(attendees, list[ListedAttendee]))


def _listed_attendees(attendees: list[ListedAttendee]) -> tuple[Attendee, ...]:
    """Emails lower-cased, the organizer's own entry kept (`is_organizer=True`), a missing
    `responseStatus` read as needsAction (Google's default); entries without an email (Google
    hides some resources' addresses) and Gmail's placeholder organizer are skipped."""
    parsed = []
    for attendee in attendees:
        email = attendee.email
        if not email or email.lower() == GMAIL_ORGANIZER:
            continue
        key = (email, attendee.displayName, attendee.responseStatus, bool(attendee.organizer))
        known = _ATTENDEES.get(key)
        if known is None:
            known = _attendee(key)
        parsed.append(known)
    return tuple(parsed)


# The same guests with the same answers recur on most events of a calendar, and building a
# frozen dataclass costs several times a dict lookup; `Attendee` is immutable, so sharing is safe.
_ATTENDEES: dict[tuple[str, str | None, str | None, bool], Attendee] = {}
_ATTENDEE_CACHE_SIZE = 50_000


def _attendee(key: tuple[str, str | None, str | None, bool]) -> Attendee:
    email, display_name, response, is_organizer = key
    attendee = Attendee(
        email=email.lower(),
        display_name=display_name,
        response=_RESPONSE.get(response or "", Response.NEEDS_ACTION),
        is_organizer=is_organizer,
    )
    if len(_ATTENDEES) >= _ATTENDEE_CACHE_SIZE:
        _ATTENDEES.clear()
    _ATTENDEES[key] = attendee
    return attendee


def parse_when(value: EventDateTime, time_zone: str | None) -> datetime | None:
    """A `start`/`end`/`originalStartTime` as a UTC-aware datetime.

    `dateTime` is converted to UTC (Google always writes an offset; a bare local time is read
    in `time_zone`, or UTC without one). `date` (all-day) is midnight UTC of that day, so an
    all-day event's end stays Google's exclusive next day. None when neither field is there.
    """
    return _listed_when(msgspec.convert(value, ListedTime), time_zone)


def _listed_when(value: ListedTime, time_zone: str | None) -> datetime | None:
    """`parse_when` of a decoded `start`/`end`/`originalStartTime`."""
    text = value.dateTime
    if text is not None:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_zone(time_zone))
        return moment.astimezone(UTC)
    if value.date is not None:
        return datetime.fromisoformat(value.date).replace(tzinfo=UTC)
    return None


def parse_timestamp(text: str) -> datetime:
    """`created`/`updated` (RFC 3339, `2026-11-25T10:00:00.000Z`) as a UTC-aware datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _zone(name: str | None) -> ZoneInfo:
    # Only reached for a dateTime without offset, which Google does not send in practice.
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# -- Chronik's drafts as request bodies ------------------------------------------------------

# Fields a draft may leave empty: a patch sends them as null so Google clears them.
_CLEARABLE = ("description", "location")


def draft_to_event(draft: EventDraft) -> Event:
    """The events.insert body for `draft` (without `id`; the client chooses it).

    Timed: `dateTime` in UTC plus `timeZone` = the draft's zone, which is how Google shows and
    repeats the event. All-day: `date` values (end exclusive, as in the draft), no zone.
    `attendees` lists the draft's guests only (`[]` when none): the organizer is the calendar
    owner, whom Google knows without being told.
    """
    event: Event = {
        "summary": draft.title,
        "start": _when(draft.starts_at, draft),
        "end": _when(draft.ends_at, draft),
        "attendees": draft_attendees(draft, ()),
    }
    if draft.description:
        event["description"] = draft.description
    if draft.location:
        event["location"] = draft.location
    return event


def draft_to_patch(draft: EventDraft, current: Event) -> dict[str, object]:
    """The events.patch body that makes `current` look like `draft`: every draft field, with
    null for an empty description or location (patch semantics: null clears, absent keeps) and
    the attendee list merged by `draft_attendees`.

    Patch merges nested objects too, so `start`/`end` null the keys of the other kind: an
    all-day patch sends `dateTime: null, timeZone: null`, a timed one `date: null`. Without
    that, switching between timed and all-day leaves both `date` and `dateTime` and Google
    answers 400 "Invalid start time."
    https://developers.google.com/calendar/api/v3/reference/events/patch
    """
    body: dict[str, object] = dict(draft_to_event(draft))
    body["attendees"] = draft_attendees(draft, current.get("attendees", ()))
    body["start"] = _replacing(draft, draft.starts_at)
    body["end"] = _replacing(draft, draft.ends_at)
    for key in _CLEARABLE:
        body.setdefault(key, None)
    return body


def _replacing(draft: EventDraft, moment: datetime) -> dict[str, str | None]:
    """`_when`, with the keys of the other kind (all-day vs timed) set to null."""
    cleared: dict[str, str | None] = dict.fromkeys(("date", "dateTime", "timeZone"))
    cleared.update({key: str(value) for key, value in _when(moment, draft).items()})
    return cleared


def draft_applied(draft: EventDraft, event: Event) -> bool:
    """Whether `event` already shows `draft` (what `draft_to_patch` would write): title,
    description, location, times, zone and the guests besides the organizer."""
    start, end = event.get("start"), event.get("end")
    if not start or not end or ("date" in start) != draft.all_day:
        return False
    if not draft.all_day and start.get("timeZone") != draft.time_zone:
        return False
    attendees = event.get("attendees", [])
    organizers = {a["email"].lower() for a in attendees if a.get("organizer") and a.get("email")}
    guests = {a["email"].lower() for a in attendees if a.get("email")} - organizers
    wanted = {email for email, _ in draft.attendees} - organizers
    return (
        event.get("summary") == draft.title
        and (event.get("description") or None) == (draft.description or None)
        and (event.get("location") or None) == (draft.location or None)
        and parse_when(start, None) == draft.starts_at
        and parse_when(end, None) == draft.ends_at
        and guests == wanted
    )


def draft_attendees(draft: EventDraft, current: Iterable[WireAttendee]) -> list[WireAttendee]:
    """The attendee list to send for `draft`, given the event's `current` list.

    Google replaces the whole array, and an entry without `responseStatus` may be stored as
    needsAction, so guests who stay keep the answer `current` holds for them, and the
    organizer's own entry (which Google adds on events with guests) is kept as it is. Guests
    missing from the draft are dropped: Google then sends them a cancellation.
    """
    previous = {item["email"].lower(): item for item in current if item.get("email")}
    result = [item for item in previous.values() if item.get("organizer")]
    organizers = {item["email"].lower() for item in result}
    for email, display_name in draft.attendees:
        if email in organizers:
            continue
        attendee: WireAttendee = {"email": email}
        if display_name:
            attendee["displayName"] = display_name
        answer = previous.get(email, {}).get("responseStatus")
        if answer:
            attendee["responseStatus"] = answer
        result.append(attendee)
    return result


def _when(moment: datetime, draft: EventDraft) -> EventDateTime:
    if draft.all_day:
        # The draft's all-day bounds are midnight UTC, so the UTC date is the calendar day.
        return {"date": moment.astimezone(UTC).date().isoformat()}
    return {"dateTime": moment.astimezone(UTC).isoformat(), "timeZone": draft.time_zone}
