"""iCalendar (RFC 5545) resources → Chronik's `ProviderEvent`s, and `EventDraft`s → iCalendar:
pure functions over the `icalendar` library, no I/O.

One CalDAV resource holds one UID: a master VEVENT (with RRULE for a series) and the
overridden occurrences (VEVENTs with RECURRENCE-ID). Ids (`provider_event_id`) are the
resource's name in the calendar collection (`abc.ics`), and `abc.ics#20261207T090000Z`
(`#` plus the RECURRENCE-ID in UTC, or `#20261207` for an all-day one) for an occurrence;
`#` never appears in a name, which is escaped as it is in URLs.

Mapped as the Google and Microsoft parsers map their feeds, so the rules see the same events:
- a master with RRULE or RDATE → SERIES (start/end its DTSTART/DTEND); without → SINGLE;
- an override → EXCEPTION (`series_id` the resource's name, `original_start` its
  RECURRENCE-ID), cancelled when its STATUS is CANCELLED;
- an EXDATE of the master → a cancelled EXCEPTION of that occurrence (Google reports a deleted
  occurrence the same way), unless an override for it exists;
- CLASS:PRIVATE or CONFIDENTIAL → `private`; STATUS → `status` (none: CONFIRMED);
- ORGANIZER and ATTENDEE `mailto:` addresses, lower-cased, with CN and PARTSTAT (other
  calendar-user addresses, e.g. `urn:uuid:` principals, carry no email and are skipped);
- CREATED → `created_at` (absent: None, so rule 5 cannot hold the event back), LAST-MODIFIED
  (else DTSTAMP) → `updated_at`, the resource's ETag → `etag` (shared by all its items);
- DATE values → all-day, midnight UTC of the first day and of the day after the last;
  DTSTART's TZID → `time_zone` when the tz database knows it; floating times are read as UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from sync.model import Attendee, EventKind, EventStatus, ProviderEvent, Response
from sync.provider import EventDraft

PRODID = "-//Chronik//CalDAV provider//EN"
OCCURRENCE_MARK = "#"

_STATUS = {
    "CONFIRMED": EventStatus.CONFIRMED,
    "TENTATIVE": EventStatus.TENTATIVE,
    "CANCELLED": EventStatus.CANCELLED,
}
_PARTSTAT = {
    "NEEDS-ACTION": Response.NEEDS_ACTION,
    "ACCEPTED": Response.ACCEPTED,
    "TENTATIVE": Response.TENTATIVE,
    "DECLINED": Response.DECLINED,
}
_PRIVATE = frozenset({"PRIVATE", "CONFIDENTIAL"})


class CalendarDataError(ValueError):
    """A resource's calendar data is not iCalendar the library can read."""


# -- ids -------------------------------------------------------------------------------------


