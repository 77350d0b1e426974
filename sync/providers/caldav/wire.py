"""WebDAV/CalDAV on the wire: request bodies and the parsing of `207 Multi-Status` answers.

No I/O. Bodies follow RFC 4918 (PROPFIND), RFC 4791 (calendar-multiget, calendar-query,
free-busy-query), RFC 6578 (sync-collection) and RFC 6638 (scheduling properties). Answers are
read with the standard library's expat parser, which never fetches external entities.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.sax.saxutils import escape

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CALSERVER = "http://calendarserver.org/ns/"
APPLE = "http://apple.com/ns/ical/"

_PREFIXES = f'xmlns:D="{DAV}" xmlns:C="{CALDAV}" xmlns:CS="{CALSERVER}" xmlns:A="{APPLE}"'
_XML = '<?xml version="1.0" encoding="utf-8"?>\n'

XML_HEADERS = {"Content-Type": 'application/xml; charset="utf-8"'}


def q(namespace: str, name: str) -> str:
    """ElementTree's `{namespace}name`."""
    return f"{{{namespace}}}{name}"


def propfind(*props: str) -> bytes:
    """A PROPFIND body asking for `props`, written as prefixed names (`D:displayname`)."""
    inner = "".join(f"<{p}/>" for p in props)
    return f"{_XML}<D:propfind {_PREFIXES}><D:prop>{inner}</D:prop></D:propfind>".encode()


def sync_collection(sync_token: str | None) -> bytes:
    """RFC 6578 §3.2 sync-collection REPORT, depth 1, asking for each member's etag. An empty
    token asks for the initial listing (every member)."""
    token = escape(sync_token or "")
    return (
        f"{_XML}<D:sync-collection {_PREFIXES}><D:sync-token>{token}</D:sync-token>"
        "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
    ).encode()


def calendar_multiget(hrefs: Iterable[str]) -> bytes:
    """RFC 4791 §7.9 calendar-multiget for the given hrefs (paths as the server wrote them)."""
    refs = "".join(f"<D:href>{escape(h)}</D:href>" for h in hrefs)
    return (
        f"{_XML}<C:calendar-multiget {_PREFIXES}><D:prop><D:getetag/><C:calendar-data/>"
        f"</D:prop>{refs}</C:calendar-multiget>"
    ).encode()


def calendar_query(start: datetime, end: datetime) -> bytes:
    """RFC 4791 §7.8 calendar-query: the VEVENT resources overlapping [start, end) with their
    data (the server evaluates recurrences; Chronik expands them itself)."""
    return (
        f"{_XML}<C:calendar-query {_PREFIXES}><D:prop><D:getetag/><C:calendar-data/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{ical_utc(start)}" end="{ical_utc(end)}"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    ).encode()


def free_busy_query(start: datetime, end: datetime) -> bytes:
    """RFC 4791 §7.10 free-busy-query on a calendar collection."""
    return (
        f"{_XML}<C:free-busy-query {_PREFIXES}>"
        f'<C:time-range start="{ical_utc(start)}" end="{ical_utc(end)}"/></C:free-busy-query>'
    ).encode()


def ical_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class DavResource:
    """One `<D:response>` of a multistatus: its href (absolute URL), its status when the
    response carries one (a deleted member in sync-collection: 404), and the properties found
    with 200, as elements keyed by `{namespace}name`."""

    href: str
    status: int | None = None
    props: dict[str, ET.Element] = field(default_factory=dict)

    def text(self, namespace: str, name: str) -> str | None:
        element = self.props.get(q(namespace, name))
        if element is None or element.text is None:
            return None
        return element.text.strip()

    def hrefs(self, namespace: str, name: str, base: str) -> list[str]:
        """The `<D:href>`s inside a property (current-user-principal, calendar-home-set, ...),
        as absolute URLs against `base`."""
        element = self.props.get(q(namespace, name))
        if element is None:
            return []
        return [urljoin(base, h.text.strip()) for h in element.iter(q(DAV, "href")) if h.text]

    def has(self, namespace: str, name: str) -> bool:
        return q(namespace, name) in self.props

    def resource_types(self) -> set[str]:
        element = self.props.get(q(DAV, "resourcetype"))
        return {child.tag for child in element} if element is not None else set()

    def components(self) -> set[str] | None:
        """supported-calendar-component-set's names; None when the server does not say (RFC
        4791 §5.2.3: then any component type is allowed)."""
        element = self.props.get(q(CALDAV, "supported-calendar-component-set"))
        if element is None:
            return None
        return {c.get("name", "").upper() for c in element.iter(q(CALDAV, "comp"))}


@dataclass
class MultiStatus:
    responses: list[DavResource]
    sync_token: str | None = None


class WireError(ValueError):
    """The server's answer is not the XML the protocol describes."""


def parse_multistatus(body: bytes, base: str) -> MultiStatus:
    """A `207 Multi-Status` body. Hrefs are made absolute against `base` (the request URL)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise WireError(f"not XML: {exc}") from exc
    if root.tag != q(DAV, "multistatus"):
        raise WireError(f"expected DAV:multistatus, got {root.tag}")
    responses = []
    for item in root.findall(q(DAV, "response")):
        href_element = item.find(q(DAV, "href"))
        if href_element is None or not href_element.text:
            continue
        resource = DavResource(href=urljoin(base, href_element.text.strip()))
        status = item.find(q(DAV, "status"))
        if status is not None and status.text:
            resource.status = _status_code(status.text)
        for propstat in item.findall(q(DAV, "propstat")):
            code = propstat.find(q(DAV, "status"))
            if code is not None and code.text and _status_code(code.text) != 200:
                continue
            prop = propstat.find(q(DAV, "prop"))
            for element in prop if prop is not None else ():
                resource.props[element.tag] = element
        responses.append(resource)
    token = root.find(q(DAV, "sync-token"))
    return MultiStatus(responses, token.text.strip() if token is not None and token.text else None)


def precondition(body: bytes) -> set[str]:
    """The preconditions named in a DAV:error body (RFC 4918 §16), e.g. `{DAV:}valid-sync-token`."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return set()
    if root.tag != q(DAV, "error"):
        return set()
    return {child.tag for child in root}


def _status_code(line: str) -> int | None:
    # "HTTP/1.1 404 Not Found"
    parts = line.split()
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None


def same_path(a: str, b: str) -> bool:
    """Whether two URLs name the same collection (trailing slash and escaping aside)."""
    return unquote(urlsplit(a).path).rstrip("/") == unquote(urlsplit(b).path).rstrip("/")


# Characters a member name keeps unescaped (RFC 3986 pchar minus "/"): one canonical spelling,
# so the same resource always has the same id whatever escaping a server writes in hrefs.
_NAME_SAFE = "@:+,;=!$&'()*~-._"


def member_name(collection_url: str, href: str) -> str | None:
    """The member's name inside the collection, canonically escaped (`abc.ics`,
    `a%20b.ics`), or None when `href` is not a direct, non-collection member of
    `collection_url`."""
    base = unquote(urlsplit(collection_url).path).rstrip("/") + "/"
    path = unquote(urlsplit(href).path)
    if not path.startswith(base):
        return None
    rest = path[len(base) :]
    if not rest or "/" in rest:
        return None
    return quote(rest, safe=_NAME_SAFE)


def hrefs_of(collection_url: str, names: Sequence[str]) -> list[str]:
    """Absolute paths of members by name (for multiget bodies)."""
    base = urlsplit(collection_url).path
    if not base.endswith("/"):
        base += "/"
    return [base + name for name in names]
