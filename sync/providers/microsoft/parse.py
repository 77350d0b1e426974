"""Microsoft Graph calendarView delta items (wire format) → Chronik's `ProviderEvent`.

Pure functions, no I/O. On the hot path of every sync: per event a handful of dict lookups and
`datetime.fromisoformat` calls, no regular expressions, no validation library.

calendarView delta lists instances, never series masters: a series arrives as its occurrences
(type `occurrence`, unchanged) and exceptions (type `exception`, edited or cancelled). Every
instance, the first one included, is an OCCURRENCE or EXCEPTION by its own type. The SERIES item
is the series master itself, which the caller reads (`GET /me/events/{seriesMasterId}`) and
passes in: `parse_page` emits it, under the master's id, ahead of the first instance of that
series on each page (an idempotent upsert, so repeating it on later pages is harmless). A
master that is gone (404) makes the SERIES item CANCELLED: the whole series was deleted. So the
series never depends on one instance: moving, answering or cancelling the first occurrence
only touches that occurrence, and a full listing and an incremental one agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync.model import Attendee, EventKind, EventStatus, ProviderEvent, Response
from sync.provider import EventDraft, NotSupported
from sync.providers.microsoft.wire import Attendee as WireAttendee
from sync.providers.microsoft.wire import (
    DateTimeTimeZone,
    EmailAddress,
    Event,
    Recipient,
    RemovedEvent,
    ResponseStatus,
    ScheduleItem,
)
from sync.providers.microsoft.zones import WINDOWS_ZONES, UnknownTimeZone, windows_name

_RESPONSE = {
    "none": Response.NONE,
    "organizer": Response.ORGANIZER,
    "tentativelyAccepted": Response.TENTATIVE,
    "accepted": Response.ACCEPTED,
    "declined": Response.DECLINED,
    "notResponded": Response.NEEDS_ACTION,
}
# `personal` only marks an event as the owner's own business; Outlook still shows its details
# to delegates, so it is not private.
_PRIVATE = frozenset({"private", "confidential"})


def parse_page(
    items: Iterable[Event | RemovedEvent], masters: Mapping[str, Event | None]
) -> list[ProviderEvent]:
    """Every item of one delta page, in order, each series' SERIES item (`parse_series`) just
    before its first instance on the page. `masters` maps a seriesMasterId to its master as
    `GET /me/events/{id}` answers it, or None when that answered 404 (the series is gone); a
    series missing from `masters` gets no SERIES item."""
    events = []
    emitted: set[str] = set()
    for item in items:
        if "@removed" in item:
            events.append(ProviderEvent(provider_event_id=item["id"], removed=True))
            continue
        event = cast(Event, item)
        master_id = event.get("seriesMasterId")
        if master_id and master_id not in emitted and master_id in masters:
            emitted.add(master_id)
            events.append(parse_series(master_id, masters[master_id]))
            events.extend(cancelled_weeks(master_id, masters[master_id]))
        events.append(parse_event(event))
    return events


def cancelled_weeks(master_id: str, master: Event | None) -> list[ProviderEvent]:
    """The master's deleted occurrences (`cancelledOccurrences`, read with the master), each
    as a cancelled EXCEPTION keyed by its occurrenceId: calendarView and its delta drop a
    deleted occurrence (delta says `@removed` with its id only), so the master is where a
    cancelled week of a series is known. Its original start is the series' start time on the
    occurrence's date, in the series' recurrence time zone."""
    if master is None or not master.get("cancelledOccurrences"):
        return []
    start, end = master.get("start"), master.get("end")
    if not start or not end:
        return []
    all_day = master.get("isAllDay", False)
    first, last = parse_when(start, all_day), parse_when(end, all_day)
    recurrence = master.get("recurrence")
    series_range = recurrence.get("range") if recurrence else None
    zone = _zone(
        (series_range.get("recurrenceTimeZone") if series_range else None)
        or master.get("originalStartTimeZone")
    )
    wall = first.astimezone(zone).time()
    weeks = []
    for oid in master.get("cancelledOccurrences", []):
        try:
            day = date.fromisoformat(oid.rpartition(".")[2])
        except ValueError:
            continue  # not Graph's documented OID.{id}.{date} form: nothing to place
        if all_day:
            original = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            original = datetime.combine(day, wall, zone).astimezone(UTC)
        weeks.append(
            ProviderEvent(
                provider_event_id=oid,
                kind=EventKind.EXCEPTION,
                status=EventStatus.CANCELLED,
                title=master.get("subject") or None,
                starts_at=original,
                ends_at=original + (last - first),
                all_day=all_day,
                time_zone=iana_name(master.get("originalStartTimeZone")),
                series_id=master_id,
                original_start=original,
            )
        )
    return weeks


def parse_series(master_id: str, master: Event | None) -> ProviderEvent:
    """The SERIES item of a series from its master: the master's own fields (its start and end
    are the first occurrence's), or CANCELLED with nothing else when the master is gone."""
    if master is None:
        return ProviderEvent(
            provider_event_id=master_id, kind=EventKind.SERIES, status=EventStatus.CANCELLED
        )
    return parse_event(cast(Event, {**master, "id": master_id, "type": "seriesMaster"}))