def stamp(moment: date | datetime) -> str:
    """An occurrence's RECURRENCE-ID as it appears in ids: UTC `YYYYMMDDTHHMMSSZ`, or
    `YYYYMMDD` for an all-day one (floating times read as UTC)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return moment.strftime("%Y%m%d")


def occurrence_id(name: str, moment: date | datetime) -> str:
    return f"{name}{OCCURRENCE_MARK}{stamp(moment)}"


def split_id(provider_event_id: str) -> tuple[str, str | None]:
    """(resource name, occurrence stamp or None)."""
    name, mark, rest = provider_event_id.partition(OCCURRENCE_MARK)
    return name, (rest if mark else None)


def stamp_instant(text: str) -> datetime | None:
    """The UTC instant a stamp names (midnight UTC for an all-day one); None if malformed."""
    for pattern in ("%Y%m%dT%H%M%SZ", "%Y%m%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


# -- reading ---------------------------------------------------------------------------------


def read_calendar(data: bytes | str) -> icalendar.Calendar:
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as exc:  # the library raises ValueError, KeyError, IndexError...
        raise CalendarDataError(f"unreadable iCalendar data: {exc}") from exc
    if not isinstance(calendar, icalendar.Calendar):
        raise CalendarDataError("unreadable iCalendar data: not a VCALENDAR")
    return calendar


def vevents(calendar: icalendar.Calendar) -> tuple[Any | None, list[Any]]:
    """(the master VEVENT or None, the overrides) of a resource."""
    master = None
    overrides = []
    for component in calendar.walk("VEVENT"):
        if "RECURRENCE-ID" in component:
            overrides.append(component)
        elif master is None:
            master = component
    return master, overrides


def parse_resource(name: str, etag: str | None, data: bytes | str) -> list[ProviderEvent]:
    """Every item of one calendar resource, the master first. A resource without VEVENT (a
    VTODO) gives none. `CalendarDataError` when the data cannot be read."""
    return parse_calendar(name, etag, read_calendar(data))


def parse_calendar(
    name: str, etag: str | None, calendar: icalendar.Calendar
) -> list[ProviderEvent]:
    master, overrides = vevents(calendar)
    items: list[ProviderEvent] = []
    overridden = {stamp(o.decoded("RECURRENCE-ID")) for o in overrides}
    if master is not None:
        recurring = "RRULE" in master or "RDATE" in master
        series = _event(master, name, etag, EventKind.SERIES if recurring else EventKind.SINGLE)
        items.append(series)
        if recurring:
            for excluded in exdates(master):
                if stamp(excluded) not in overridden:
                    items.append(_cancelled_week(series, name, excluded))
    for override in overrides:
        original = override.decoded("RECURRENCE-ID")
        item_id = occurrence_id(name, original)
        if master is None:
            # Invited to one occurrence only: the calendar holds no series to attach it to.
            items.append(_event(override, item_id, etag, EventKind.SINGLE))
            continue
        item = _event(override, item_id, etag, EventKind.EXCEPTION)
        item.series_id = name
        item.original_start = instant(original)
        items.append(item)
    return items


def sub_stamps(items: Iterable[ProviderEvent]) -> list[str]:
    """The occurrence stamps among a resource's items (its overrides and EXDATEs)."""
    return sorted(s for item in items if (s := split_id(item.provider_event_id)[1]) is not None)


def _event(component: Any, item_id: str, etag: str | None, kind: EventKind) -> ProviderEvent:
    start_prop = component.get("DTSTART")
    starts = start_prop.dt if start_prop is not None else None
    ends = _end(component, starts)
    organizer = calendar_address(component.get("ORGANIZER"))
    created = component.get("CREATED")
    modified = component.get("LAST-MODIFIED") or component.get("DTSTAMP")
    status = str(component.get("STATUS", "CONFIRMED")).upper()
    return ProviderEvent(
        provider_event_id=item_id,
        kind=kind,
        status=_STATUS.get(status, EventStatus.CONFIRMED),
        ical_uid=_text(component.get("UID")),
        title=_text(component.get("SUMMARY")),
        description=_text(component.get("DESCRIPTION")),
        location=_text(component.get("LOCATION")),
        starts_at=instant(starts) if starts is not None else None,
        ends_at=instant(ends) if ends is not None else None,
        time_zone=zone_name(start_prop) if start_prop is not None else None,
        all_day=starts is not None and not isinstance(starts, datetime),
        organizer_email=organizer,
        attendees=parse_attendees(component, organizer),
        private=str(component.get("CLASS", "PUBLIC")).upper() in _PRIVATE,
        created_at=instant(created.dt) if created is not None else None,
        updated_at=instant(modified.dt) if modified is not None else None,
        etag=etag,
    )


def _cancelled_week(series: ProviderEvent, name: str, excluded: date | datetime) -> ProviderEvent:
    start = instant(excluded)
    length = (
        series.ends_at - series.starts_at
        if series.ends_at is not None and series.starts_at is not None
        else timedelta(0)
    )
    return ProviderEvent(
        provider_event_id=occurrence_id(name, excluded),
        kind=EventKind.EXCEPTION,
        status=EventStatus.CANCELLED,
        ical_uid=series.ical_uid,
        title=series.title,
        starts_at=start,
        ends_at=start + length,
        time_zone=series.time_zone,
        all_day=series.all_day,
        organizer_email=series.organizer_email,
        private=series.private,
        series_id=name,
        original_start=start,
        created_at=series.created_at,
        # The series' last change is when the occurrence was excluded (as near as iCalendar
        # tells): the engine records it as the week's cancellation time.
        updated_at=series.updated_at,
        etag=series.etag,
    )


