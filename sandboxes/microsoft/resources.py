"""Build and patch Graph event resources from what a client (or the control API) sends.

Input is a Graph event body (POST/PATCH ``/me/events`` or a control-API event); output is the
full resource Graph would return, normalised the way Outlook stores it: ``start``/``end`` in UTC
(all-day events keep their own zone, since their midnights are zone-local), attendees with a
``status``, a ``bodyPreview`` derived from the body, defaults for every field Outlook fills in.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import quote

from sync.providers.microsoft.wire import (
    Attendee,
    DateTimeTimeZone,
    Event,
    ItemBody,
    Location,
    PatternedRecurrence,
    Recipient,
)

from .errors import GraphError, bad_request
from .ids import etag
from .recurrence import BadRecurrence, build_rule
from .timefmt import BadTimeZone, dttz, offset_text, parse_dttz, zone
from .zone_names import writable

NEVER = "0001-01-01T00:00:00Z"
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_SENSITIVITIES = {"normal", "personal", "private", "confidential"}
_SHOW_AS = {"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"}
_RESPONSES = {"none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded"}
# Fields a PATCH may change (others are read-only in Graph and silently ignored here).
PATCHABLE = (
    "subject",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "attendees",
    "isAllDay",
    "sensitivity",
    "showAs",
    "recurrence",
    "categories",
    "importance",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "isOnlineMeeting",
    "allowNewTimeProposals",
    "hideAttendees",
)


def html_to_text(body: ItemBody) -> str:
    """The body as plain text (tags dropped, entities decoded, whitespace collapsed)."""
    text = body.get("content") or ""
    if body.get("contentType") == "html":
        text = html.unescape(_TAGS.sub(" ", text))
    return _SPACE.sub(" ", text).strip()


def body_preview(body: ItemBody) -> str:
    """Outlook's bodyPreview: the body as plain text, 255 characters at most."""
    return html_to_text(body)[:255]


def web_link(event_id: str) -> str:
    """The OWA deep link Graph puts in ``webLink``."""
    return (
        "https://outlook.office365.com/owa/?itemid="
        + quote(event_id, safe="")
        + "&exvsurl=1&path=/calendar/item"
    )


def _require(body: Mapping[str, Any], name: str) -> Any:
    if name not in body or body[name] is None:
        raise bad_request(f"Required property '{name}' is missing.", "ErrorInvalidRequest")
    return body[name]


def normalise_time(value: Any, name: str, all_day: bool) -> tuple[DateTimeTimeZone, str, datetime]:
    """(stored dateTimeTimeZone, original zone name, aware instant) for a start/end value.
    The zone must be a Windows name or one of the IANA names Graph documents (`writable`), else
    400 TimeZoneNotSupportedException, as Graph answers on create and update:
    https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone"""
    if not isinstance(value, dict) or "dateTime" not in value:
        raise bad_request(f"The property '{name}' must be a dateTimeTimeZone.")
    zone_name = value.get("timeZone") or "UTC"
    try:
        if not writable(zone_name):
            raise BadTimeZone(zone_name)
        moment = parse_dttz({"dateTime": value["dateTime"], "timeZone": zone_name})
    except BadTimeZone as exc:
        raise GraphError(
            400,
            "TimeZoneNotSupportedException",
            f"A valid TimeZone value must be specified. "
            f"The following TimeZone value is not supported: '{exc}'.",
        ) from exc
    except ValueError as exc:
        raise bad_request(f"Cannot convert the literal '{value['dateTime']}' to DateTime.") from exc
    if all_day:
        if moment.astimezone(zone(zone_name)).time() != datetime.min.time():
            raise bad_request(
                "The start and end time of an all-day event must be midnight.",
                "ErrorPropertyValidationFailure",
            )
        return dttz(moment, zone_name), zone_name, moment
    return dttz(moment, "UTC"), zone_name, moment


