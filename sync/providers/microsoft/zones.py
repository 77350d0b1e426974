"""Windows time zone names (what Outlook and Graph write) to IANA names, and back.

Both directions are CLDR's windowsZones, as the `tzlocal` package ships it (`win_tz`: a Windows
name to its zone for territory 001; `tz_win`: every IANA name CLDR lists, aliases included, to
its Windows name). Graph adds a few aliases of its own for UTC. Shared by the Graph client's
parser and the Graph sandbox.

Graph takes a `timeZone` on create and update only as a Windows name or one of about 100 IANA
names it documents (https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone,
"Additional time zones"); anything else is 400 TimeZoneNotSupportedException. So Chronik
always writes the Windows name (`windows_name`), which every Graph method accepts.
"""

from __future__ import annotations

from tzlocal.windows_tz import tz_win, win_tz

WINDOWS_ZONES: dict[str, str] = {
    **win_tz,
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "tzone://Microsoft/Utc": "UTC",
}


class UnknownTimeZone(ValueError):
    """CLDR names no Windows time zone for this IANA name (e.g. "Factory", or a few tzdata
    links such as "GMT" that CLDR does not list)."""


def windows_name(iana: str) -> str:
    """The Windows time zone name Graph accepts for the IANA zone `iana` (e.g. "Europe/Zurich"
    → "W. Europe Standard Time", "Etc/UTC" → "UTC"), from CLDR's mapping; Windows names pass
    through unchanged. `UnknownTimeZone` when CLDR lists no Windows zone for it."""
    if iana in WINDOWS_ZONES:
        return iana
    try:
        return tz_win[iana]
    except KeyError:
        raise UnknownTimeZone(iana) from None
