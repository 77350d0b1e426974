"""Finding a user's calendars on a CalDAV server, and checking a login at link time.

From what a person types (a URL, or just a host) to the calendar Chronik syncs:
1. the context path: `https://host/.well-known/caldav` (RFC 6764 §5), following its
   redirects, when only a host (or the bare origin) is given; else the URL given;
2. the principal: DAV:current-user-principal (RFC 5397) of the context path;
3. on the principal: CALDAV:calendar-home-set (RFC 4791 §6.2.1),
   CALDAV:calendar-user-address-set (RFC 6638 §2.4.1) and CALDAV:schedule-inbox-URL;
4. the primary calendar: the schedule inbox's CALDAV:schedule-default-calendar-URL (RFC 6638
   §9.2) where the server has one; else the first calendar collection of the home that takes
   VEVENTs, in the order the calendar apps show (Apple's calendar-order, then the display name,
   then the URL). Every calendar found is returned too, so a person can see the choice and
   pick another (`DiscoveredAccount.calendars`);
5. the owner's address: the first `mailto:` of calendar-user-address-set, else the username
   when it is an email address.

Whether the server schedules (sends invitations itself) is read from the DAV header of an
OPTIONS on the calendar: `calendar-auto-schedule` (RFC 6638 §2).
DNS SRV lookups (RFC 6764 §3) are not made: a host without the well-known URI needs its URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp

from sync.http import RetryPolicy
from sync.provider import NeedsReauth, ProviderError
from sync.providers.caldav import wire
from sync.providers.caldav.session import BasicCredentials, DavSession
from sync.providers.caldav.wire import APPLE, CALDAV, CALSERVER, DAV, WireError

_MAX_REDIRECTS = 5
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class LinkRefused(ProviderError):
    """The server or the login cannot be linked; `reason` says why in one word a form can map
    to a message: `invalid_auth` (wrong username or app password), `cannot_connect`,
    `not_caldav` (no CalDAV service there), `no_calendar`, `no_address`."""


@dataclass(frozen=True)
class CalendarInfo:
    url: str
    display_name: str | None
    # calendar-order (Apple) where the server keeps one; lower comes first.
    order: float | None


@dataclass(frozen=True)
class DiscoveredAccount:
    """What linking stores (besides the credentials): where the calendar is and whose it is."""

    principal_url: str
    calendar_url: str
    owner_email: str
    # Every calendar collection of the home that takes events, in display order.
    calendars: tuple[CalendarInfo, ...]
    # How `calendar_url` was chosen: "schedule-default-calendar-URL" or "first calendar".
    chosen_by: str
    # The server implements RFC 6638 scheduling: it sends the invitations itself.
    schedules: bool


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def normalize_server(text: str, *, allow_http: bool = False) -> tuple[str, bool]:
    """(URL, whether only an origin was given). `caldav.example.com` → `https://caldav.example.com/`.
    Plain `http://` is refused (the app password would cross the network readable) unless
    `allow_http` or the host is this machine."""
    text = text.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LinkRefused(
            f"{text!r} is not a server address (e.g. https://caldav.example.com).",
            reason="cannot_connect",
        )
    if parts.scheme == "http" and not allow_http and parts.hostname not in _LOOPBACK:
        raise LinkRefused(
            f"{text} is not HTTPS: Chronik sends the app password only over HTTPS.",
            reason="cannot_connect",
        )
    bare = parts.path in ("", "/")
    if bare:
        text = f"{parts.scheme}://{parts.netloc}/"
    return text, bare


async def discover(
    http: aiohttp.ClientSession,
    server: str,
    credentials: BasicCredentials,
    *,
    policy: RetryPolicy | None = None,
    allow_http: bool = False,
) -> DiscoveredAccount:
    """Find the primary calendar and its owner's address for this login (see the module's
    docstring for the steps).

    Raises `LinkRefused` with reason `invalid_auth` on a 401 ("wrong username or app
    password"), `cannot_connect` when the server cannot be reached (after retries) or answers
    with an error, `not_caldav` when no principal is found, `no_calendar` when the home holds
    no calendar for events, `no_address` when neither the server nor the username gives an
    email address.
    """
    session = DavSession(http, credentials, policy=policy)
    url, bare = normalize_server(server, allow_http=allow_http)
    try:
        return await _discover(session, url, bare, credentials)
    except NeedsReauth as exc:
        raise LinkRefused(
            "The CalDAV server refused the login: wrong username or app password. Use an app "
            "password where the provider asks for one (iCloud, Fastmail).",
            status=401,
            reason="invalid_auth",
        ) from exc
    except LinkRefused:
        raise
    except ProviderError as exc:  # ProviderUnavailable after retries, unexpected refusals
        raise LinkRefused(
            f"Could not reach a CalDAV service at {url}: {exc}",
            status=exc.status,
            reason="cannot_connect",
        ) from exc
    except WireError as exc:
        raise LinkRefused(
            f"{url} does not answer as a CalDAV server ({exc}).", reason="not_caldav"
        ) from exc


async def check_link(
    http: aiohttp.ClientSession,
    server: str,
    username: str,
    password: str,
    *,
    policy: RetryPolicy | None = None,
    allow_http: bool = False,
) -> DiscoveredAccount:
    """The link-time check: discovery with this login. Returns the owner's address and the
    primary calendar's URL (and the other calendars); raises `LinkRefused` (see `discover`).
    `allow_http`: accept a plain-HTTP server that is not on this machine (a home server on a
    trusted network; off by default)."""
    if not username or not password:
        raise LinkRefused("A username and an app password are needed.", reason="invalid_auth")
    credentials = BasicCredentials(username, password)
    return await discover(http, server, credentials, policy=policy, allow_http=allow_http)


async def _discover(
    session: DavSession, url: str, bare: bool, credentials: BasicCredentials
) -> DiscoveredAccount:
    principal = None
    if bare:
        principal = await _principal(session, urljoin(url, "/.well-known/caldav"))
    if principal is None:
        principal = await _principal(session, url)
    if principal is None:
        raise LinkRefused(
            f"No CalDAV account found at {url} (no current-user-principal); give the server's "
            "CalDAV URL.",
            reason="not_caldav",
        )
    found = await _propfind(
        session,
        principal,
        0,
        "C:calendar-home-set",
        "C:calendar-user-address-set",
        "C:schedule-inbox-URL",
    )
    if not found:
        raise LinkRefused(f"{principal} has no CalDAV properties.", reason="not_caldav")
    me = found[0]
    homes = me.hrefs(CALDAV, "calendar-home-set", principal) or [principal]
    owner = _owner_address(me, credentials.username)
    calendars: list[CalendarInfo] = []
    for home in homes:
        calendars += await _calendars(session, home)
    calendars.sort(key=_display_order)
    inboxes = me.hrefs(CALDAV, "schedule-inbox-URL", principal)
    default = await _default_calendar(session, inboxes[0]) if inboxes else None
    chosen_by = "first calendar"
    if default is not None and any(wire.same_path(default, c.url) for c in calendars):
        calendar_url = next(c.url for c in calendars if wire.same_path(default, c.url))
        chosen_by = "schedule-default-calendar-URL"
    elif calendars:
        calendar_url = calendars[0].url
    else:
        raise LinkRefused(
            "The CalDAV account has no calendar for events; create one in your calendar app.",
            reason="no_calendar",
        )
    if owner is None:
        raise LinkRefused(
            "The CalDAV server names no email address for this account, and the username is "
            "not one: sign in with your email address.",
            reason="no_address",
        )
    return DiscoveredAccount(
        principal_url=principal,
        calendar_url=calendar_url,
        owner_email=owner,
        calendars=tuple(calendars),
        chosen_by=chosen_by,
        schedules=await server_schedules(session, calendar_url),
    )


async def _principal(session: DavSession, url: str) -> str | None:
    """current-user-principal of `url`, following redirects (the well-known URI redirects)."""
    for _ in range(_MAX_REDIRECTS):
        response = await session.request(
            "PROPFIND",
            url,
            body=wire.propfind("D:current-user-principal", "D:resourcetype"),
            headers={**wire.XML_HEADERS, "Depth": "0"},
        )
        if response.status in (301, 302, 303, 307, 308):
            location = response.headers.get("Location")
            if not location:
                return None
            target = urljoin(url, location)
            # Credentials follow a redirect to another host only over TLS (Fastmail's
            # well-known URI leads to caldav.fastmail.com), never down to plain HTTP.
            same_origin = urlsplit(target).netloc == urlsplit(url).netloc
            downgrade = urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https"
            if downgrade or not (same_origin or urlsplit(target).scheme == "https"):
                raise LinkRefused(
                    f"{url} redirects to {target}, which is not HTTPS; give the server's "
                    "CalDAV URL.",
                    reason="cannot_connect",
                )
            url = target
            continue
        if response.status != 207:
            return None
        status = wire.parse_multistatus(response.body, url)
        for resource in status.responses:
            found = resource.hrefs(DAV, "current-user-principal", url)
            if found:
                return found[0]
        return None
    return None


async def _propfind(
    session: DavSession, url: str, depth: int, *props: str
) -> list[wire.DavResource]:
    response = await session.request(
        "PROPFIND",
        url,
        body=wire.propfind(*props),
        headers={**wire.XML_HEADERS, "Depth": str(depth)},
    )
    if response.status != 207:
        raise ProviderError(
            f"The CalDAV server answered PROPFIND {url} with HTTP {response.status}",
            status=response.status,
        )
    return wire.parse_multistatus(response.body, url).responses


async def _calendars(session: DavSession, home: str) -> list[CalendarInfo]:
    """The calendar collections of a home that take VEVENTs and the login may write
    (schedule inboxes and outboxes are not calendar collections; subscriptions and read-only
    shares are not calendars Chronik can schedule into)."""
    found = await _propfind(
        session,
        home,
        1,
        "D:resourcetype",
        "D:displayname",
        "C:supported-calendar-component-set",
        "A:calendar-order",
        "D:current-user-privilege-set",
    )
    calendars = []
    for resource in found:
        types = resource.resource_types()
        if wire.q(CALDAV, "calendar") not in types or wire.q(CALSERVER, "subscribed") in types:
            continue
        components = resource.components()
        if components is not None and "VEVENT" not in components:
            continue
        if not _writable(resource):
            continue
        order_text = resource.text(APPLE, "calendar-order")
        try:
            order = float(order_text) if order_text else None
        except ValueError:
            order = None
        calendars.append(CalendarInfo(resource.href, resource.text(DAV, "displayname"), order))
    return calendars


_WRITE_PRIVILEGES = frozenset(wire.q(DAV, p) for p in ("all", "write", "write-content", "bind"))


def _writable(resource: wire.DavResource) -> bool:
    """Whether the login may write events there (RFC 3744 current-user-privilege-set; a
    calendar shared read-only with the user is no primary calendar). Servers that do not say
    are taken at their word later, when a write is refused."""
    element = resource.props.get(wire.q(DAV, "current-user-privilege-set"))
    if element is None:
        return True
    granted = {
        child.tag for privilege in element.iter(wire.q(DAV, "privilege")) for child in privilege
    }
    return bool(granted & _WRITE_PRIVILEGES)


def _display_order(calendar: CalendarInfo) -> tuple[bool, float, str, str]:
    return (
        calendar.order is None,
        calendar.order or 0.0,
        (calendar.display_name or "").casefold(),
        calendar.url,
    )


async def _default_calendar(session: DavSession, inbox: str) -> str | None:
    try:
        found = await _propfind(session, inbox, 0, "C:schedule-default-calendar-URL")
    except ProviderError:
        return None
    for resource in found:
        hrefs = resource.hrefs(CALDAV, "schedule-default-calendar-URL", inbox)
        if hrefs:
            return hrefs[0]
    return None


def _owner_address(principal: wire.DavResource, username: str) -> str | None:
    element = principal.props.get(wire.q(CALDAV, "calendar-user-address-set"))
    if element is not None:
        for href in element.iter(wire.q(DAV, "href")):
            text = (href.text or "").strip()
            if text[:7].lower() == "mailto:" and _EMAIL.fullmatch(text[7:]):
                return text[7:].lower()
    if _EMAIL.fullmatch(username):
        return username.lower()
    return None


async def server_schedules(session: DavSession, calendar_url: str) -> bool:
    """Whether the server advertises RFC 6638 automatic scheduling (`calendar-auto-schedule`
    in the DAV header): only then does it send invitations for what Chronik writes."""
    response = await session.request("OPTIONS", calendar_url)
    features = {
        part.strip().lower()
        for value in response.headers.get("DAV", "").split(",")
        for part in [value]
    }
    return "calendar-auto-schedule" in features