def _end(component: Any, starts: date | datetime | None) -> date | datetime | None:
    end_prop = component.get("DTEND")
    if end_prop is not None:
        ends: date | datetime = end_prop.dt
        return ends
    if starts is None:
        return None
    duration = component.get("DURATION")
    if duration is not None:
        return starts + duration.dt
    # RFC 5545 §3.6.1: a DATE start without end lasts one day, a DATE-TIME one ends at once.
    return starts + timedelta(days=1) if not isinstance(starts, datetime) else starts


def exdates(component: Any) -> Iterator[date | datetime]:
    """The master's EXDATE values (one property may list several; several may be present)."""
    value = component.get("EXDATE")
    if value is None:
        return
    for group in value if isinstance(value, list) else [value]:
        for item in group.dts:
            yield item.dt


def instant(value: date | datetime) -> datetime:
    """A DATE-TIME in UTC (floating read as UTC), a DATE as midnight UTC of that day."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def zone_name(prop: Any) -> str | None:
    """The IANA zone of a DTSTART: the tzinfo's key, else its TZID when the tz database knows
    it, "UTC" for a UTC time; None for DATE values, floating times and unknown zones."""
    value = prop.dt
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    key = getattr(value.tzinfo, "key", None)
    if isinstance(key, str) and key:
        return key
    tzid = prop.params.get("TZID")
    if tzid:
        try:
            ZoneInfo(str(tzid))
            return str(tzid)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if value.tzinfo is UTC or str(value.tzinfo) == "UTC":
        return "UTC"
    return None


def calendar_address(value: Any) -> str | None:
    """The email of a calendar-user address (`mailto:Ana@X.test` → `ana@x.test`); None for
    other URIs."""
    if value is None:
        return None
    text = str(value).strip()
    if text[:7].lower() != "mailto:":
        return None
    email = text[7:].strip().lower()
    return email if "@" in email else None


def parse_attendees(component: Any, organizer: str | None) -> tuple[Attendee, ...]:
    value = component.get("ATTENDEE")
    if value is None:
        return ()
    parsed = []
    for item in value if isinstance(value, list) else [value]:
        email = calendar_address(item)
        if email is None:
            continue
        params = getattr(item, "params", {})
        partstat = str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()
        name = params.get("CN")
        parsed.append(
            Attendee(
                email=email,
                display_name=str(name) if name else None,
                response=_PARTSTAT.get(partstat, Response.NEEDS_ACTION),
                is_organizer=email == organizer,
            )
        )
    return tuple(parsed)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text or None


# -- writing ---------------------------------------------------------------------------------


def new_calendar(
    draft: EventDraft, *, uid: str, owner_email: str, schedule: bool, now: datetime
) -> icalendar.Calendar:
    """A VCALENDAR holding one VEVENT for `draft`, organised by `owner_email`. `schedule`
    False marks every attendee SCHEDULE-AGENT=CLIENT (RFC 6638 §7.1): a scheduling server
    then sends them nothing."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    event = icalendar.Event()
    event.add("UID", uid)
    # iCalendar times have whole seconds: rounded up, so that a meeting scheduled in the
    # second the calendar was linked is not taken for one made before it (rule 5).
    created = now.astimezone(UTC)
    if created.microsecond:
        created = created.replace(microsecond=0) + timedelta(seconds=1)
    event.add("CREATED", created)
    event.add("SEQUENCE", 0)
    event.add("STATUS", "CONFIRMED")
    apply_draft(event, draft, owner_email=owner_email, schedule=schedule, now=now)
    calendar.add_component(event)
    _add_timezones(calendar)
    return calendar


