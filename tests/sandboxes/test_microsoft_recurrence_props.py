"""Property tests of the Microsoft sandbox's recurrence expansion against a brute-force walk
over calendar days (daily and weekly patterns, numbered and end-date ranges, any zone)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from sandboxes.microsoft.recurrence import occurrence_starts

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney"]


def brute_force(
    kind: str,
    interval: int,
    days: list[str],
    first: date,
    at: time,
    zone: str,
    count: int | None,
    until: date | None,
    horizon: date,
) -> list[datetime]:
    """Walk day by day from ``first``: the wall-clock starts Outlook would produce."""
    tz = ZoneInfo(zone)
    out: list[datetime] = []
    week_start = first - timedelta(days=(first.weekday() + 1) % 7)  # weeks start on Sunday
    day = first
    while day <= horizon and (until is None or day <= until):
        if kind == "daily":
            hit = (day - first).days % interval == 0
        else:
            weeks = (day - week_start).days // 7
            hit = weeks % interval == 0 and DAYS[day.weekday()] in days
        if hit:
            out.append(datetime.combine(day, at, tz).astimezone(UTC))
            if count is not None and len(out) == count:
                break
        day += timedelta(days=1)
    return out


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["daily", "weekly"]),
    interval=st.integers(1, 3),
    days=st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True),
    first=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    hour=st.integers(0, 23),
    zone=st.sampled_from(ZONES),
    numbered=st.booleans(),
    count=st.integers(1, 20),
    span=st.integers(0, 90),
)
def test_expansion_matches_a_day_by_day_walk(
    kind, interval, days, first, hour, zone, numbered, count, span
):
    at = time(hour, 30)
    recurrence = {
        "pattern": {
            "type": kind,
            "interval": interval,
            "daysOfWeek": days,
            "firstDayOfWeek": "sunday",
        },
        "range": {
            "type": "numbered" if numbered else "endDate",
            "startDate": first.isoformat(),
            "endDate": (first + timedelta(days=span)).isoformat(),
            "numberOfOccurrences": count,
            "recurrenceTimeZone": zone,
        },
    }
    master_start = datetime.combine(first, at, ZoneInfo(zone))
    window_start = datetime(2025, 12, 1, tzinfo=UTC)
    window_end = datetime(2028, 1, 1, tzinfo=UTC)
    got = occurrence_starts(
        recurrence,
        master_start,
        timedelta(minutes=30),  # type: ignore[arg-type]
        window_start,
        window_end,
    )
    expected = brute_force(
        kind,
        interval,
        days,
        first,
        at,
        zone,
        count if numbered else None,
        None if numbered else first + timedelta(days=span),
        date(2027, 12, 31),
    )
    assert got == expected
