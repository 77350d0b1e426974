"""Google Calendar event links → event ids: pure functions, no I/O.

An event's `htmlLink` (and the link Google Calendar's "copy link" and its address bar give) is
`https://www.google.com/calendar/event?eid=<eid>` or `https://calendar.google.com/calendar/…
/event?eid=<eid>` (the editor: `…/r/eventedit/<eid>`), where `eid` is the unpadded URL-safe
base64 of "<event id> <calendar id>" (Google shortens the calendar id, e.g. `@m` for
`@gmail.com`). An invitation keeps its event id in every guest's calendar, so the calendar part
is not needed to find the event in the caller's own calendar.
https://developers.google.com/calendar/api/v3/reference/events (`htmlLink`)
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs, urlsplit

from sync.providers.google.client import is_event_id

_HOSTS = frozenset({"www.google.com", "google.com", "calendar.google.com"})


def event_id_from_link(link: str) -> str | None:
    """The event id a Google Calendar event link names, or None when it is not one."""
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or (parts.hostname or "") not in _HOSTS:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if not segments or segments[0] != "calendar":
        return None
    eid: str | None = None
    if segments[-1] == "event":
        values = parse_qs(parts.query).get("eid")
        eid = values[0] if values else None
    elif len(segments) >= 2 and segments[-2] in ("eventedit", "event"):
        eid = segments[-1]
    return _event_id(eid) if eid else None


def _event_id(eid: str) -> str | None:
    try:
        decoded = base64.urlsafe_b64decode(eid + "=" * (-len(eid) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    event_id = decoded.split(" ", 1)[0]
    return event_id if is_event_id(event_id) else None