def apply_draft(
    event: Any, draft: EventDraft, *, owner_email: str, schedule: bool, now: datetime
) -> None:
    """Make the VEVENT show `draft`: title, description, location, times and zone, and the
    guests (those who stay keep their PARTSTAT; added ones NEEDS-ACTION; the organizer's own
    entry kept or added as ACCEPTED). DTSTAMP and LAST-MODIFIED become `now`."""
    for key in ("SUMMARY", "DESCRIPTION", "LOCATION", "DTSTART", "DTEND", "DURATION"):
        event.pop(key, None)
    event.add("SUMMARY", draft.title)
    if draft.description:
        event.add("DESCRIPTION", draft.description)
    if draft.location:
        event.add("LOCATION", draft.location)
    event.add("DTSTART", _draft_time(draft, draft.starts_at))
    event.add("DTEND", _draft_time(draft, draft.ends_at))
    previous = {calendar_address(a): a for a in listed(event.get("ATTENDEE"))}
    event.pop("ATTENDEE", None)
    event.pop("ORGANIZER", None)
    if draft.attendees:
        organizer = icalendar.vCalAddress(f"mailto:{owner_email}")
        event.add("ORGANIZER", organizer)
        own = previous.get(owner_email)
        event.add("ATTENDEE", own if own is not None else _attendee(owner_email, None, "ACCEPTED"))
        for email, display_name in draft.attendees:
            if email == owner_email:
                continue
            kept = previous.get(email)
            partstat = str(kept.params.get("PARTSTAT", "NEEDS-ACTION")) if kept else None
            event.add("ATTENDEE", _attendee(email, display_name, partstat or "NEEDS-ACTION"))
    set_schedule_agent(event, schedule=schedule)
    touch(event, now)


def set_schedule_agent(event: Any, *, schedule: bool) -> None:
    """SCHEDULE-AGENT=CLIENT on every attendee when the server must not mail them; removed
    (the server's default, SERVER) when it should."""
    for attendee in listed(event.get("ATTENDEE")):
        if schedule:
            attendee.params.pop("SCHEDULE-AGENT", None)
        else:
            attendee.params["SCHEDULE-AGENT"] = "CLIENT"


def touch(event: Any, now: datetime) -> None:
    for key in ("DTSTAMP", "LAST-MODIFIED"):
        event.pop(key, None)
        event.add(key, now.astimezone(UTC))


def raise_sequence(event: Any) -> None:
    sequence = int(event.get("SEQUENCE", 0))
    event.pop("SEQUENCE", None)
    event.add("SEQUENCE", sequence + 1)


def draft_applied(draft: EventDraft, event: ProviderEvent) -> bool:
    """Whether `event` (as parsed) already shows `draft`: what `apply_draft` writes."""
    guests = {a.email for a in event.attendees} - {event.organizer_email}
    wanted = {email for email, _ in draft.attendees} - {event.organizer_email}
    return (
        event.title == draft.title
        and (event.description or None) == (draft.description or None)
        and (event.location or None) == (draft.location or None)
        and event.starts_at == draft.starts_at
        and event.ends_at == draft.ends_at
        and event.all_day == draft.all_day
        and guests == wanted
    )


def _draft_time(draft: EventDraft, moment: datetime) -> date | datetime:
    if draft.all_day:
        return moment.astimezone(UTC).date()
    try:
        zone = ZoneInfo(draft.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone)


def _attendee(email: str, display_name: str | None, partstat: str) -> Any:
    address = icalendar.vCalAddress(f"mailto:{email}")
    if display_name:
        address.params["CN"] = display_name
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = "REQ-PARTICIPANT"
    address.params["PARTSTAT"] = partstat
    if partstat == "NEEDS-ACTION":
        address.params["RSVP"] = "TRUE"
    return address


def listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _add_timezones(calendar: icalendar.Calendar) -> None:
    """VTIMEZONE for every TZID used (RFC 5545 §3.6.5 requires them)."""
    add = getattr(calendar, "add_missing_timezones", None)
    if add is not None:
        add()


def serialize(calendar: icalendar.Calendar) -> bytes:
    _add_timezones(calendar)
    data: bytes = calendar.to_ical()
    return data
