"""What Google requires of the status event types: focus time, out of office, working location.

"Manage focus time, out of office, and working location events"
(https://developers.google.com/calendar/api/guides/calendar-status) and the events resource
(https://developers.google.com/calendar/api/v3/reference/events#resource):

- they exist on primary calendars only;
- `eventType` cannot be modified after the event is created, and an update must keep the
  type's required fields;
- focus time and out of office: `focusTimeProperties` / `outOfOfficeProperties` present,
  `transparency` opaque, start and end timed (never all-day);
- working location: `workingLocationProperties` present (its `type` one of homeOffice,
  officeLocation, customLocation), `visibility` public, `transparency` transparent, start and
  end timed or one all-day date;
- they have no guests (they describe the calendar owner; Google's UI offers none).

Every refusal is Google's 400 error shape (reason `invalid` or `required`, with the field as
`location`). The documented rules name no message text; the sandbox's messages are its own.
"""

from __future__ import annotations

from typing import Any

from sandboxes.google import errors
from sandboxes.google.model import Calendar, When

STATUS_TYPES = ("focusTime", "outOfOffice", "workingLocation")
# The property object that belongs to each type (and may appear on no other).
PROPERTIES = {
    "focusTime": "focusTimeProperties",
    "outOfOffice": "outOfOfficeProperties",
    "workingLocation": "workingLocationProperties",
    "birthday": "birthdayProperties",
}
_DECLINE_MODES = (
    "declineNone",
    "declineAllConflictingInvitations",
    "declineOnlyNewConflictingInvitations",
)
_CHAT_STATUSES = ("available", "doNotDisturb")
_WORKING_LOCATIONS = ("homeOffice", "officeLocation", "customLocation")


def check(
    fields: dict[str, Any],
    calendar: Calendar,
    start: When,
    end: When,
    type_before: str | None,
) -> None:
    """400 unless ``fields`` (an event after insert, patch or update) obeys its type's rules.
    ``type_before``: the stored event's type (None on insert)."""
    event_type = fields.get("eventType") or "default"
    if type_before is not None and event_type != type_before:
        raise errors.invalid("The event type cannot be changed.", "eventType")
    for other_type, key in PROPERTIES.items():
        if other_type != event_type and fields.get(key) is not None:
            raise errors.invalid(f"Invalid value for: {key}", key)
    if event_type not in STATUS_TYPES:
        return
    if not calendar.primary:
        raise errors.invalid(
            f"Events of type {event_type} can only be created on a primary calendar.", "eventType"
        )
    key = PROPERTIES[event_type]
    properties = fields.get(key)
    if not isinstance(properties, dict):
        raise errors.required(key)
    if fields.get("attendees"):
        raise errors.invalid(f"Events of type {event_type} cannot have attendees.", "attendees")
    if event_type == "workingLocation":
        _check_working_location(fields, properties, start, end)
        return
    if start.all_day or end.all_day:
        raise errors.invalid(f"Events of type {event_type} cannot be all-day events.", "start")
    if fields.get("transparency") == "transparent":
        raise errors.invalid("Invalid value for: transparency", "transparency")
    _check_choice(properties, "autoDeclineMode", _DECLINE_MODES, key)
    if event_type == "focusTime":
        _check_choice(properties, "chatStatus", _CHAT_STATUSES, key)
    message = properties.get("declineMessage")
    if message is not None and not isinstance(message, str):
        raise errors.invalid(f"Invalid value for: {key}.declineMessage", f"{key}.declineMessage")


def _check_working_location(
    fields: dict[str, Any], properties: dict[str, Any], start: When, end: When
) -> None:
    key = "workingLocationProperties"
    if fields.get("visibility") != "public":
        raise errors.invalid("Invalid value for: visibility", "visibility")
    if fields.get("transparency") != "transparent":
        raise errors.invalid("Invalid value for: transparency", "transparency")
    if start.all_day:
        days = (end.moment.date() - start.moment.date()).days
        if days != 1:
            raise errors.invalid(
                "An all-day working location event must span exactly one day.", "end"
            )
    location_type = properties.get("type")
    if location_type is None:
        raise errors.required(f"{key}.type")
    if location_type not in _WORKING_LOCATIONS:
        raise errors.invalid(f"Invalid value for: {key}.type", f"{key}.type")
    for kind in ("customLocation", "officeLocation"):
        value = properties.get(kind)
        if value is not None and not isinstance(value, dict):
            raise errors.invalid(f"Invalid value for: {key}.{kind}", f"{key}.{kind}")


def _check_choice(
    properties: dict[str, Any], name: str, allowed: tuple[str, ...], key: str
) -> None:
    value = properties.get(name)
    if value is not None and value not in allowed:
        raise errors.invalid(f"Invalid value for: {key}.{name}", f"{key}.{name}")