def normalise_attendee(raw: Any) -> Attendee:
    """An attendee with Graph's defaults (type required, status none/never)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("emailAddress"), dict):
        raise bad_request("Each attendee needs an emailAddress.")
    address = str(raw["emailAddress"].get("address") or "").strip()
    if not address:
        raise bad_request("An attendee's emailAddress.address is required.")
    status = raw.get("status") or {}
    response = status.get("response") or "none"
    if response not in _RESPONSES:
        raise bad_request(f"Unknown response '{response}'.")
    return {
        "type": raw.get("type") or "required",
        "status": cast(Any, {"response": response, "time": status.get("time") or NEVER}),
        "emailAddress": {
            "name": raw["emailAddress"].get("name") or address,
            "address": address,
        },
    }


def normalise_location(raw: Any) -> Location:
    """A location with Outlook's defaults."""
    raw = raw or {}
    name = str(raw.get("displayName") or "")
    location: Location = {
        "displayName": name,
        "locationType": raw.get("locationType") or "default",
        "uniqueIdType": "unknown" if not name else raw.get("uniqueIdType") or "private",
    }
    if name:
        location["uniqueId"] = raw.get("uniqueId") or name
    return location


def normalise_recurrence(raw: Any, start: datetime, zone_name: str) -> PatternedRecurrence:
    """A patternedRecurrence with every field Graph returns, validated by building its rule."""
    if not isinstance(raw, dict) or "pattern" not in raw or "range" not in raw:
        raise bad_request("A recurrence needs a pattern and a range.")
    pattern = dict(raw["pattern"])
    rng = dict(raw["range"])
    pattern.setdefault("interval", 1)
    pattern.setdefault("month", 0)
    pattern.setdefault("dayOfMonth", 0)
    pattern.setdefault("daysOfWeek", [])
    pattern.setdefault("firstDayOfWeek", "sunday")
    if pattern.get("type") in ("relativeMonthly", "relativeYearly", "weekly"):
        pattern.setdefault("index", "first")
    rng.setdefault("type", "noEnd")
    rng.setdefault("startDate", start.astimezone(zone(zone_name)).date().isoformat())
    rng.setdefault("endDate", "0001-01-01")
    rng.setdefault("recurrenceTimeZone", zone_name)
    rng.setdefault("numberOfOccurrences", 0)
    recurrence = cast(PatternedRecurrence, {"pattern": pattern, "range": rng})
    try:
        build_rule(recurrence, start.astimezone(zone(rng["recurrenceTimeZone"])))
    except (BadRecurrence, BadTimeZone, KeyError, ValueError) as exc:
        raise bad_request(f"Invalid recurrence: {exc}", "ErrorPropertyValidationFailure") from exc
    return recurrence


def apply_fields(resource: Event, body: Mapping[str, Any], user_email: str) -> None:
    """Write the client-settable fields of ``body`` into ``resource`` (in place), normalised.
    Start/end/all-day/recurrence are interdependent and are re-derived together."""
    data = cast(dict[str, Any], resource)
    if "subject" in body:
        data["subject"] = str(body["subject"] or "")
    if "body" in body:
        raw = body["body"] or {}
        item: ItemBody = {
            "contentType": "text" if raw.get("contentType") == "text" else "html",
            "content": str(raw.get("content") or ""),
        }
        data["body"] = item
        data["bodyPreview"] = body_preview(item)
    if "sensitivity" in body:
        if body["sensitivity"] not in _SENSITIVITIES:
            raise bad_request(f"Unknown sensitivity '{body['sensitivity']}'.")
        data["sensitivity"] = body["sensitivity"]
    if "showAs" in body:
        if body["showAs"] not in _SHOW_AS:
            raise bad_request(f"Unknown showAs '{body['showAs']}'.")
        data["showAs"] = body["showAs"]
    if "location" in body:
        data["location"] = normalise_location(body["location"])
        data["locations"] = [data["location"]] if data["location"]["displayName"] else []
    if "attendees" in body:
        data["attendees"] = [normalise_attendee(a) for a in body["attendees"] or []]
        mine = [
            a
            for a in data["attendees"]
            if a["emailAddress"]["address"].lower() == user_email.lower()
        ]
        if mine and not data.get("isOrganizer"):
            # An invitee who has not answered shows "notResponded" on their own copy.
            status = dict(mine[0]["status"])
            if status["response"] == "none":
                status["response"] = "notResponded"
            data["responseStatus"] = status
    for name in (
        "categories",
        "importance",
        "isReminderOn",
        "reminderMinutesBeforeStart",
        "responseRequested",
        "isOnlineMeeting",
        "allowNewTimeProposals",
        "hideAttendees",
    ):
        if name in body:
            data[name] = body[name]
    if any(k in body for k in ("start", "end", "isAllDay", "recurrence")):
        all_day = bool(body.get("isAllDay", data.get("isAllDay", False)))
        start_raw = body.get("start") or _original(data, "start")
        end_raw = body.get("end") or _original(data, "end")
        if start_raw is None or end_raw is None:
            raise bad_request("An event needs both 'start' and 'end'.")
        start, start_zone, start_at = normalise_time(start_raw, "start", all_day)
        end, end_zone, end_at = normalise_time(end_raw, "end", all_day)
        if end_at < start_at:
            raise bad_request(
                "The end time of an event can't be earlier than its start time.",
                "ErrorInvalidRequest",
            )
        data.update(
            start=start,
            end=end,
            isAllDay=all_day,
            originalStartTimeZone=start_zone,
            originalEndTimeZone=end_zone,
        )
        recurrence_raw = body["recurrence"] if "recurrence" in body else data.get("recurrence")
        if recurrence_raw:
            data["recurrence"] = normalise_recurrence(recurrence_raw, start_at, start_zone)
            data["type"] = "seriesMaster"
        elif data.get("type") in (None, "singleInstance", "seriesMaster"):
            data["recurrence"] = None
            data["type"] = "singleInstance"


