"""The Microsoft sandbox's mailboxes: users, their calendars and events, in memory.

Singles and series masters are stored as Graph resources; a series keeps its exceptions (modified
occurrences) and the original starts of its deleted occurrences. Occurrences are generated from the
master on demand (``view``), with ids derived from the master id and original start. Every change
is reported to the registered listeners (delta tracking needs nothing: it diffs views; push
notifications and the invitation outbox do).
"""

from __future__ import annotations

import copy
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from operator import itemgetter
from typing import Any, Literal, cast

from sync.providers.microsoft.wire import Calendar, Event, User

from .errors import GraphError, bad_request, not_found
from .ids import (
    IdFactory,
    etag,
    graph_occurrence_id,
    occurrence_ical_uid,
    occurrence_id,
    parse_occurrence_id,
)
from .recurrence import occurrence_starts
from .resources import (
    NEVER,
    PATCHABLE,
    apply_fields,
    bounds,
    bump,
    new_event,
    shifted,
    web_link,
)
from .timefmt import dttz, parse_dttz, short_offset_text, zone

ChangeType = Literal["created", "updated", "deleted"]


@dataclass(frozen=True)
class Change:
    """One change to a user's event, as push notifications report it."""

    email: str
    user_id: str
    event_id: str
    change_type: ChangeType
    etag: str


@dataclass
class EventRecord:
    """A single event or series master plus, for a series, its exceptions and deletions."""

    resource: Event
    calendar_id: str
    start: datetime
    end: datetime
    exceptions: dict[str, Event] = field(default_factory=dict)  # originalStart -> exception
    cancelled: set[str] = field(default_factory=set)  # originalStart of deleted occurrences

    @property
    def is_series(self) -> bool:
        return self.resource.get("type") == "seriesMaster"

    def series_zone(self) -> tzinfo:
        recurrence: dict[str, Any] = cast(dict[str, Any], self.resource.get("recurrence") or {})
        name = (recurrence.get("range") or {}).get("recurrenceTimeZone")
        return zone(name or self.resource.get("originalStartTimeZone") or "UTC")


@dataclass
class CalendarState:
    """A calendar: its events plus a change log (version, record id) that lets delta rounds
    look only at what changed since their sync state was taken."""

    id: str
    name: str
    change_key: str
    is_default: bool
    events: dict[str, EventRecord] = field(default_factory=dict)
    version: int = 0
    log_versions: list[int] = field(default_factory=list)
    log_ids: list[str] = field(default_factory=list)
    view_cache: tuple[datetime, datetime, int, list[Event]] | None = None

    def touch(self, record_id: str) -> None:
        """Record that the event (single or whole series) ``record_id`` changed."""
        self.version += 1
        self.log_versions.append(self.version)
        self.log_ids.append(record_id)

    def changed_since(self, version: int) -> list[str]:
        """Ids of records changed after ``version``, each once, oldest change first."""
        position = bisect_right(self.log_versions, version)
        return list(dict.fromkeys(self.log_ids[position:]))


@dataclass
class Mailbox:
    """One sandbox user."""

    id: str
    email: str
    display_name: str
    calendars: dict[str, CalendarState] = field(default_factory=dict)
    default_calendar_id: str = ""
    events: dict[str, EventRecord] = field(default_factory=dict)  # every calendar's
    transactions: dict[str, str] = field(default_factory=dict)  # transactionId -> event id
    # A personal Microsoft account (outlook.com, hotmail.com): no `mail` on /me, no getSchedule.
    personal: bool = False

    @property
    def default_calendar(self) -> CalendarState:
        return self.calendars[self.default_calendar_id]


@dataclass
class Mail:
    """A meeting message Outlook would have sent (kept for tests: ``/_sandbox/invitations``)."""

    kind: Literal["invitation", "update", "cancellation", "response"]
    sender: str
    to: str
    event_id: str
    ical_uid: str
    subject: str
    start: str
    sent: str
    comment: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "from": self.sender,
            "to": self.to,
            "eventId": self.event_id,
            "iCalUId": self.ical_uid,
            "subject": self.subject,
            "start": self.start,
            "sentDateTime": self.sent,
            "comment": self.comment,
        }


_MEETING_FIELDS = ("subject", "start", "end", "location", "body", "recurrence", "isAllDay")


