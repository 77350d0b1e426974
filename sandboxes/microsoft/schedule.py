"""``POST /me/calendar/getSchedule``: free/busy of sandbox mailboxes over a time window.

``availabilityView`` has one digit per ``availabilityViewInterval`` minutes (0 free,
1 tentative, 2 busy, 3 oof, 4 workingElsewhere); when several items overlap an interval the
strongest status wins (oof > busy > tentative > workingElsewhere > free). Cancelled events are
not busy. Times come back in the zone of the request's ``startTime``. Private items of another
mailbox show no subject or location.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sync.providers.microsoft.wire import ScheduleInformation, ScheduleItem

from .errors import bad_request
from .resources import bounds
from .store import Mailbox, MailboxStore
from .timefmt import BadTimeZone, dttz, parse_dttz

_DIGIT = {
    "free": "0",
    "tentative": "1",
    "busy": "2",
    "oof": "3",
    "workingElsewhere": "4",
    "unknown": "0",
}
_RANK = {"free": 0, "unknown": 0, "workingElsewhere": 1, "tentative": 2, "busy": 3, "oof": 4}


def _window(body: Mapping[str, Any]) -> tuple[datetime, datetime, str, int]:
    try:
        start_raw, end_raw = body["startTime"], body["endTime"]
        start, end = parse_dttz(start_raw), parse_dttz(end_raw)
    except (KeyError, TypeError) as exc:
        raise bad_request("startTime and endTime are required.", "ErrorInvalidParameter") from exc
    except (BadTimeZone, ValueError) as exc:
        raise bad_request(f"Invalid time window: {exc}", "ErrorInvalidParameter") from exc
    if end <= start:
        raise bad_request("The end time must be after the start time.", "ErrorInvalidParameter")
    interval = int(body.get("availabilityViewInterval") or 30)
    if not 5 <= interval <= 1440:
        raise bad_request(
            "availabilityViewInterval must be between 5 and 1440.", "ErrorInvalidParameter"
        )
    return start, end, start_raw.get("timeZone") or "UTC", interval


def get_schedule(store: MailboxStore, me: Mailbox, body: Mapping[str, Any]) -> dict[str, Any]:
    """The response body of getSchedule for ``me`` asking about ``body["schedules"]``."""
    schedules = body.get("schedules")
    if not isinstance(schedules, list) or not schedules:
        raise bad_request("schedules is required.", "ErrorInvalidParameter")
    start, end, zone_name, interval = _window(body)
    value: list[ScheduleInformation] = []
    for address in schedules:
        try:
            owner = store.user(str(address))
        except KeyError:
            value.append(
                {
                    "scheduleId": address,
                    "availabilityView": "",
                    "scheduleItems": [],
                    "error": {
                        "message": "The specified user could not be found.",
                        "responseCode": "ErrorMailRecipientNotFound",
                    },
                }
            )
            continue
        value.append(_one(store, me, owner, address, start, end, zone_name, interval))
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)",
        "value": value,
    }


def _one(
    store: MailboxStore,
    me: Mailbox,
    owner: Mailbox,
    address: str,
    start: datetime,
    end: datetime,
    zone_name: str,
    interval: int,
) -> ScheduleInformation:
    items: list[ScheduleItem] = []
    spans: list[tuple[datetime, datetime, str]] = []
    for event in store.view(owner, owner.default_calendar, start, end):
        if event.get("isCancelled"):
            continue
        ev_start, ev_end = bounds(event)
        status: Any = event.get("showAs", "busy")
        private = event.get("sensitivity") in ("private", "confidential")
        item: ScheduleItem = {
            "isPrivate": private,
            "status": status,
            "start": dttz(ev_start, zone_name),
            "end": dttz(ev_end, zone_name),
        }
        if not private or owner is me:
            item["subject"] = event.get("subject", "")
            item["location"] = event.get("location", {}).get("displayName", "")
        items.append(item)
        spans.append((ev_start, ev_end, status))
    digits = []
    slot = start
    step = timedelta(minutes=interval)
    while slot < end:
        slot_end = slot + step
        best: str = "free"
        for s, e, status in spans:
            if s < slot_end and e > slot and _RANK.get(status, 0) > _RANK[best]:
                best = status
        digits.append(_DIGIT[best])
        slot = slot_end
    return {
        "scheduleId": address,
        "availabilityView": "".join(digits),
        "scheduleItems": items,
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": "UTC"},
        },
    }
