"""Building Google event resources from request bodies: validation, defaults, field order."""

from __future__ import annotations

import base64
import re
from typing import Any

from sandboxes.google import errors, event_types, recurrence
from sandboxes.google.model import Calendar, When, parse_when

# Client-writable fields, in the order Google renders them (computed ones are slotted in).
_WRITABLE = (
    "summary",
    "description",
    "location",
    "colorId",
    "start",
    "end",
    "endTimeUnspecified",
    "recurrence",
    "transparency",
    "visibility",
    "attendees",
    "guestsCanInviteOthers",
    "guestsCanModify",
    "guestsCanSeeOtherGuests",
    "anyoneCanAddSelf",
    "extendedProperties",
    "reminders",
    "source",
    "eventType",
    *event_types.PROPERTIES.values(),
)
_SIGNIFICANT = ("start", "end", "recurrence", "location")
_ID_RE = re.compile(r"^[a-v0-9]{5,1024}$")
_VISIBILITY = ("default", "public", "private", "confidential")
_STATUSES = ("confirmed", "tentative", "cancelled")
_RESPONSES = ("needsAction", "declined", "tentative", "accepted")


_STRINGS = (
    "summary",
    "description",
    "location",
    "colorId",
    "status",
    "visibility",
    "transparency",
    "eventType",
    "iCalUID",
    "id",
)
_OBJECTS = (
    "start",
    "end",
    "originalStartTime",
    "organizer",
    "creator",
    "reminders",
    "extendedProperties",
    "source",
    *event_types.PROPERTIES.values(),
)
_LISTS = ("attendees", "recurrence")
_BOOLEANS = (
    "endTimeUnspecified",
    "guestsCanInviteOthers",
    "guestsCanModify",
    "guestsCanSeeOtherGuests",
    "anyoneCanAddSelf",
)


def _bad(field: str) -> errors.GoogleApiError:
    return errors.invalid(f"Invalid value for: {field}", field)


def check_types(body: dict[str, Any]) -> None:
    """400 ``invalid`` for a field of the wrong JSON type (Google's parser refuses those before
    looking at values); null is allowed everywhere (it clears the field in a patch)."""
    for key, value in body.items():
        if value is None:
            continue
        if key in _STRINGS and not isinstance(value, str):
            raise _bad(key)
        if key in _OBJECTS and not isinstance(value, dict):
            raise _bad(key)
        if key in _LISTS and not isinstance(value, list):
            raise _bad(key)
        if key in _BOOLEANS and not isinstance(value, bool):
            raise _bad(key)
        if key == "sequence" and (isinstance(value, bool) or not isinstance(value, int)):
            raise _bad(key)
    for key in ("start", "end", "originalStartTime"):
        for part in ("date", "dateTime", "timeZone"):
            value = (body.get(key) or {}).get(part)
            if value is not None and not isinstance(value, str):
                raise _bad(f"{key}.{part}")
    for key in ("organizer", "creator"):
        email = (body.get(key) or {}).get("email")
        if email is not None and not isinstance(email, str):
            raise _bad(f"{key}.email")
    for attendee in body.get("attendees") or []:
        if not isinstance(attendee, dict):
            raise _bad("attendees")
        for part in ("email", "displayName", "responseStatus", "comment"):
            value = attendee.get(part)
            if value is not None and not isinstance(value, str):
                raise _bad(f"attendees.{part}")
    for scope in ("private", "shared"):
        props = (body.get("extendedProperties") or {}).get(scope)
        if props is None:
            continue
        if not isinstance(props, dict) or not all(
            isinstance(v, str) or v is None for v in props.values()
        ):
            raise _bad(f"extendedProperties.{scope}")
    reminders = body.get("reminders") or {}
    if "useDefault" in reminders and not isinstance(reminders["useDefault"], bool):
        raise _bad("reminders.useDefault")
    if reminders.get("overrides") is not None and not isinstance(reminders["overrides"], list):
        raise _bad("reminders.overrides")


def validate_id(event_id: str) -> None:
    """Google's rule for client-chosen ids: base32hex characters (a-v, 0-9), 5-1024 long."""
    if not _ID_RE.match(event_id):
        raise errors.invalid("Invalid resource id value.")


def html_link(event_id: str, calendar_id: str) -> str:
    """The ``htmlLink`` Google builds from the event and calendar ids."""
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode().rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"


def _attendees(
    raw: Any, organizer_email: str, owner: str, display_names: dict[str, str]
) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise errors.invalid("Invalid attendee list.", "attendees")
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict) or not item.get("email"):
            raise errors.required("attendees.email")
        email = str(item["email"]).strip().lower()
        if "@" not in email:
            raise errors.invalid("Invalid attendee email.", "attendees.email")
        if email in seen:
            continue
        seen.add(email)
        # The organizer's own entry starts out accepted, everyone else's as needsAction.
        default = "accepted" if email == organizer_email else "needsAction"
        response = item.get("responseStatus") or default
        if response not in _RESPONSES:
            raise errors.invalid("Invalid attendee response status.", "attendees.responseStatus")
        attendee: dict[str, Any] = {"email": email}
        name = item.get("displayName") or display_names.get(email)
        if name:
            attendee["displayName"] = name
        if email == organizer_email:
            attendee["organizer"] = True
        if email == owner:
            attendee["self"] = True
        for flag in ("optional", "resource"):
            if item.get(flag):
                attendee[flag] = True
        attendee["responseStatus"] = response
        if item.get("comment"):
            attendee["comment"] = item["comment"]
        result.append(attendee)
    return result