def parse_event(item: Event) -> ProviderEvent:
    """One (not removed) Graph event as a `ProviderEvent`.

    Kind by Graph's `type`: `singleInstance` → SINGLE; `seriesMaster` → SERIES (never in a
    calendarView page: see `parse_series`); `occurrence` → OCCURRENCE and `exception` →
    EXCEPTION, both with `series_id` = seriesMasterId and `original_start`. `isCancelled` →
    CANCELLED, every other event CONFIRMED (Graph has no tentative event status). An
    `occurrence` is only cancelled when its whole series is (one cancelled instance becomes an
    `exception`, or leaves the view).
    """
    start = item.get("start")
    end = item.get("end")
    all_day = item.get("isAllDay", False)
    starts_at = parse_when(start, all_day) if start else None
    kind = EventKind.SINGLE
    series_id = None
    original_start = None
    event_type = item.get("type")
    if event_type in ("occurrence", "exception"):
        kind = EventKind.OCCURRENCE if event_type == "occurrence" else EventKind.EXCEPTION
        series_id = item.get("seriesMasterId")
        original_start = _original_start(item, all_day) or starts_at
    elif event_type == "seriesMaster":
        kind = EventKind.SERIES
    attendees = item.get("attendees")
    organizer_email = _organizer_address(item.get("organizer"), attendees or [])
    location = item.get("location")
    created = item.get("createdDateTime")
    updated = item.get("lastModifiedDateTime")
    return ProviderEvent(
        provider_event_id=item["id"],
        kind=kind,
        status=EventStatus.CANCELLED if item.get("isCancelled") else EventStatus.CONFIRMED,
        ical_uid=item.get("iCalUId"),
        title=item.get("subject") or None,
        description=_description(item),
        location=(location.get("displayName") or None) if location else None,
        starts_at=starts_at,
        ends_at=parse_when(end, all_day) if end else None,
        time_zone=iana_name(item.get("originalStartTimeZone")),
        all_day=all_day,
        organizer_email=organizer_email.lower() if organizer_email else None,
        attendees=parse_attendees(attendees, organizer_email) if attendees else (),
        private=item.get("sensitivity") in _PRIVATE,
        series_id=series_id,
        original_start=original_start,
        created_at=parse_timestamp(created) if created else None,
        updated_at=parse_timestamp(updated) if updated else None,
        etag=item.get("@odata.etag"),
        # The key a cancelled week of this date is stored under (`cancelled_weeks`): the
        # instance finds it when it comes back.
        provider_alt_id=item.get("occurrenceId") or None,
    )


