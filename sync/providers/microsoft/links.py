"""Outlook on the web event links → Graph event ids: pure functions, no I/O.

A Graph event's `webLink` is `https://outlook.office365.com/owa/?itemid=<url-encoded id>
&exvsurl=1&path=/calendar/item`; Outlook's address bar shows `https://outlook.office.com/
calendar/item/<url-encoded id>` (also under `/calendar/deeplink/read/`). Outlook may write the
id in its EWS form, whose base64 uses `/` and `+` where Graph's REST ids use `-` and `_`.
https://learn.microsoft.com/en-us/graph/api/resources/event (`webLink`),
https://learn.microsoft.com/en-us/graph/api/user-translateexchangeids
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

_HOST = re.compile(r"(outlook\.office365\.com|outlook\.office\.com|outlook\.live\.com)")
# Graph REST ids are URL-safe base64 (with `=` padding).
_EVENT_ID = re.compile(r"[A-Za-z0-9_=-]{1,1024}")


def is_event_id(text: str) -> bool:
    """Whether `text` can be a Graph event id."""
    return _EVENT_ID.fullmatch(text) is not None


def event_id_from_link(link: str) -> str | None:
    """The Graph event id an Outlook event link names, or None when it is not one."""
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not _HOST.fullmatch(parts.hostname or ""):
        return None
    item_id: str | None = None
    values = parse_qs(parts.query).get("itemid")
    if values:
        item_id = values[0]
    else:
        segments = [unquote(s) for s in parts.path.split("/") if s]
        for marker in ("item", "read"):
            if marker in segments[:-1] and "calendar" in segments:
                item_id = segments[segments.index(marker) + 1]
                break
    if not item_id:
        return None
    rest_id = item_id.replace("/", "-").replace("+", "_")
    return rest_id if is_event_id(rest_id) else None
