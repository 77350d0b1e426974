"""Graph's date/time spellings: dateTimeTimeZone values, DateTimeOffsets, time zone names.

Graph writes ``start``/``end`` as ``{"dateTime": "2026-01-05T09:00:00.0000000", "timeZone": "UTC"}``
(seven fractional digits, no offset) and timestamps such as ``createdDateTime`` as
``2026-01-05T09:00:00.1234567Z``. It reads both Windows ("Pacific Standard Time") and IANA
time zone names; what it takes on create and update is narrower (``zone_names``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync.providers.microsoft.wire import DateTimeTimeZone
from sync.providers.microsoft.zones import WINDOWS_ZONES

_FRACTION = re.compile(r"\.(\d+)")


class BadTimeZone(ValueError):
    """A time zone name Graph would not recognise."""


def zone(name: str | None) -> tzinfo:
    """The tzinfo for a Windows or IANA zone name (None or empty means UTC)."""
    if not name or name == "UTC":
        return UTC
    iana = WINDOWS_ZONES.get(name, name)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadTimeZone(name) from exc


def parse_local(text: str) -> datetime:
    """Parse a Graph ``dateTime`` (any fraction length, optional offset/Z) to a datetime.
    The result is naive unless the text carried an offset."""
    text = text.strip()
    try:
        return datetime.fromisoformat(text)  # Python 3.11 reads Z and 7 fraction digits
    except ValueError:
        pass
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    match = _FRACTION.search(text)
    if match:
        text = text[: match.start()] + "." + match.group(1)[:6].ljust(6, "0") + text[match.end() :]
    return datetime.fromisoformat(text)


def parse_dttz(value: DateTimeTimeZone) -> datetime:
    """An aware datetime for a dateTimeTimeZone value."""
    moment = parse_local(value["dateTime"])
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(value.get("timeZone")))
    return moment


def parse_offset(text: str, default_zone: tzinfo = UTC) -> datetime:
    """An aware datetime for an ISO 8601 DateTimeOffset (naive text is read in default_zone)."""
    moment = parse_local(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_zone)
    return moment


def local_text(moment: datetime) -> str:
    """``2026-01-05T09:00:00.0000000``: the wall time of ``moment`` with seven fraction digits."""
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "0"


def dttz(moment: datetime, zone_name: str = "UTC") -> DateTimeTimeZone:
    """A dateTimeTimeZone for ``moment`` expressed in ``zone_name``."""
    return {"dateTime": local_text(moment.astimezone(zone(zone_name))), "timeZone": zone_name}


def offset_text(moment: datetime) -> str:
    """``2026-01-05T09:00:00.1234567Z``: a UTC DateTimeOffset as Graph writes timestamps."""
    return local_text(moment.astimezone(UTC)) + "Z"


def short_offset_text(moment: datetime) -> str:
    """``2026-01-05T09:00:00Z``: the whole-second form Graph uses for ``originalStart``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def inner_error_date(moment: datetime) -> str:
    """``2026-01-05T09:00:00``: the innerError.date spelling (UTC, whole seconds, no Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def from_epoch(seconds: float) -> datetime:
    """An aware UTC datetime for a clock reading."""
    return datetime.fromtimestamp(seconds, UTC)


def parse_date(text: str) -> date:
    """A ``2026-01-05`` Graph Date."""
    return date.fromisoformat(text[:10])


def midnight_after(day: date, tz: tzinfo) -> datetime:
    """The start of the day after ``day`` in ``tz`` (an inclusive endDate's bound)."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time()).replace(tzinfo=tz)