def _original(data: dict[str, Any], name: str) -> DateTimeTimeZone | None:
    """The stored start/end re-expressed in the event's original zone (for partial PATCHes)."""
    value = data.get(name)
    if value is None:
        return None
    zone_name = data.get(f"original{name.capitalize()}TimeZone") or value["timeZone"]
    return dttz(parse_dttz(value), zone_name)


def new_event(
    body: Mapping[str, Any],
    *,
    event_id: str,
    change_key: str,
    ical_uid: str,
    now: datetime,
    user_email: str,
    user_name: str,
) -> Event:
    """A complete singleInstance/seriesMaster resource for a create request."""
    _require(body, "start")
    _require(body, "end")
    organizer_raw = body.get("organizer") or {}
    organizer_addr = (organizer_raw.get("emailAddress") or {}).get("address") or user_email
    organizer_name = (organizer_raw.get("emailAddress") or {}).get("name") or (
        user_name if organizer_addr.lower() == user_email.lower() else organizer_addr
    )
    organizer: Recipient = {"emailAddress": {"name": organizer_name, "address": organizer_addr}}
    is_organizer = organizer_addr.lower() == user_email.lower()
    stamp = offset_text(now)
    resource = cast(
        Event,
        {
            "@odata.etag": etag(change_key),
            "id": event_id,
            "createdDateTime": stamp,
            "lastModifiedDateTime": stamp,
            "changeKey": change_key,
            "categories": [],
            "transactionId": body.get("transactionId"),
            "iCalUId": ical_uid,
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": True,
            "hasAttachments": False,
            "subject": "",
            "bodyPreview": "",
            "importance": "normal",
            "sensitivity": "normal",
            "isAllDay": False,
            "isCancelled": bool(body.get("isCancelled", False)),
            "isOrganizer": is_organizer,
            "responseRequested": True,
            "seriesMasterId": None,
            "showAs": "busy",
            "type": "singleInstance",
            "webLink": web_link(event_id),
            "onlineMeetingUrl": None,
            "isOnlineMeeting": False,
            "onlineMeetingProvider": "unknown",
            "allowNewTimeProposals": True,
            "isDraft": False,
            "hideAttendees": False,
            "recurrence": None,
            "onlineMeeting": None,
            "responseStatus": {
                "response": "organizer" if is_organizer else "notResponded",
                "time": NEVER,
            },
            "body": {"contentType": "html", "content": ""},
            "location": normalise_location(None),
            "locations": [],
            "attendees": [],
            "organizer": organizer,
        },
    )
    apply_fields(resource, body, user_email)
    return resource


def bump(resource: Event, change_key: str, now: datetime) -> None:
    """Record a modification: new changeKey and etag, new lastModifiedDateTime."""
    data = cast(dict[str, Any], resource)
    data["changeKey"] = change_key
    data["@odata.etag"] = etag(change_key)
    data["lastModifiedDateTime"] = offset_text(now)


def bounds(resource: Event) -> tuple[datetime, datetime]:
    """The aware (start, end) instants of a stored resource."""
    return parse_dttz(resource["start"]), parse_dttz(resource["end"])


def shifted(value: DateTimeTimeZone, delta: timedelta) -> DateTimeTimeZone:
    """A dateTimeTimeZone moved by ``delta`` (wall time in its own zone)."""
    return dttz(parse_dttz(value) + delta, value["timeZone"])
