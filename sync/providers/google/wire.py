"""Google Calendar API v3 / Google OAuth 2.0 wire formats as TypedDicts (Google's field names).

What Chronik's Google client sends and its parser reads. The Google sandbox (sandboxes/google)
does not use these types: it builds Google's JSON itself, so the client tests against it check
that both agree on the shapes.
All keys are optional (``total=False``) because Google omits empty or default fields.
"""

from __future__ import annotations

from typing import Literal, TypedDict

import msgspec

EventStatus = Literal["confirmed", "tentative", "cancelled"]
Visibility = Literal["default", "public", "private", "confidential"]
ResponseStatus = Literal["needsAction", "declined", "tentative", "accepted"]
SendUpdates = Literal["all", "externalOnly", "none"]
ResourceState = Literal["sync", "exists", "not_exists"]


class EventDateTime(TypedDict, total=False):
    """``start``/``end``/``originalStartTime``: either ``date`` (all-day) or ``dateTime``."""

    date: str  # "2026-11-25"
    dateTime: str  # RFC 3339 with offset, "2026-11-25T10:00:00+01:00"
    timeZone: str  # IANA name, "Europe/Berlin"


class Person(TypedDict, total=False):
    """``organizer`` and ``creator``."""

    id: str
    email: str
    displayName: str
    self: bool


class Attendee(TypedDict, total=False):
    id: str
    email: str
    displayName: str
    organizer: bool
    self: bool
    resource: bool
    optional: bool
    responseStatus: ResponseStatus
    comment: str
    additionalGuests: int


class Reminder(TypedDict):
    method: Literal["email", "popup"]
    minutes: int


class Reminders(TypedDict, total=False):
    useDefault: bool
    overrides: list[Reminder]


class ExtendedProperties(TypedDict, total=False):
    """Key/value pairs on an event: ``private`` (this copy only) and ``shared`` (all guests)."""

    private: dict[str, str]
    shared: dict[str, str]


class Event(TypedDict, total=False):
    """An ``calendar#event`` resource."""

    kind: Literal["calendar#event"]
    etag: str
    id: str
    status: EventStatus
    htmlLink: str
    created: str
    updated: str
    summary: str
    description: str
    location: str
    colorId: str
    creator: Person
    organizer: Person
    start: EventDateTime
    end: EventDateTime
    endTimeUnspecified: bool
    recurrence: list[str]
    recurringEventId: str
    originalStartTime: EventDateTime
    transparency: Literal["opaque", "transparent"]
    visibility: Visibility
    iCalUID: str
    sequence: int
    attendees: list[Attendee]
    attendeesOmitted: bool
    hangoutLink: str
    guestsCanModify: bool
    privateCopy: bool
    locked: bool
    reminders: Reminders
    extendedProperties: ExtendedProperties
    eventType: str


class Events(TypedDict, total=False):
    """The ``calendar#events`` envelope of events.list / events.instances."""

    kind: Literal["calendar#events"]
    etag: str
    summary: str
    description: str
    updated: str
    timeZone: str
    accessRole: str
    defaultReminders: list[Reminder]
    nextPageToken: str
    nextSyncToken: str
    items: list[Event]


class Calendar(TypedDict, total=False):
    """A ``calendar#calendar`` resource (calendars.get)."""

    kind: Literal["calendar#calendar"]
    etag: str
    id: str
    summary: str
    description: str
    timeZone: str


class CalendarListEntry(TypedDict, total=False):
    """A ``calendar#calendarListEntry`` (calendarList.list items)."""

    kind: Literal["calendar#calendarListEntry"]
    etag: str
    id: str
    summary: str
    description: str
    timeZone: str
    colorId: str
    backgroundColor: str
    foregroundColor: str
    selected: bool
    accessRole: Literal["freeBusyReader", "reader", "writer", "owner"]
    defaultReminders: list[Reminder]
    primary: bool