def parse_attendees(
    attendees: list[WireAttendee], organizer_email: str | None = None
) -> tuple[Attendee, ...]:
    """Graph's attendees as `Attendee`s: emails lower-cased, `status.response` mapped (missing
    → NONE, Graph's own default), `is_organizer` when the response is `organizer` or the
    address is the organizer's. Entries without an SMTP address are skipped: Exchange may name
    a recipient by its X500 address (`/o=ExchangeLabs/ou=.../cn=Recipients/cn=...`), often
    beside the SMTP form of the same person (microsoft-graph-docs #13898), and an X500 address
    is nobody's email: it never becomes a contact."""
    organizer = organizer_email.lower() if organizer_email else None
    parsed = []
    for attendee in attendees:
        address = attendee.get("emailAddress") or {}
        email = smtp_address(address.get("address"))
        if not email:
            continue
        status = attendee.get("status")
        response = (
            _RESPONSE.get(status.get("response", "none"), Response.NONE)
            if status
            else (Response.NONE)
        )
        parsed.append(
            Attendee(
                email=email,
                display_name=address.get("name") or None,
                response=response,
                is_organizer=response is Response.ORGANIZER or email == organizer,
            )
        )
    return tuple(parsed)


def smtp_address(address: str | None) -> str | None:
    """`address` lower-cased when it is an SMTP address; None for an X500 address
    (legacyExchangeDN, starting with "/") or anything else without an "@"."""
    if not address or address.startswith("/") or "@" not in address:
        return None
    return address.strip().lower()


def _organizer_address(organizer: Recipient | None, attendees: list[WireAttendee]) -> str | None:
    """The organizer's SMTP address; for an X500 one, the SMTP address of the attendee with
    the same name (Graph lists both forms of a person side by side), else None."""
    if not organizer:
        return None
    named = organizer.get("emailAddress") or {}
    raw = named.get("address")
    if not raw or smtp_address(raw):
        return raw
    name = named.get("name")
    for attendee in attendees:
        other = attendee.get("emailAddress") or {}
        email = smtp_address(other.get("address"))
        if name and email and other.get("name") == name:
            return email
    return None


def parse_when(value: DateTimeTimeZone, all_day: bool) -> datetime:
    """A `start`/`end` as a UTC-aware datetime. All-day: midnight UTC of the `dateTime`'s date
    (Graph's all-day end is already the exclusive next midnight). Otherwise the wall time read
    in `timeZone` (UTC when Graph honoured `Prefer: outlook.timezone="UTC"`; an unknown zone is
    read as UTC)."""
    text = value["dateTime"]
    # Appending "Z" lets fromisoformat attach UTC itself: datetime.replace(tzinfo=...) costs
    # several times the parse, and this runs twice per event.
    if all_day:
        return datetime.fromisoformat(text[:10] + "T00:00:00Z")
    zone_name = value.get("timeZone")
    if zone_name == "UTC":
        try:
            return datetime.fromisoformat(text + "Z")
        except ValueError:  # the text carries its own offset after all
            pass
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone(zone_name))
    return moment.astimezone(UTC)


