"""Microsoft Graph v1.0 and identity platform v2.0 wire types, named after Graph's own fields.

Shared by the Microsoft sandbox (which produces these shapes) and Chronik's Graph client (which
consumes them). Keys that are not Python identifiers (``@odata.etag``, ``@removed``) force the
functional TypedDict syntax for a few types. Everything is ``total=False`` where Graph omits or
nulls fields depending on the event type.
"""

from __future__ import annotations

from typing import Literal, TypedDict

# -- enumerations (Graph string enums) ------------------------------------------------------------

EventType = Literal["singleInstance", "occurrence", "exception", "seriesMaster"]
Sensitivity = Literal["normal", "personal", "private", "confidential"]
ShowAs = Literal["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]
ResponseType = Literal[
    "none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded"
]
AttendeeType = Literal["required", "optional", "resource"]
BodyType = Literal["text", "html"]
RecurrencePatternType = Literal[
    "daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"
]
RecurrenceRangeType = Literal["endDate", "noEnd", "numbered"]
DayOfWeek = Literal["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
WeekIndex = Literal["first", "second", "third", "fourth", "last"]
FreeBusyStatus = Literal["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]


# -- complex types -------------------------------------------------------------------------------


class DateTimeTimeZone(TypedDict):
    """``{"dateTime": "2026-01-05T09:00:00.0000000", "timeZone": "UTC"}`` (no offset)."""

    dateTime: str
    timeZone: str


class EmailAddress(TypedDict, total=False):
    name: str
    address: str


class Recipient(TypedDict):
    emailAddress: EmailAddress


class ResponseStatus(TypedDict, total=False):
    response: ResponseType
    time: str  # DateTimeOffset, "0001-01-01T00:00:00Z" when never answered


class Attendee(TypedDict, total=False):
    type: AttendeeType
    emailAddress: EmailAddress
    status: ResponseStatus


class ItemBody(TypedDict):
    contentType: BodyType
    content: str


class Location(TypedDict, total=False):
    displayName: str
    locationType: str
    uniqueId: str
    uniqueIdType: str


class RecurrencePattern(TypedDict, total=False):
    type: RecurrencePatternType
    interval: int
    month: int
    dayOfMonth: int
    daysOfWeek: list[DayOfWeek]
    firstDayOfWeek: DayOfWeek
    index: WeekIndex


class RecurrenceRange(TypedDict, total=False):
    type: RecurrenceRangeType
    startDate: str  # "2026-01-05"
    endDate: str  # "0001-01-01" when unused
    recurrenceTimeZone: str
    numberOfOccurrences: int


class PatternedRecurrence(TypedDict):
    pattern: RecurrencePattern
    range: RecurrenceRange


Event = TypedDict(
    "Event",
    {
        "@odata.etag": str,
        "id": str,
        "createdDateTime": str,
        "lastModifiedDateTime": str,
        "changeKey": str,
        "categories": list[str],
        "transactionId": str | None,
        "originalStartTimeZone": str,
        "originalEndTimeZone": str,
        "iCalUId": str,
        "reminderMinutesBeforeStart": int,
        "isReminderOn": bool,
        "hasAttachments": bool,
        "subject": str,
        "bodyPreview": str,
        "importance": str,
        "sensitivity": Sensitivity,
        "isAllDay": bool,
        "isCancelled": bool,
        "isOrganizer": bool,
        "responseRequested": bool,
        "seriesMasterId": str | None,
        "showAs": ShowAs,
        "type": EventType,
        "webLink": str,
        "onlineMeetingUrl": str | None,
        "isOnlineMeeting": bool,
        "allowNewTimeProposals": bool,
        "isDraft": bool,
        "hideAttendees": bool,
        "originalStart": str,  # DateTimeOffset of an occurrence/exception in its series
        # "OID.{seriesMasterId}.{date}": an instance's date in the recurrence time zone.
        "occurrenceId": str | None,
        # A master's deleted instances, as occurrenceIds; only on $select of a GET by id.
        # https://learn.microsoft.com/en-us/graph/api/resources/event (cancelledOccurrences)
        "cancelledOccurrences": list[str],
        "responseStatus": ResponseStatus,
        "body": ItemBody,
        "start": DateTimeTimeZone,
        "end": DateTimeTimeZone,
        "location": Location,
        "locations": list[Location],
        "recurrence": PatternedRecurrence | None,
        "attendees": list[Attendee],
        "organizer": Recipient,
        "onlineMeeting": dict[str, str] | None,
    },
    total=False,
)


class RemovedReason(TypedDict):
    reason: Literal["deleted", "changed"]


RemovedEvent = TypedDict(
    "RemovedEvent",
    {"@odata.type": str, "id": str, "@removed": RemovedReason},
)

DeltaPage = TypedDict(
    "DeltaPage",
    {
        "@odata.context": str,
        "@odata.nextLink": str,
        "@odata.deltaLink": str,
        "value": list["Event | RemovedEvent"],
    },
    total=False,
)


class Calendar(TypedDict, total=False):
    id: str
    name: str
    color: str
    hexColor: str
    isDefaultCalendar: bool
    changeKey: str
    canShare: bool
    canViewPrivateItems: bool
    canEdit: bool
    isRemovable: bool
    isTallyingResponses: bool
    allowedOnlineMeetingProviders: list[str]
    defaultOnlineMeetingProvider: str
    owner: EmailAddress


class User(TypedDict, total=False):
    id: str
    displayName: str
    givenName: str | None
    surname: str | None
    mail: str | None  # None for personal Microsoft accounts
    userPrincipalName: str
    businessPhones: list[str]
    jobTitle: str | None
    mobilePhone: str | None
    officeLocation: str | None
    preferredLanguage: str | None


# -- getSchedule --------------------------------------------------------------------------------


class ScheduleItem(TypedDict, total=False):
    isPrivate: bool
    status: FreeBusyStatus
    subject: str
    location: str
    isMeeting: bool
    isRecurring: bool
    isException: bool
    isReminderSet: bool
    start: DateTimeTimeZone
    end: DateTimeTimeZone


class TimeZoneBase(TypedDict):
    name: str


class WorkingHours(TypedDict):
    daysOfWeek: list[DayOfWeek]
    startTime: str  # "08:00:00.0000000"
    endTime: str
    timeZone: TimeZoneBase


class FreeBusyError(TypedDict):
    message: str
    responseCode: str


class ScheduleInformation(TypedDict, total=False):
    scheduleId: str
    availabilityView: str
    scheduleItems: list[ScheduleItem]
    workingHours: WorkingHours
    error: FreeBusyError


class GetScheduleRequest(TypedDict, total=False):
    schedules: list[str]
    startTime: DateTimeTimeZone
    endTime: DateTimeTimeZone
    availabilityViewInterval: int


# -- change notifications -----------------------------------------------------------------------


class Subscription(TypedDict, total=False):
    id: str
    resource: str
    applicationId: str
    changeType: str  # "created,updated,deleted"
    clientState: str | None
    notificationUrl: str
    lifecycleNotificationUrl: str | None
    expirationDateTime: str
    creatorId: str
    includeResourceData: bool | None
    latestSupportedTlsVersion: str
    encryptionCertificate: str | None
    encryptionCertificateId: str | None
    notificationQueryOptions: str | None
    notificationUrlAppId: str | None


ResourceData = TypedDict(
    "ResourceData",
    {"@odata.type": str, "@odata.id": str, "@odata.etag": str, "id": str},
)


class ChangeNotification(TypedDict, total=False):
    subscriptionId: str
    subscriptionExpirationDateTime: str
    changeType: Literal["created", "updated", "deleted"]
    resource: str
    resourceData: ResourceData
    clientState: str | None
    tenantId: str


class ChangeNotificationCollection(TypedDict):
    value: list[ChangeNotification]


class LifecycleNotification(TypedDict, total=False):
    """A lifecycle notification, POSTed to a subscription's lifecycleNotificationUrl:
    https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events"""

    subscriptionId: str
    subscriptionExpirationDateTime: str
    tenantId: str
    clientState: str | None
    lifecycleEvent: Literal["subscriptionRemoved", "missed", "reauthorizationRequired"]


# -- errors -------------------------------------------------------------------------------------

InnerError = TypedDict("InnerError", {"date": str, "request-id": str, "client-request-id": str})


class ODataErrorMain(TypedDict):
    code: str
    message: str
    innerError: InnerError


class ODataError(TypedDict):
    """Graph's error body: ``{"error": {"code", "message", "innerError"}}``."""

    error: ODataErrorMain


class IdentityError(TypedDict):
    """The identity platform's token/authorize error body (``AADSTSnnnnn: ...`` descriptions)."""

    error: str
    error_description: str
    error_codes: list[int]
    timestamp: str
    trace_id: str
    correlation_id: str


class TokenResponse(TypedDict, total=False):
    """``POST /{tenant}/oauth2/v2.0/token`` success body."""

    token_type: str
    scope: str
    expires_in: int
    ext_expires_in: int
    access_token: str
    refresh_token: str
    id_token: str