def _person(email: str, owner: str, display_names: dict[str, str]) -> dict[str, Any]:
    person: dict[str, Any] = {"email": email}
    if email in display_names:
        person["displayName"] = display_names[email]
    if email == owner:
        person["self"] = True
    return person


def merge_fields(
    existing: dict[str, Any] | None, body: dict[str, Any], replace: bool
) -> dict[str, Any]:
    """The client-writable fields after a patch (``replace`` False) or update (True).

    Patch semantics as Google documents them: a field set to null is cleared, arrays are
    replaced, objects are merged member by member (so patching one extended property keeps the
    others). start/end are objects too: patching `{"date"}` onto a timed start keeps its
    `dateTime` unless the patch nulls it, and `parse_when` then refuses the pair with 400
    "Invalid start time." (https://developers.google.com/calendar/api/v3/reference/events/patch,
    https://developers.google.com/calendar/api/guides/performance#patch; seen in the wild in
    gemini-cli-extensions/workspace#435).
    """
    fields: dict[str, Any] = {}
    if existing is not None and not replace:
        fields = {key: existing[key] for key in _WRITABLE if key in existing}
        if existing.get("status"):
            fields["status"] = existing["status"]
    for key in (*_WRITABLE, "status"):
        if key not in body:
            continue
        value = body[key]
        if value is None:
            fields.pop(key, None)
        elif not replace and isinstance(value, dict) and isinstance(fields.get(key), dict):
            fields[key] = _merge_objects(fields[key], value)
        else:
            fields[key] = value
    return fields


def _merge_objects(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_objects(merged[key], value)
        else:
            merged[key] = value
    return merged


def significant_change(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether a change bumps ``sequence`` (time, place or recurrence moved, as iCalendar says)."""
    return any(before.get(key) != after.get(key) for key in _SIGNIFICANT)


def build_event(
    *,
    fields: dict[str, Any],
    event_id: str,
    calendar: Calendar,
    organizer_email: str,
    creator_email: str,
    created: str,
    updated: str,
    etag: str,
    sequence: int,
    display_names: dict[str, str],
    i_cal_uid: str | None = None,
    extra: dict[str, Any] | None = None,
    type_before: str | None = None,
) -> tuple[dict[str, Any], When, When]:
    """Validate ``fields`` and assemble the full resource in Google's field order.

    ``extra`` carries ``recurringEventId``/``originalStartTime`` for instance exceptions;
    ``type_before`` is the stored event's ``eventType`` (None on insert: see event_types.py).
    Returns the resource and its parsed start and end.
    """
    owner = calendar.owner
    start = parse_when(fields.get("start"), "start", calendar.time_zone)
    end = parse_when(fields.get("end"), "end", calendar.time_zone)
    if start.all_day != end.all_day:
        raise errors.invalid("Start and end times must either both be date or both be dateTime.")
    if end.moment < start.moment:
        raise errors.time_range_empty("end")
    event_types.check(fields, calendar, start, end, type_before)
    status = fields.get("status", "confirmed")
    if status not in _STATUSES:
        raise errors.invalid("Invalid value for: status", "status")
    visibility = fields.get("visibility", "default")
    if visibility not in _VISIBILITY:
        raise errors.invalid("Invalid value for: visibility", "visibility")
    rec = fields.get("recurrence")
    if rec is not None:
        if not isinstance(rec, list) or not all(isinstance(line, str) for line in rec):
            raise errors.invalid("Invalid recurrence rule.", "recurrence")
        if rec:
            recurrence.validate(start, rec)

    data: dict[str, Any] = {
        "kind": "calendar#event",
        "etag": etag,
        "id": event_id,
        "status": status,
        "htmlLink": html_link(event_id, calendar.id),
        "created": created,
        "updated": updated,
    }
    for key in ("summary", "description", "location", "colorId"):
        if fields.get(key):
            data[key] = fields[key]
    data["creator"] = _person(creator_email, owner, display_names)
    data["organizer"] = _person(organizer_email, owner, display_names)
    data["start"] = start.to_wire()
    data["end"] = end.to_wire()
    if fields.get("endTimeUnspecified"):
        data["endTimeUnspecified"] = True
    if rec:
        data["recurrence"] = list(rec)
    if extra:
        data.update(extra)
    if fields.get("transparency") == "transparent":
        data["transparency"] = "transparent"
    if visibility != "default":  # Google omits the default visibility
        data["visibility"] = visibility
    data["iCalUID"] = i_cal_uid or f"{event_id}@google.com"
    data["sequence"] = sequence
    if fields.get("attendees"):
        data["attendees"] = _attendees(fields["attendees"], organizer_email, owner, display_names)
    for key in (
        "guestsCanInviteOthers",
        "guestsCanModify",
        "guestsCanSeeOtherGuests",
        "anyoneCanAddSelf",
        "extendedProperties",
        "source",
    ):
        if key in fields:
            data[key] = fields[key]
    data["reminders"] = fields.get("reminders") or {"useDefault": True}
    data["eventType"] = fields.get("eventType", "default")
    properties = event_types.PROPERTIES.get(data["eventType"])
    if properties is not None and properties in fields:
        data[properties] = fields[properties]
    return data, start, end
