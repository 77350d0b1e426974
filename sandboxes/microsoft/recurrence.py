"""Expand Graph's patternedRecurrence into occurrence start times with dateutil's rrule.

Outlook evaluates a series in its own time zone (``recurrence.range.recurrenceTimeZone``, else the
event's ``originalStartTimeZone``): the wall-clock start time repeats, so an 09:00 meeting stays at
09:00 across a DST change. The series starts on ``range.startDate`` at the master's start time;
``endDate`` is inclusive; ``numbered`` counts occurrences; ``noEnd`` is bounded only by the
window asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from dateutil import rrule

from sync.providers.microsoft.wire import PatternedRecurrence

from .timefmt import parse_date

_DAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_PATTERNS = {
    "daily": rrule.DAILY,
    "weekly": rrule.WEEKLY,
    "absoluteMonthly": rrule.MONTHLY,
    "relativeMonthly": rrule.MONTHLY,
    "absoluteYearly": rrule.YEARLY,
    "relativeYearly": rrule.YEARLY,
}


class BadRecurrence(ValueError):
    """A recurrence Graph would reject (unknown pattern type, missing fields)."""


def build_rule(recurrence: PatternedRecurrence, first_start: datetime) -> rrule.rrule:
    """The rrule (over naive wall-clock times) of a series whose master starts at ``first_start``
    (aware, in the series' zone)."""
    pattern = recurrence.get("pattern") or {}
    rng = recurrence.get("range") or {}
    kind = pattern.get("type")
    if kind not in _PATTERNS:
        raise BadRecurrence(f"Unsupported recurrence pattern type: {kind!r}")
    start_date = parse_date(rng["startDate"]) if rng.get("startDate") else first_start.date()
    dtstart = datetime.combine(start_date, first_start.time().replace(tzinfo=None))
    kwargs: dict[str, object] = {
        "dtstart": dtstart,
        "interval": max(1, int(pattern.get("interval") or 1)),
        "wkst": _DAYS[pattern.get("firstDayOfWeek") or "sunday"],
    }
    days = [_DAYS[d] for d in pattern.get("daysOfWeek") or []]
    if kind == "weekly":
        kwargs["byweekday"] = days or [_DAYS[dtstart.strftime("%A").lower()]]
    elif kind in ("absoluteMonthly", "absoluteYearly"):
        kwargs["bymonthday"] = int(pattern.get("dayOfMonth") or dtstart.day)
    elif kind in ("relativeMonthly", "relativeYearly"):
        if not days:
            raise BadRecurrence("daysOfWeek is required for relative patterns")
        kwargs["byweekday"] = days
        kwargs["bysetpos"] = _INDEX[pattern.get("index") or "first"]
    if kind in ("absoluteYearly", "relativeYearly"):
        kwargs["bymonth"] = int(pattern.get("month") or dtstart.month)
    range_type = rng.get("type", "noEnd")
    if range_type == "endDate":
        end_date = parse_date(rng["endDate"])
        kwargs["until"] = datetime.combine(end_date, datetime.max.time())
    elif range_type == "numbered":
        kwargs["count"] = max(1, int(rng.get("numberOfOccurrences") or 1))
    return rrule.rrule(_PATTERNS[kind], **kwargs)


def occurrence_starts(
    recurrence: PatternedRecurrence,
    first_start: datetime,
    duration: timedelta,
    window_start: datetime,
    window_end: datetime,
) -> list[datetime]:
    """Original starts (aware, UTC) of the occurrences overlapping [window_start, window_end)."""
    tz: tzinfo = first_start.tzinfo or UTC
    rule = build_rule(recurrence, first_start)
    # Search in wall-clock time with a day of slack for offsets, then filter exactly.
    slack = timedelta(days=1)
    lo = window_start.astimezone(tz).replace(tzinfo=None) - duration - slack
    hi = window_end.astimezone(tz).replace(tzinfo=None) + slack
    starts = []
    for wall in rule.between(lo, hi, inc=True):
        start = wall.replace(tzinfo=tz).astimezone(UTC)
        if start < window_end and start + duration > window_start:
            starts.append(start)
    return starts