def parse_timestamp(text: str) -> datetime:
    """A DateTimeOffset (`2026-01-05T09:00:00.1234567Z`, as in `createdDateTime`) as a
    UTC-aware datetime (seven fraction digits are cut to six by `fromisoformat`)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is UTC:  # Graph writes Z: already what we want
        return moment
    if moment.tzinfo is None:  # a bare time is UTC by Graph's convention
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@lru_cache(maxsize=256)
def iana_name(name: str | None) -> str | None:
    """The IANA name for a Windows or IANA zone name; None when empty or unknown (Graph's
    "tzone://Microsoft/Custom" and other custom zones)."""
    if not name:
        return None
    candidate = WINDOWS_ZONES.get(name, name)
    try:
        ZoneInfo(candidate)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return candidate


@lru_cache(maxsize=256)
def _zone(name: str | None) -> tzinfo:
    iana = iana_name(name)
    return ZoneInfo(iana) if iana else UTC


def _original_start(item: Event, all_day: bool) -> datetime | None:
    text = item.get("originalStart")
    if not text:
        return None
    moment = parse_timestamp(text)
    if not all_day:
        return moment
    # An all-day occurrence originally started at midnight of its zone; Chronik's all-day
    # instants are midnight UTC of that day, so take the date there.
    local = moment.astimezone(_zone(item.get("originalStartTimeZone")))
    return datetime(local.year, local.month, local.day, tzinfo=UTC)


def _description(item: Event) -> str | None:
    # A text body is complete; bodyPreview is Graph's plain-text cut (255 chars) of an HTML one.
    body = item.get("body")
    if body and body.get("contentType") == "text":
        return body.get("content") or None
    return item.get("bodyPreview") or None


# -- Chronik → wire: event bodies for POST/PATCH /me/events ----------------------------------------

# getSchedule statuses during which the owner cannot take a meeting. `workingElsewhere` is
# available (just not at the desk); `free` and `unknown` are not busy.
_BUSY_STATUSES = frozenset({"busy", "tentative", "oof"})


def draft_to_event(draft: EventDraft, answers: Mapping[str, ResponseStatus] | None = None) -> Event:
    """The Graph event body for `draft`, every field it manages present so that a PATCH replaces
    them all (a missing description or location is sent empty, attendees as the full list).

    Times are wall times in the draft's IANA zone (`dateTimeTimeZone` without an offset, which
    Graph reads in `timeZone`), sent under that zone's Windows name (`windows_name`: Graph
    refuses most IANA names on create and update), so Outlook shows the event in that zone and
    records it as the event's `originalStartTimeZone`. An all-day event is midnight of its
    first day to midnight after its last, both in that zone, as Graph requires. Attendees are
    `required`; one whose lower-cased address is in `answers` (the event's current responses,
    `current_answers`) carries that `status`, so replacing the list does not forget who
    already accepted.
    """
    known = answers or {}
    attendees: list[WireAttendee] = []
    for email, name in draft.attendees:
        attendee: WireAttendee = {"emailAddress": _address(email, name), "type": "required"}
        if email.lower() in known:
            attendee["status"] = known[email.lower()]
        attendees.append(attendee)
    return {
        "subject": draft.title,
        "body": {"contentType": "text", "content": draft.description or ""},
        "location": {"displayName": draft.location or ""},
        "start": _wall_time(draft.starts_at, draft.time_zone, draft.all_day),
        "end": _wall_time(draft.ends_at, draft.time_zone, draft.all_day),
        "isAllDay": draft.all_day,
        "attendees": attendees,
    }


def current_answers(event: Event) -> dict[str, ResponseStatus]:
    """{lower-cased address: `status`} of the event's attendees that have both."""
    answers = {}
    for attendee in event.get("attendees") or []:
        address = (attendee.get("emailAddress") or {}).get("address")
        status = attendee.get("status")
        if address and status:
            answers[address.lower()] = status
    return answers


def _wall_time(moment: datetime, zone_name: str, all_day: bool) -> DateTimeTimeZone:
    if all_day:
        # Chronik's all-day instants are midnight UTC of the day; Graph wants that day's
        # midnight in the event's zone.
        wall = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        wall = moment.astimezone(ZoneInfo(zone_name))
    try:
        graph_zone = windows_name(zone_name)
    except UnknownTimeZone:
        raise NotSupported(
            f"Microsoft 365 has no time zone that keeps the time of {zone_name!r}."
        ) from None
    return {"dateTime": wall.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": graph_zone}


def _address(email: str, name: str | None) -> EmailAddress:
    return {"address": email, "name": name} if name else {"address": email}


# -- getSchedule → busy intervals ------------------------------------------------------------------


def parse_busy(
    items: Iterable[ScheduleItem], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The busy, tentative and out-of-office `scheduleItems` of a getSchedule answer as UTC
    intervals clipped to [start, end), sorted, with overlapping or touching ones merged (the
    shape Google's freeBusy gives). Items without start or end are skipped."""
    spans = []
    for item in items:
        if item.get("status") not in _BUSY_STATUSES or "start" not in item or "end" not in item:
            continue
        begins = max(parse_when(item["start"], False), start)
        ends = min(parse_when(item["end"], False), end)
        if begins < ends:
            spans.append((begins, ends))
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for begins, ends in spans:
        if merged and begins <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ends))
        else:
            merged.append((begins, ends))
    return merged