class CalendarList(TypedDict, total=False):
    kind: Literal["calendar#calendarList"]
    etag: str
    nextPageToken: str
    nextSyncToken: str
    items: list[CalendarListEntry]


class TimePeriod(TypedDict):
    start: str
    end: str


class FreeBusyRequestItem(TypedDict):
    id: str


class FreeBusyRequest(TypedDict, total=False):
    """The body of ``POST /calendar/v3/freeBusy``."""

    timeMin: str
    timeMax: str
    timeZone: str
    items: list[FreeBusyRequestItem]


class FreeBusyCalendar(TypedDict, total=False):
    busy: list[TimePeriod]
    errors: list[dict[str, str]]


class FreeBusyResponse(TypedDict, total=False):
    kind: Literal["calendar#freeBusy"]
    timeMin: str
    timeMax: str
    calendars: dict[str, FreeBusyCalendar]


class Channel(TypedDict, total=False):
    """An ``api#channel`` (events.watch request and response, channels.stop request)."""

    kind: Literal["api#channel"]
    id: str
    resourceId: str
    resourceUri: str
    token: str
    expiration: str  # milliseconds since the epoch, as a string
    type: Literal["web_hook", "webhook"]
    address: str
    params: dict[str, str]


class ErrorItem(TypedDict, total=False):
    domain: str
    reason: str
    message: str
    location: str
    locationType: str


class ErrorDetail(TypedDict, total=False):
    code: int
    message: str
    errors: list[ErrorItem]
    status: str


class ErrorBody(TypedDict):
    """``{"error": {...}}`` as the Calendar API returns it for every non-2xx answer."""

    error: ErrorDetail


class TokenResponse(TypedDict, total=False):
    """Google's token endpoint success body."""

    access_token: str
    expires_in: int
    refresh_token: str
    scope: str
    token_type: Literal["Bearer"]
    id_token: str


class TokenError(TypedDict, total=False):
    error: str
    error_description: str


class UserInfo(TypedDict, total=False):
    """``GET /oauth2/v3/userinfo``."""

    sub: str
    email: str
    email_verified: bool
    name: str


# -- events.list decoded straight into typed structs (the sync's hot path) ------------------
#
# A 2,500-event page is ~2.5 MB of JSON. Decoded into dicts (orjson) every key of every item
# becomes a Python object, most of them unread; msgspec builds only these fields, typed,
# and skips the rest in C: the decode costs about half, the page's parse a third less.
# Field names are Google's; defaults are what their omission means (`status` confirmed,
# `eventType` default).


class ListedTime(msgspec.Struct):
    date: str | None = None
    dateTime: str | None = None
    timeZone: str | None = None


class ListedPerson(msgspec.Struct):
    email: str | None = None


class ListedAttendee(msgspec.Struct):
    email: str | None = None
    displayName: str | None = None
    responseStatus: str | None = None
    organizer: bool | None = False


class ListedEvent(msgspec.Struct):
    """The fields of a `calendar#event` that `parse.parse_listed` reads."""

    id: str
    status: str | None = "confirmed"
    iCalUID: str | None = None
    summary: str | None = None
    description: str | None = None
    location: str | None = None
    start: ListedTime | None = None
    end: ListedTime | None = None
    organizer: ListedPerson | None = None
    attendees: list[ListedAttendee] | None = None
    visibility: str | None = None
    recurringEventId: str | None = None
    recurrence: list[str] | None = None
    originalStartTime: ListedTime | None = None
    created: str | None = None
    updated: str | None = None
    etag: str | None = None
    eventType: str | None = "default"


class ListedEvents(msgspec.Struct):
    """The `calendar#events` envelope, as the change feed reads it."""

    items: list[ListedEvent] = msgspec.field(default_factory=list)
    timeZone: str | None = None
    nextPageToken: str | None = None
    nextSyncToken: str | None = None


LISTED_EVENTS = msgspec.json.Decoder(ListedEvents)
