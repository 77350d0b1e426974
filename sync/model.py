"""Chronik's provider-neutral calendar event: what the sync engine and the rules see.

Provider parsers (`sync/providers/*/parse.py`) turn wire payloads into
`ProviderEvent`s; nothing after them ever asks which provider an event came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EventKind(StrEnum):
    SINGLE = "single"
    # A recurring series, represented by its first occurrence (start/end are the first's).
    # Its `provider_event_id` is the series id (Google master id, Graph seriesMasterId).
    SERIES = "series"
    # An unchanged occurrence of a series: never logged on its own.
    OCCURRENCE = "occurrence"
    # An occurrence that differs from the series (moved, edited, cancelled, a response
    # changed): logged as its own meeting. `series_id` and `original_start` say which one.
    EXCEPTION = "exception"


class EventType(StrEnum):
    """What an event is for. Only MEETING events can be meetings with contacts; the others are
    a person's own time or reminders that calendars keep beside meetings (Google's `eventType`:
    https://developers.google.com/calendar/api/guides/event-types)."""

    MEETING = "meeting"  # Google `default`; every Graph event
    FOCUS_TIME = "focus_time"
    OUT_OF_OFFICE = "out_of_office"
    WORKING_LOCATION = "working_location"
    BIRTHDAY = "birthday"
    FROM_MAIL = "from_mail"  # made by the mail service from a message (Google `fromGmail`)
    OTHER = "other"  # a type the provider added after this code was written


class EventStatus(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class Response(StrEnum):
    NEEDS_ACTION = "needs_action"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
    ORGANIZER = "organizer"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str  # lower-cased
    display_name: str | None = None
    response: Response = Response.NEEDS_ACTION
    is_organizer: bool = False


# Not frozen: a frozen dataclass sets every field through object.__setattr__, which made
# building the tens of thousands of events of a large sync 7 % of the worker's CPU. Treat it
# as immutable all the same (parsers build it, nothing after them changes it).
@dataclass(slots=True)
class ProviderEvent:
    """One event as a provider reports it in a change feed.

    A deletion the provider reports with its id only (Google tombstone without details,
    Graph `@removed`) is `removed=True` with every other field empty.
    """

    provider_event_id: str
    removed: bool = False
    kind: EventKind = EventKind.SINGLE
    status: EventStatus = EventStatus.CONFIRMED
    ical_uid: str | None = None
    title: str | None = None
    description: str | None = None
    location: str | None = None
    # UTC-aware instants. For all-day events: midnight UTC of the first day and of the day
    # after the last (end exclusive), with `all_day=True`.
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    time_zone: str | None = None  # IANA name when the provider gives one
    all_day: bool = False
    organizer_email: str | None = None  # lower-cased
    attendees: tuple[Attendee, ...] = ()
    # Google visibility private/confidential, Graph sensitivity private/confidential.
    private: bool = False
    series_id: str | None = None  # for OCCURRENCE / EXCEPTION: the series' provider id
    original_start: datetime | None = None  # for OCCURRENCE / EXCEPTION
    created_at: datetime | None = None  # when the event was created at the provider
    updated_at: datetime | None = None
    etag: str | None = None
    # A second id the provider names this event by: a Graph instance's occurrenceId, which is
    # how Graph names this week once it is cancelled; the meeting is stored under it too
    # (meetings.provider_alt_id), so the week and the instance find each other (rule 6).
    # None where the provider has one id only (Google's cancelled week keeps the instance's
    # id; CalDAV's is made from the series and the date).
    provider_alt_id: str | None = None
    event_type: EventType = EventType.MEETING


@dataclass(frozen=True, slots=True)
class ChangePage:
    """One page of a provider's change feed.

    `cursor` resumes the feed after this page: the next page of the same round while
    `complete` is False, the incremental cursor (Google syncToken, Graph deltaLink) once it is
    True. The engine stores it in the same transaction as the page's changes.
    """

    events: list[ProviderEvent]
    cursor: str
    complete: bool
    # A full round that listed the calendar only up to here (Graph shortened a window it
    # would not serve): meetings starting later were not asked about, so their absence does
    # not mean they are gone. None: the round listed everything it holds.
    listed_until: datetime | None = None


class CursorExpired(Exception):
    """The provider no longer knows the cursor (HTTP 410): start a full sync."""
