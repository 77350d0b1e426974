"""Recurring series expansion (RRULE/EXRULE/RDATE/EXDATE) into Google-style instances.

Rules are expanded in the event's wall-clock time (naive local datetimes, then localized), so
a 09:00 weekly meeting stays at 09:00 across DST changes, as in Google Calendar.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterator
from typing import Any

from dateutil import rrule

from sandboxes.google import errors
from sandboxes.google.model import UTC, StoredEvent, When

# Unbounded series are expanded at most this far past the window start (Google also stops
# expanding open-ended series somewhere; clients must not rely on infinite expansion).
MAX_INSTANCES = 1000
OPEN_HORIZON = dt.timedelta(days=2 * 365)


def _local(moment: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _parse_ical(value: str, tzid: str | None, tz: dt.tzinfo, start: dt.datetime) -> dt.datetime:
    """An iCalendar DATE or DATE-TIME value as naive wall-clock time in ``tz``."""
    from sandboxes.google.model import zone

    value = value.strip()
    try:
        if len(value) == 8:
            day = dt.datetime.strptime(value, "%Y%m%d")
            return dt.datetime.combine(day.date(), start.time())
        if value.endswith("Z"):
            moment = dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return _local(moment, tz)
        naive = dt.datetime.strptime(value, "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise errors.invalid("Invalid recurrence rule.") from exc
    if tzid:
        return _local(naive.replace(tzinfo=zone(tzid)), tz)
    return naive


def _rule(value: str, tz: dt.tzinfo, start: dt.datetime) -> rrule.rrule:
    parts = []
    for part in value.split(";"):
        key, _, val = part.partition("=")
        if key.upper() == "UNTIL":
            until = _parse_ical(val, None, tz, start)
            if len(val.strip()) == 8:
                until = dt.datetime.combine(until.date(), dt.time(23, 59, 59))
            val = until.strftime("%Y%m%dT%H%M%S")
        parts.append(f"{key}={val}")
    try:
        parsed = rrule.rrulestr(";".join(parts), dtstart=start)
    except (ValueError, TypeError) as exc:
        raise errors.invalid("Invalid recurrence rule.") from exc
    assert isinstance(parsed, rrule.rrule)
    return parsed


def build_ruleset(start: When, recurrence: list[str]) -> rrule.rruleset:
    """Compile Google's ``recurrence`` lines; 400 ``invalid`` when a line cannot be parsed."""
    tz = start.moment.tzinfo
    assert tz is not None
    local_start = start.moment.replace(tzinfo=None)
    rules = rrule.rruleset()
    has_rule = False
    for line in recurrence:
        head, sep, value = line.partition(":")
        if not sep:
            raise errors.invalid("Invalid recurrence rule.")
        params = head.split(";")
        name = params[0].upper()
        tzid = next((p[5:] for p in params[1:] if p.upper().startswith("TZID=")), None)
        if name in ("RRULE", "EXRULE"):
            compiled = _rule(value, tz, local_start)
            if name == "RRULE":
                rules.rrule(compiled)
                has_rule = True
            else:
                rules.exrule(compiled)
        elif name in ("RDATE", "EXDATE"):
            for item in value.split(","):
                moment = _parse_ical(item, tzid, tz, local_start)
                if name == "RDATE":
                    rules.rdate(moment)
                    has_rule = True
                else:
                    rules.exdate(moment)
        else:
            raise errors.invalid("Invalid recurrence rule.")
    if not has_rule:
        raise errors.invalid("Invalid recurrence rule.")
    return rules


def validate(start: When, recurrence: list[str]) -> None:
    """Raise 400 when ``recurrence`` is not a usable rule set."""
    build_ruleset(start, recurrence)


def occurrence_starts(
    start: When,
    recurrence: list[str],
    duration: dt.timedelta,
    window_start: dt.datetime | None,
    window_end: dt.datetime | None,
) -> Iterator[When]:
    """Original start times of the occurrences overlapping [window_start, window_end)."""
    rules = build_ruleset(start, recurrence)
    tz = start.moment.tzinfo
    assert tz is not None
    lo = window_start if window_start is not None else start.moment
    hi = window_end if window_end is not None else max(lo, start.moment) + OPEN_HORIZON
    produced = 0
    for local in rules:
        moment = local.replace(tzinfo=tz)
        if moment >= hi or produced >= MAX_INSTANCES:
            return
        if moment + duration <= lo and not (duration == dt.timedelta(0) and moment == lo):
            continue
        produced += 1
        yield When(moment, start.all_day, start.tz_name)


def instance_id(master_id: str, original: When) -> str:
    """Google's id of one occurrence: ``<masterId>_<original start>``."""
    return f"{master_id}_{original.instance_suffix()}"


def synthesize(master: StoredEvent, original: When) -> dict[str, Any]:
    """The instance resource Google derives from a series master for one occurrence."""
    duration = master.end.moment - master.start.moment
    end_moment = original.moment + duration
    end = When(end_moment, original.all_day, master.end.tz_name)
    data: dict[str, Any] = {}
    for key, value in master.data.items():
        if key == "recurrence":
            # Google puts the series link where the rule was.
            data["recurringEventId"] = master.id
            data["originalStartTime"] = original.to_wire()
        elif key == "id":
            data["id"] = instance_id(master.id, original)
        elif key == "htmlLink":
            # An instance's link opens that occurrence: its eid names the instance id.
            data["htmlLink"] = _instance_link(value, instance_id(master.id, original))
        elif key == "start":
            data["start"] = original.to_wire()
        elif key == "end":
            data["end"] = end.to_wire()
        else:
            data[key] = value
    return data


def _instance_link(master_link: str, instance: str) -> str:
    """The master's htmlLink with the instance id in place of the master's in its eid
    (the eid is the unpadded URL-safe base64 of "<event id> <calendar id>")."""
    prefix, _, eid = master_link.partition("eid=")
    try:
        decoded = base64.urlsafe_b64decode(eid + "=" * (-len(eid) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return master_link
    _, _, calendar_id = decoded.partition(" ")
    encoded = base64.urlsafe_b64encode(f"{instance} {calendar_id}".encode()).decode()
    return f"{prefix}eid={encoded.rstrip('=')}"
