"""Windows time zone names (what Outlook and Graph write) to IANA names.

The mapping is CLDR's windowsZones, as the `tzlocal` package ships it; Graph adds a few
aliases of its own for UTC. Shared by the Graph client's parser and the Graph sandbox.
"""

from __future__ import annotations

from tzlocal.windows_tz import win_tz

WINDOWS_ZONES: dict[str, str] = {
    **win_tz,
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "tzone://Microsoft/Utc": "UTC",
}
