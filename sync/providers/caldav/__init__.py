"""CalDAV calendars (RFC 4791: iCloud, Fastmail, Nextcloud, Radicale, Xandikos, ...).

What the provider registry calls:
- `check_link(http, server, username, password)` at link time → `DiscoveredAccount`
  (owner address, primary calendar URL, every calendar, whether the server sends
  invitations); `LinkRefused` with `reason` invalid_auth / cannot_connect / not_caldav /
  no_calendar / no_address.
- `CalDavClient(http, calendar_url=..., credentials=BasicCredentials(username, password),
  owner_email=..., schedules=..., policy=...)`: the `CalendarClient` of the linked calendar.
  Settings it needs per connection: the calendar URL, the username, the app password (secret),
  the owner's address, and (optional) whether the server schedules.
- No push: `watch`/`renew` raise `NotSupported`; the connection is polled (a sync-collection
  with nothing new costs one REPORT; without sync-collection, one ctag PROPFIND).

Modules: `session` (Basic-auth requests, retries), `wire` (WebDAV XML), `parse` (iCalendar ↔
`ProviderEvent`/`EventDraft`), `discovery` (linking), `client` (the `CalendarClient`).
"""

from sync.providers.caldav.client import CalDavClient, resource_name_for
from sync.providers.caldav.discovery import (
    CalendarInfo,
    DiscoveredAccount,
    LinkRefused,
    check_link,
    discover,
)
from sync.providers.caldav.session import BasicCredentials

__all__ = [
    "BasicCredentials",
    "CalDavClient",
    "CalendarInfo",
    "DiscoveredAccount",
    "LinkRefused",
    "check_link",
    "discover",
    "resource_name_for",
]