class MailboxStore:
    """Users, calendars and events; every mutation bumps change keys and notifies listeners."""

    def __init__(self, ids: IdFactory, now: Callable[[], datetime]) -> None:
        self._ids = ids
        self._now = now
        self.users: dict[str, Mailbox] = {}
        self.outbox: list[Mail] = []
        self.listeners: list[Callable[[Change], None]] = []

    # -- users and calendars --------------------------------------------------------------------

    def create_user(self, email: str, display_name: str | None = None) -> Mailbox:
        """The user with ``email`` (created with a default calendar named "Calendar" if new)."""
        key = email.strip().lower()
        if key in self.users:
            return self.users[key]
        name = display_name or email.split("@")[0].replace(".", " ").title()
        user = Mailbox(id=self._ids.guid(), email=email.strip(), display_name=name)
        self.users[key] = user
        calendar = self.add_calendar(user, "Calendar", default=True)
        user.default_calendar_id = calendar.id
        return user

    def user(self, email: str) -> Mailbox:
        """The user with ``email``; KeyError when unknown."""
        return self.users[email.strip().lower()]

    def add_calendar(self, user: Mailbox, name: str, default: bool = False) -> CalendarState:
        """A new (secondary unless ``default``) calendar for ``user``."""
        calendar = CalendarState(self._ids.item_id(), name, self._ids.change_key(), default)
        user.calendars[calendar.id] = calendar
        return calendar

    def calendar(self, user: Mailbox, calendar_id: str | None) -> CalendarState:
        """A calendar by id (None: the default one); 404 ErrorItemNotFound when unknown."""
        if calendar_id is None:
            return user.default_calendar
        try:
            return user.calendars[calendar_id]
        except KeyError:
            raise not_found() from None

    def user_resource(self, user: Mailbox) -> User:
        """``GET /me``."""
        given, _, surname = user.display_name.partition(" ")
        return {
            "businessPhones": [],
            "displayName": user.display_name,
            "givenName": given or None,
            "jobTitle": None,
            "mail": None if user.personal else user.email,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": "en-US",
            "surname": surname or None,
            "userPrincipalName": user.email,
            "id": user.id,
        }

    def calendar_resource(self, user: Mailbox, calendar: CalendarState) -> Calendar:
        """``GET /me/calendar`` / an entry of ``GET /me/calendars``."""
        return {
            "id": calendar.id,
            "name": calendar.name,
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": calendar.is_default,
            "changeKey": calendar.change_key,
            "canShare": True,
            "canViewPrivateItems": True,
            "canEdit": True,
            "isRemovable": not calendar.is_default,
            "isTallyingResponses": True,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "owner": {"name": user.display_name, "address": user.email},
        }

    # -- reads ----------------------------------------------------------------------------------

    def get_event(self, user: Mailbox, event_id: str) -> Event:
        """Any event by id: single, master, occurrence or exception; 404 when unknown/deleted."""
        record = user.events.get(event_id)
        if record is not None:
            return record.resource
        master, original = self._resolve_occurrence(user, event_id)
        if original in master.exceptions:
            return master.exceptions[original]
        return self._occurrence(master, parse_dttz({"dateTime": original, "timeZone": "UTC"}))

    def get_calendar_event(self, user: Mailbox, calendar_id: str, event_id: str) -> Event:
        """`get_event` within one calendar: 404 for an event of another of the user's calendars
        (as Graph answers ``/me/calendars/{id}/events/{id}`` and ``/me/calendar/events/{id}``)."""
        record = user.events.get(event_id)
        if record is None:
            record, _ = self._resolve_occurrence(user, event_id)
        if record.calendar_id != calendar_id:
            raise not_found()
        return self.get_event(user, event_id)

    def view(
        self, user: Mailbox, calendar: CalendarState, start: datetime, end: datetime
    ) -> list[Event]:
        """The calendarView of ``calendar`` over [start, end): singles, occurrences and
        exceptions (never masters), ordered by start then id."""
        cached = calendar.view_cache
        if cached is not None and cached[:3] == (start, end, calendar.version):
            return cached[3]
        rows: list[tuple[datetime, str, Event]] = []
        append = rows.append
        for record in calendar.events.values():
            resource = record.resource
            if resource.get("type") == "seriesMaster":
                rows.extend(self._instances(record, start, end))
            # Singles inline: this loop runs over every event of the calendar.
            elif record.start < end and (record.end > start or record.end == record.start == start):
                append((record.start, resource["id"], resource))
        rows.sort(key=_ORDER)
        view = [row[2] for row in rows]
        calendar.view_cache = (start, end, calendar.version, view)
        return view

    def record_instances(
        self, calendar: CalendarState, record_id: str, start: datetime, end: datetime
    ) -> list[Event]:
        """The current instances in [start, end) of one record (none when it is gone)."""
        record = calendar.events.get(record_id)
        if record is None:
            return []
        return [row[2] for row in sorted(self._instances(record, start, end), key=_ORDER)]

    def instances(
        self, user: Mailbox, event_id: str, start: datetime, end: datetime
    ) -> list[Event]:
        """``GET /me/events/{id}/instances``: a series' occurrences and exceptions in a window."""
        record = user.events.get(event_id)
        if record is None:
            raise not_found()
        if not record.is_series:
            return []
        rows = sorted(self._instances(record, start, end), key=lambda row: (row[0], row[1]))
        return [row[2] for row in rows]

    def _instances(
        self, record: EventRecord, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, str, Event]]:
        if not record.is_series:
            if record.start < end and (record.end > start or record.end == record.start == start):
                yield record.start, record.resource["id"], record.resource
            return
        first = record.start.astimezone(record.series_zone())
        duration = record.end - record.start
        recurrence = record.resource["recurrence"]
        assert recurrence is not None
        for original in occurrence_starts(recurrence, first, duration, start, end):
            key = short_offset_text(original)
            if key in record.cancelled or key in record.exceptions:
                continue
            occurrence = self._occurrence(record, original)
            yield original, occurrence["id"], occurrence
        for exception in record.exceptions.values():
            ex_start, ex_end = bounds(exception)
            if ex_start < end and ex_end > start:
                yield ex_start, exception["id"], exception

    def _occurrence(self, record: EventRecord, original: datetime) -> Event:
        """The generated occurrence of a series starting (originally) at ``original``."""
        master = record.resource
        key = short_offset_text(original)
        if record.is_series is False:
            raise not_found()
        series_zone = record.series_zone()
        local = original.astimezone(series_zone)
        if master.get("isAllDay"):
            # Whole days in the event's own zone, whatever DST does in between.
            zone_name = master["start"]["timeZone"]
            days = (record.end - record.start).days
            wall = local.replace(tzinfo=None)
            start_value = dttz(wall.replace(tzinfo=zone(zone_name)), zone_name)
            end_value = dttz(
                (wall + timedelta(days=days)).replace(tzinfo=zone(zone_name)), zone_name
            )
        else:
            delta = original - record.start
            start_value = shifted(master["start"], delta)
            end_value = shifted(master["end"], delta)
        occurrence = cast(Event, dict(master))
        data = cast(dict[str, Any], occurrence)
        data.update(
            id=occurrence_id(master["id"], key),
            type="occurrence",
            seriesMasterId=master["id"],
            originalStart=key,
            recurrence=None,
            start=start_value,
            end=end_value,
            iCalUId=occurrence_ical_uid(
                master.get("iCalUId", ""), local.year, local.month, local.day
            ),
            occurrenceId=graph_occurrence_id(master["id"], local.date().isoformat()),
        )
        data["webLink"] = web_link(data["id"])
        return occurrence

    def cancelled_occurrences(self, user: Mailbox, event_id: str) -> list[str]:
        """A series master's ``cancelledOccurrences``: the ``occurrenceId`` of each deleted
        occurrence, oldest first (empty for any other event)."""
        record = user.events.get(event_id)
        if record is None or not record.is_series:
            return []
        zone_of_series = record.series_zone()
        days = sorted(
            parse_dttz({"dateTime": key, "timeZone": "UTC"}).astimezone(zone_of_series).date()
            for key in record.cancelled
        )
        return [graph_occurrence_id(event_id, day.isoformat()) for day in days]

    def restore_occurrence(self, user: Mailbox, series_id: str, original: str) -> Event:
        """Undo the deletion of one occurrence (``original`` is its originalStart key): it is
        back in the calendar view as a plain occurrence (delta reports it as a new instance)."""
        record = user.events.get(series_id)
        if record is None or not record.is_series or original not in record.cancelled:
            raise not_found()
        record.cancelled.discard(original)
        occurrence = self._occurrence(record, parse_dttz({"dateTime": original, "timeZone": "UTC"}))
        self._emit(user, occurrence, "created")
        return occurrence

    def _resolve_occurrence(self, user: Mailbox, event_id: str) -> tuple[EventRecord, str]:
        """(master record, originalStart) of an occurrence/exception id; 404 when not live."""
        parsed = parse_occurrence_id(event_id)
        if parsed is None:
            raise not_found()
        master_id, original = parsed
        record = user.events.get(master_id)
        if record is None or not record.is_series or original in record.cancelled:
            raise not_found()
        if original not in record.exceptions:
            moment = parse_dttz({"dateTime": original, "timeZone": "UTC"})
            first = record.start.astimezone(record.series_zone())
            recurrence = record.resource["recurrence"]
            assert recurrence is not None
            span = max(record.end - record.start, _EPSILON)
            hits = occurrence_starts(recurrence, first, span, moment, moment + span)
            if moment not in hits:
                raise not_found()
        return record, original

    # -- writes ---------------------------------------------------------------------------------

    def create_event(
        self,
        user: Mailbox,
        body: Mapping[str, Any],
        calendar_id: str | None = None,
    ) -> tuple[Event, bool]:
        """Create an event (``POST /me/events`` or Outlook). Returns (event, created): a repeated
        ``transactionId`` returns the existing event and created=False instead of a twin."""
        transaction = body.get("transactionId")
        if transaction and transaction in user.transactions:
            existing = user.events.get(user.transactions[transaction])
            if existing is not None:
                return existing.resource, False
        calendar = self.calendar(user, calendar_id)
        event_id = self._ids.item_id()
        resource = new_event(
            body,
            event_id=event_id,
            change_key=self._ids.change_key(),
            ical_uid=self._ids.ical_uid(),
            now=self._now(),
            user_email=user.email,
            user_name=user.display_name,
        )
        start, end = bounds(resource)
        record = EventRecord(resource, calendar.id, start, end)
        calendar.events[event_id] = record
        user.events[event_id] = record
        if transaction:
            user.transactions[transaction] = event_id
        if resource.get("isOrganizer"):
            self._mail(user, resource, "invitation", resource.get("attendees", []))
        self._emit(user, resource, "created")
        return resource, True

    def update_event(
        self,
        user: Mailbox,
        event_id: str,
        patch: Mapping[str, Any],
        if_match: str | None = None,
    ) -> Event:
        """PATCH an event. An occurrence becomes an exception. ``if_match`` (an @odata.etag)
        that is stale answers 412 ErrorIrresolvableConflict."""
        current = self.get_event(user, event_id)
        if if_match is not None and if_match != "*" and if_match != current["@odata.etag"]:
            raise GraphError(
                412,
                "ErrorIrresolvableConflict",
                "The send or update operation could not be performed because the change key "
                "passed in the request does not match the current change key for the item.",
            )
        changes = {k: v for k, v in patch.items() if k in PATCHABLE}
        before = copy.deepcopy(current)
        updated = cast(Event, copy.deepcopy(dict(current)))
        if updated.get("type") in ("occurrence", "exception"):
            changes.pop("recurrence", None)
        apply_fields(updated, changes, user.email)
        bump(updated, self._ids.change_key(), self._now())
        record = user.events.get(event_id)
        if record is not None:
            record.resource = updated
            record.start, record.end = bounds(updated)
            if record.is_series and _series_shape_changed(before, updated):
                record.exceptions.clear()
                record.cancelled.clear()
        else:
            master, original = self._resolve_occurrence(user, event_id)
            cast(dict[str, Any], updated)["type"] = "exception"
            master.exceptions[original] = updated
        if updated.get("isOrganizer"):
            self._mail_changes(user, before, updated)
        self._emit(user, updated, "updated")
        return updated

    def delete_event(self, user: Mailbox, event_id: str, comment: str = "") -> None:
        """Delete an event (a series with all its instances; an occurrence only itself). An
        organizer deleting a meeting sends cancellations to its attendees."""
        record = user.events.get(event_id)
        calendar_id = None
        if record is not None:
            resource = record.resource
            calendar_id = record.calendar_id
            del user.events[event_id]
            del user.calendars[record.calendar_id].events[event_id]
        else:
            master, original = self._resolve_occurrence(user, event_id)
            resource = self.get_event(user, event_id)
            master.exceptions.pop(original, None)
            master.cancelled.add(original)
        if resource.get("isOrganizer") and not resource.get("isCancelled"):
            self._mail(user, resource, "cancellation", resource.get("attendees", []), comment)
        self._emit(user, resource, "deleted", calendar_id)

    def cancel_event(self, user: Mailbox, event_id: str, comment: str = "") -> None:
        """``POST /me/events/{id}/cancel``: the organizer cancels a meeting; attendees get
        cancellations and the event leaves the organizer's calendar."""
        resource = self.get_event(user, event_id)
        if not resource.get("isOrganizer"):
            raise bad_request(
                "Your request can't be completed. You need to be an organizer to cancel a meeting.",
                "ErrorAccessDenied",
            )
        self.delete_event(user, event_id, comment)

    def organizer_cancelled(self, user: Mailbox, event_id: str) -> Event:
        """Outlook's view after another organizer cancels a meeting our user attends: the event
        stays, marked ``isCancelled`` with a "Canceled: " subject, until the user removes it."""
        resource = self.get_event(user, event_id)
        if resource.get("isOrganizer"):
            self.delete_event(user, event_id)
            return resource
        subject = resource.get("subject", "")
        return self.force(
            user,
            event_id,
            {
                "isCancelled": True,
                "subject": subject if subject.startswith("Canceled: ") else f"Canceled: {subject}",
            },
        )

    def set_attendee_response(
        self, user: Mailbox, event_id: str, address: str, response: str
    ) -> Event:
        """An attendee answered (accepted/declined/tentativelyAccepted...)."""
        resource = self.get_event(user, event_id)
        attendees = copy.deepcopy(resource.get("attendees", []))
        for attendee in attendees:
            if attendee["emailAddress"]["address"].lower() == address.lower():
                attendee["status"] = {"response": response, "time": _now_text(self._now())}  # type: ignore[typeddict-item]
                break
        else:
            raise bad_request(f"{address} is not an attendee of this event.")
        changes: dict[str, Any] = {"attendees": attendees}
        if address.lower() == user.email.lower():
            changes["responseStatus"] = {"response": response, "time": _now_text(self._now())}
        return self.force(user, event_id, changes)

    def respond(
        self,
        user: Mailbox,
        event_id: str,
        response: str,
        comment: str = "",
        send_response: bool = True,
    ) -> Event:
        """``POST /me/events/{id}/accept|tentativelyAccept|decline``: our user answers an
        invitation; the organizer gets the answer unless ``send_response`` is false."""
        current = self.get_event(user, event_id)
        if current.get("isOrganizer"):
            raise bad_request(
                "Your request can't be completed. You can't respond to a meeting you organized.",
                "ErrorInvalidRequest",
            )
        now = _now_text(self._now())
        attendees = copy.deepcopy(current.get("attendees", []))
        for attendee in attendees:
            if attendee["emailAddress"]["address"].lower() == user.email.lower():
                attendee["status"] = cast(Any, {"response": response, "time": now})
        event = self.force(
            user,
            event_id,
            {
                "attendees": attendees,
                "responseStatus": {"response": response, "time": now},
            },
        )
        if send_response:
            organizer = event["organizer"]["emailAddress"]["address"]
            self.outbox.append(
                Mail(
                    kind="response",
                    sender=user.email,
                    to=organizer,
                    event_id=event["id"],
                    ical_uid=event.get("iCalUId", ""),
                    subject=f"{response}: {event.get('subject')}",
                    start=event["start"]["dateTime"],
                    sent=now,
                    comment=comment,
                )
            )
        return event

    def force(self, user: Mailbox, event_id: str, fields: dict[str, Any]) -> Event:
        """Set fields Graph's PATCH cannot (control API), bumping the change key."""
        current = self.get_event(user, event_id)
        updated = cast(Event, copy.deepcopy(dict(current)))
        cast(dict[str, Any], updated).update(fields)
        bump(updated, self._ids.change_key(), self._now())
        record = user.events.get(event_id)
        if record is not None:
            record.resource = updated
            if record.is_series and "isCancelled" in fields:
                self._cancel_exceptions(record, bool(fields["isCancelled"]))
        else:
            master, original = self._resolve_occurrence(user, event_id)
            cast(dict[str, Any], updated)["type"] = "exception"
            master.exceptions[original] = updated
        self._emit(user, updated, "updated")
        return updated

    def _cancel_exceptions(self, record: EventRecord, cancelled: bool) -> None:
        """A cancelled (or restored) series cancels (restores) its changed occurrences too: the
        organizer's client sends a cancellation for every exception that has not started yet
        ([MS-OXOCAL] 3.1.4.9.1.2). Each one gets a new change key, so delta reports it."""
        now = self._now()
        for original, exception in list(record.exceptions.items()):
            if bool(exception.get("isCancelled")) == cancelled or bounds(exception)[0] < now:
                continue
            changed = cast(Event, copy.deepcopy(dict(exception)))
            data = cast(dict[str, Any], changed)
            data["isCancelled"] = cancelled
            subject = data.get("subject") or ""
            if cancelled and not subject.startswith("Canceled: "):
                data["subject"] = f"Canceled: {subject}"
            bump(changed, self._ids.change_key(), now)
            record.exceptions[original] = changed

    # -- side effects ---------------------------------------------------------------------------

    def _emit(
        self,
        user: Mailbox,
        resource: Event,
        change_type: ChangeType,
        calendar_id: str | None = None,
    ) -> None:
        record_id = resource.get("seriesMasterId") or resource["id"]
        if calendar_id is None:
            calendar_id = user.events[record_id].calendar_id
        user.calendars[calendar_id].touch(record_id)
        change = Change(
            user.email,
            user.id,
            resource["id"],
            change_type,
            resource.get("@odata.etag") or etag(resource.get("changeKey", "")),
        )
        for listener in self.listeners:
            listener(change)

    def _mail(
        self,
        user: Mailbox,
        resource: Event,
        kind: Literal["invitation", "update", "cancellation"],
        attendees: list[Any],
        comment: str = "",
    ) -> None:
        subject = resource.get("subject", "")
        if kind == "cancellation" and not subject.startswith("Canceled: "):
            subject = f"Canceled: {subject}"
        for attendee in attendees:
            address = attendee["emailAddress"]["address"]
            if address.lower() == user.email.lower():
                continue
            self.outbox.append(
                Mail(
                    kind=kind,
                    sender=user.email,
                    to=address,
                    event_id=resource["id"],
                    ical_uid=resource.get("iCalUId", ""),
                    subject=subject,
                    start=resource["start"]["dateTime"],
                    sent=_now_text(self._now()),
                    comment=comment,
                )
            )

    def _mail_changes(self, user: Mailbox, before: Event, after: Event) -> None:
        """Outlook's messages for an organizer's edit: invitations to added attendees,
        cancellations to removed ones, updates to the rest when the meeting itself changed."""
        old = {a["emailAddress"]["address"].lower(): a for a in before.get("attendees", [])}
        new = {a["emailAddress"]["address"].lower(): a for a in after.get("attendees", [])}
        self._mail(user, after, "invitation", [new[k] for k in new if k not in old])
        self._mail(user, before, "cancellation", [old[k] for k in old if k not in new])
        if any(before.get(f) != after.get(f) for f in _MEETING_FIELDS):
            self._mail(user, after, "update", [new[k] for k in new if k in old])


_EPSILON = timedelta(seconds=1)
_ORDER = itemgetter(0, 1)


def _series_shape_changed(before: Event, after: Event) -> bool:
    """Outlook drops a series' exceptions when its pattern or times change."""
    fields = ("recurrence", "start", "end", "isAllDay")
    return any(before.get(f) != after.get(f) for f in fields)


def _now_text(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "0000Z"


__all__ = [
    "NEVER",
    "CalendarState",
    "Change",
    "EventRecord",
    "Mail",
    "Mailbox",
    "MailboxStore",
    "dttz",
]
