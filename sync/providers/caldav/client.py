"""A CalDAV calendar (RFC 4791) as a `CalendarClient`: requests and error handling, no database.

The change feed is RFC 6578 sync-collection on the primary calendar collection, its sync
token the incremental cursor; servers without it are compared by CS:getctag and each member's
DAV:getetag instead (the ctag/etag method of the CalendarServer sync guide). Changed members
are read with calendar-multiget, `page_size` resources per page, and parsed by `parse.py`.
A cursor (see `FeedCursor`) carries the round's remaining member names, so a round resumes
where it stopped, and the occurrence ids each resource produced last time: a resource holds a
whole series, so an override or EXDATE that vanished from it is reported as an OCCURRENCE
(restored), and a deleted resource as removed stubs for its series and every occurrence id.

Scheduling writes whole resources: PUT with `If-None-Match: *` to create (under a name derived
from the idempotency key) and `If-Match` to change; invitations are the server's job (RFC 6638)
where it implements automatic scheduling, `sends_invitations` says whether it does.
CalDAV has no push: `watch` and `renew` raise `NotSupported`; the connection is polled.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import icalendar
import orjson
import recurring_ical_events

from sync.http import ProviderResponse, RetryPolicy
from sync.model import ChangePage, CursorExpired, EventKind, EventStatus, ProviderEvent
from sync.provider import (
    EventChanged,
    EventDraft,
    EventGone,
    NeedsReauth,
    NotSupported,
    ProviderError,
    PushChannel,
)
from sync.providers.caldav import parse, wire
from sync.providers.caldav.discovery import server_schedules
from sync.providers.caldav.session import LABEL, BasicCredentials, DavSession
from sync.providers.caldav.wire import CALDAV, CALSERVER, DAV

log = logging.getLogger(__name__)

# Resources per calendar-multiget (one feed page). The cursor carries the round's remaining
# names (~43 bytes each: 430 KB for 10,000 events), so fewer, larger pages write less of it.
PAGE_SIZE = 250
# A name Chronik would accept in an id: one path segment as `wire.member_name` writes it.
_NAME = re.compile(r"[A-Za-z0-9@:+,;=!$&'()*~\-._%]{1,1024}")
_ICS = {"Content-Type": "text/calendar; charset=utf-8"}
# Statuses a server answers a REPORT it does not implement with.
_UNSUPPORTED = frozenset({400, 403, 404, 405, 415, 422, 501})
# How often a write re-reads the resource when someone else's change slips in between.
_WRITE_ATTEMPTS = 3


def resource_name_for(idempotency_key: str) -> str:
    """The resource name Chronik gives the event created under `idempotency_key`: the key's
    SHA-256 in hex, `.ics`. The same key always names the same resource."""
    return f"chronik-{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}.ics"


def is_event_id(text: str) -> bool:
    name, occurrence = parse.split_id(text)
    if not _NAME.fullmatch(name) or name in (".", ".."):
        return False
    return occurrence is None or parse.stamp_instant(occurrence) is not None


class CalDavClient:
    """The primary calendar of one CalDAV login.

    `calendar_url` and `owner_email` come from linking (`discovery.check_link`);
    `schedules` is whether the server sends invitations (RFC 6638), also found at linking
    (None: asked of the server at the first write)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        calendar_url: str,
        credentials: BasicCredentials,
        owner_email: str,
        schedules: bool | None = None,
        policy: RetryPolicy | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._calendar = calendar_url if calendar_url.endswith("/") else calendar_url + "/"
        self._session = DavSession(http, credentials, policy=policy)
        self._owner = owner_email.lower()
        self._schedules = schedules
        self._page_size = page_size

    @property
    def calendar_url(self) -> str:
        return self._calendar

    async def calendar_owner(self) -> str:
        return self._owner

    async def sends_invitations(self) -> bool:
        """Whether the server mails (or delivers) invitations for the events Chronik writes:
        only a server with RFC 6638 automatic scheduling does. Where it is False, a scheduling
        mutation should say invitations were not sent."""
        if self._schedules is None:
            self._schedules = await server_schedules(self._session, self._calendar)
        return self._schedules

    # -- the change feed ----------------------------------------------------------------------

    async def fetch_changes(self, cursor: str | None, *, window_start: datetime) -> ChangePage:
        """One page of the calendar's change feed (`window_start` is ignored: CalDAV lists
        the whole collection).

        `cursor` None starts a full round: sync-collection with an empty token lists every
        member (RFC 6578 §3.8), or, where the server has no sync-collection, a Depth 1
        PROPFIND of the members' etags. A cursor at the end of a round starts an incremental
        one: sync-collection with its token, or a ctag check (an unchanged CS:getctag answers
        an empty page at the cost of one request) and an etag comparison. Each page reads up to
        `page_size` changed members with calendar-multiget; members deleted since are removed
        stubs (`removed=True`).

        Raises `CursorExpired` when the server refuses the sync token (the DAV:valid-sync-token
        precondition, RFC 6578 §3.2, answered 403 or 409) or the cursor is not one this client
        wrote; `ProviderError` on other refusals; `NeedsReauth` on 401.
        """
        position = FeedCursor.decode(cursor)
        events: list[ProviderEvent] = []
        if not position.pending and (position.listing_due or cursor is None):
            events += await self._list_changes(position, full=cursor is None)
        names, position.pending = (
            position.pending[: self._page_size],
            position.pending[self._page_size :],
        )
        if names:
            events += await self._read_members(names, position)
        complete = not position.pending and not position.more
        position.listing_due = complete or (not position.pending and position.more)
        return ChangePage(events, position.encode(), complete=complete)

    async def _list_changes(self, position: FeedCursor, *, full: bool) -> list[ProviderEvent]:
        """Which members changed since the position's token (all, for a full round): sets
        `pending` (and the new token or etag listing), returns removed stubs for deletions."""
        if position.mode == "etag":
            return await self._etag_listing(position, full=full)
        if full:
            initial = await self._sync_listing(position, token=None)
            if initial is None:  # no sync-collection here: compare etags from now on
                return await self._etag_listing(position, full=True)
            return initial
        removed = await self._sync_listing(position, token=position.token)
        return removed or []

    async def _sync_listing(
        self, position: FeedCursor, *, token: str | None
    ) -> list[ProviderEvent] | None:
        """RFC 6578 sync-collection from `token` (None: the initial listing). None when the
        server does not implement it (only asked for the initial listing)."""
        response = await self._session.request(
            "REPORT",
            self._calendar,
            body=wire.sync_collection(token),
            headers={**wire.XML_HEADERS, "Depth": "1"},
        )
        if token is not None and response.status in (400, 403, 409, 412):
            conditions = wire.precondition(response.body)
            if wire.q(DAV, "valid-sync-token") in conditions or response.status in (403, 409):
                raise CursorExpired(f"{LABEL} no longer knows the sync token ({response.status})")
        if token is None and response.status in _UNSUPPORTED - {404}:
            return None
        self._raise_for_collection(response, "list the calendar's changes")
        status = self._multistatus(response)
        if status.sync_token is None:
            if token is None:
                return None
            raise ProviderError(f"{LABEL} answered sync-collection without a sync token.")
        removed: list[ProviderEvent] = []
        changed: list[str] = []
        position.more = False
        for resource in status.responses:
            if wire.same_path(resource.href, self._calendar):
                # RFC 6578 §3.6: the collection itself with 507 = the server truncated the
                # answer; ask again with the new token for the rest.
                position.more = resource.status == 507
                continue
            name = wire.member_name(self._calendar, resource.href)
            if name is None:
                continue
            if resource.status == 404:
                removed += position.forget(name)
            else:
                changed.append(name)
        position.mode = "sync"
        position.token = status.sync_token
        position.pending = sorted(set(changed))
        return removed

    async def _etag_listing(self, position: FeedCursor, *, full: bool) -> list[ProviderEvent]:
        """The ctag/etag comparison for servers without sync-collection."""
        position.mode = "etag"
        if not full and position.token is not None:
            ctag = await self._ctag()
            if ctag is not None and ctag == position.token:
                return []
        response = await self._session.request(
            "PROPFIND",
            self._calendar,
            body=wire.propfind("D:getetag", "CS:getctag", "D:resourcetype"),
            headers={**wire.XML_HEADERS, "Depth": "1"},
        )
        self._raise_for_collection(response, "list the calendar's events")
        listing: dict[str, str] = {}
        ctag = None
        for resource in self._multistatus(response).responses:
            if wire.same_path(resource.href, self._calendar):
                if resource.status in (404, 410):  # Xandikos answers 207 for a gone collection
                    self._raise_for_collection(ProviderResponse(resource.status, {}, b""), "")
                ctag = resource.text(CALSERVER, "getctag")
                continue
            name = wire.member_name(self._calendar, resource.href)
            if name is None or resource.resource_types():
                continue
            listing[name] = resource.text(DAV, "getetag") or ""
        previous = {} if full else position.etags
        removed: list[ProviderEvent] = []
        for name in sorted(set(previous) - set(listing)):
            removed += position.forget(name)
        position.pending = sorted(n for n, tag in listing.items() if previous.get(n) != tag)
        position.etags = listing
        position.token = ctag
        position.more = False
        return removed

    async def _ctag(self) -> str | None:
        response = await self._session.request(
            "PROPFIND",
            self._calendar,
            body=wire.propfind("CS:getctag"),
            headers={**wire.XML_HEADERS, "Depth": "0"},
        )
        self._raise_for_collection(response, "read the calendar's ctag")
        for resource in self._multistatus(response).responses:
            return resource.text(CALSERVER, "getctag")
        return None

    async def _read_members(self, names: list[str], position: FeedCursor) -> list[ProviderEvent]:
        """calendar-multiget of `names`: their items, plus stubs for members gone meanwhile
        and OCCURRENCEs for occurrences a resource no longer overrides or excludes."""
        response = await self._session.request(
            "REPORT",
            self._calendar,
            body=wire.calendar_multiget(wire.hrefs_of(self._calendar, names)),
            headers={**wire.XML_HEADERS, "Depth": "1"},
        )
        self._raise_for_collection(response, "read the calendar's events")
        found: dict[str, wire.DavResource] = {}
        for resource in self._multistatus(response).responses:
            name = wire.member_name(self._calendar, resource.href)
            if name is not None:
                found[name] = resource
        events: list[ProviderEvent] = []
        for name in names:
            member = found.get(name)
            data = member.text(CALDAV, "calendar-data") if member is not None else None
            if member is None or member.status == 404 or data is None:
                events += position.forget(name)
                continue
            try:
                items = parse.parse_resource(name, member.text(DAV, "getetag"), data)
            except parse.CalendarDataError as exc:
                log.warning("CalDAV resource %s skipped: %s", name, exc)
                continue
            events += position.remember(name, items)
        return events

    async def gone_series(self, series_ids: Sequence[str]) -> set[str]:
        """Always empty: the feed reports a deleted resource (a whole series) itself."""
        return set()

    async def cancelled_occurrences(self, series_ids: Sequence[str]) -> list[ProviderEvent]:
        """Always empty: the feed reports each EXDATE and cancelled override itself."""
        return []

    # -- push: none in CalDAV -------------------------------------------------------------------

    async def watch(self, *, address: str, channel_id: str, token: str) -> PushChannel:
        """CalDAV has no push notifications: raises `NotSupported` (the engine logs it and
        keeps polling)."""
        raise NotSupported(f"{LABEL} cannot push changes; Chronik polls it.")

    async def renew(
        self, channel: PushChannel, *, address: str, channel_id: str, token: str
    ) -> PushChannel:
        raise NotSupported(f"{LABEL} cannot push changes; Chronik polls it.")

    async def stop(self, channel: PushChannel) -> None:
        """Nothing to stop: no channel is ever registered."""

    # -- scheduling ---------------------------------------------------------------------------

    async def create_event(
        self, draft: EventDraft, *, idempotency_key: str, send_invitations: bool
    ) -> ProviderEvent:
        """PUT a new resource, named after `idempotency_key`, with `If-None-Match: *` (RFC 4791
        §5.3.2): ORGANIZER the calendar owner, an ATTENDEE per guest. A server with RFC 6638
        scheduling invites them unless `send_invitations` is False (then every attendee is
        SCHEDULE-AGENT=CLIENT). A 412 means the resource exists: an earlier call with the same
        key made it, and it is read back and returned as it is now, the draft not applied
        again."""
        name = resource_name_for(idempotency_key)
        uid = f"{name.removesuffix('.ics')}@chronik"
        calendar = parse.new_calendar(
            draft,
            uid=uid,
            owner_email=self._owner,
            schedule=send_invitations,
            now=datetime.now(UTC),
        )
        response = await self._session.request(
            "PUT",
            self._url(name),
            body=parse.serialize(calendar),
            headers={**_ICS, "If-None-Match": "*"},
        )
        if response.status == 412:
            return await self.read_event(name)
        _raise_for_event(response, "create an event")
        # Read back: a server may change the data it was sent, and then sends no ETag
        # (RFC 4791 §5.3.4).
        return await self.read_event(name)

    async def update_event(
        self, provider_event_id: str, draft: EventDraft, *, etag: str | None, send_updates: bool
    ) -> ProviderEvent:
        """GET the resource, make the event show `draft` (guests who stay keep their
        PARTSTAT, SEQUENCE raised) and PUT it back with `If-Match`: `etag` when given, else the
        etag just read. An occurrence of a series is changed through its override (one is
        made from the series for an occurrence that had none, RFC 5545 §3.8.4.4), so the
        feed reports it as an EXCEPTION from then on. A 412 whose resource already shows the
        draft is this update, retried after a lost answer, and is returned; otherwise
        `EventChanged`. `EventGone` when the resource, or the occurrence, is missing or
        cancelled. The etag is the resource's: a change to another week of the same series
        is a change too."""
        name, occurrence = self._split(provider_event_id)
        calendar, current_etag = await self._get(name)
        target = _target(calendar, occurrence)
        if target is None or str(target.get("STATUS", "")).upper() == "CANCELLED":
            raise EventGone(f"{LABEL}: event {provider_event_id} is gone or cancelled", status=410)
        if etag is not None and current_etag is not None and etag != current_etag:
            raise EventChanged(f"{LABEL}: event {provider_event_id} changed since read")
        now = datetime.now(UTC)
        parse.apply_draft(target, draft, owner_email=self._owner, schedule=send_updates, now=now)
        parse.raise_sequence(target)
        if_match = etag or current_etag
        response = await self._session.request(
            "PUT",
            self._url(name),
            body=parse.serialize(calendar),
            headers={**_ICS, **({"If-Match": if_match} if if_match else {})},
        )
        if response.status == 412:
            now_there = await self.read_event(provider_event_id)
            if now_there.status is not EventStatus.CANCELLED and parse.draft_applied(
                draft, now_there
            ):
                return now_there
        _raise_for_event(response, "update the event")
        return await self.read_event(provider_event_id)

    async def cancel_event(self, provider_event_id: str, *, notify: bool) -> None:
        """Cancel for everyone: STATUS:CANCELLED with SEQUENCE raised (RFC 5546 §3.2.5), PUT
        with `If-Match` (re-read and redone if someone else's change slips in between). One
        occurrence of a series is cancelled by an EXDATE on the series (its override, if
        any, dropped). A scheduling server sends the cancellation unless `notify` is False
        (SCHEDULE-AGENT=CLIENT). Already gone is not an error."""
        try:
            name, occurrence = self._split(provider_event_id)
        except EventGone:
            return

        def change(calendar: icalendar.Calendar) -> bool:
            master, _ = parse.vevents(calendar)
            if occurrence is not None:
                return _exclude(calendar, occurrence, schedule=notify)
            if master is None or str(master.get("STATUS", "")).upper() == "CANCELLED":
                return False
            master.pop("STATUS", None)
            master.add("STATUS", "CANCELLED")
            parse.raise_sequence(master)
            parse.set_schedule_agent(master, schedule=notify)
            parse.touch(master, datetime.now(UTC))
            return True

        await self._rewrite(name, change, "cancel the event")

    async def delete_event(self, provider_event_id: str, *, etag: str | None = None) -> None:
        """DELETE the resource, with `If-Match: etag` when one is given (`EventChanged` on a
        mismatch). Gone already counts as done. A server that schedules may tell attendees
        the meeting was cancelled (RFC 6638 §3.2.3 lets organizers' deletions do that); one
        occurrence of a series is removed by an EXDATE, as in `cancel_event`, unannounced."""
        try:
            name, occurrence = self._split(provider_event_id)
        except EventGone:
            return
        if occurrence is not None:
            await self._rewrite(
                name,
                lambda calendar: _exclude(calendar, occurrence, schedule=False),
                "delete an occurrence",
            )
            return
        response = await self._session.request(
            "DELETE", self._url(name), headers={"If-Match": etag} if etag else None
        )
        if response.status in (404, 410):
            return
        _raise_for_event(response, "delete the event")

    async def read_event(self, provider_event_id: str) -> ProviderEvent:
        """The event as the feed reports it: the series or single event of a resource, an
        override or EXDATE of it (EXCEPTION), or an unchanged occurrence of its recurrence
        (OCCURRENCE, built from the series). `EventGone` when there is no such resource or
        occurrence, or the id is not one this client could have issued."""
        name, occurrence = self._split(provider_event_id)
        calendar, etag = await self._get(name)
        items = parse.parse_calendar(name, etag, calendar)
        for item in items:
            if item.provider_event_id == provider_event_id:
                return item
        master = items[0] if items and items[0].kind is EventKind.SERIES else None
        if occurrence is not None and master is not None:
            found = _occurrence(calendar, occurrence)
            if found is not None:
                start, end = found
                return ProviderEvent(
                    provider_event_id=provider_event_id,
                    kind=EventKind.OCCURRENCE,
                    status=master.status,
                    ical_uid=master.ical_uid,
                    title=master.title,
                    description=master.description,
                    location=master.location,
                    starts_at=start,
                    ends_at=end,
                    time_zone=master.time_zone,
                    all_day=master.all_day,
                    organizer_email=master.organizer_email,
                    attendees=master.attendees,
                    private=master.private,
                    series_id=name,
                    original_start=start,
                    created_at=master.created_at,
                    updated_at=master.updated_at,
                    etag=etag,
                )
        raise EventGone(f"{LABEL}: no event {provider_event_id!r}", status=404)

    async def free_busy(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Busy intervals of the calendar between start and end, UTC, sorted and merged.

        A free-busy-query REPORT (RFC 4791 §7.10) where the server answers one; otherwise the
        events overlapping the window (calendar-query with a time-range), expanded here:
        cancelled events, TRANSP:TRANSPARENT ones and those the owner declined leave the
        owner free."""
        response = await self._session.request(
            "REPORT",
            self._calendar,
            body=wire.free_busy_query(start, end),
            headers={**wire.XML_HEADERS, "Depth": "1"},
        )
        if response.status == 200:
            periods = _free_busy_periods(response.body)
            if periods is not None:
                return _merged(periods, start, end)
        elif response.status not in _UNSUPPORTED:
            self._raise_for_collection(response, "query free/busy")
        return _merged(await self._busy_from_events(start, end), start, end)

    async def _busy_from_events(
        self, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        response = await self._session.request(
            "REPORT",
            self._calendar,
            body=wire.calendar_query(start, end),
            headers={**wire.XML_HEADERS, "Depth": "1"},
        )
        self._raise_for_collection(response, "list the calendar's events")
        busy = []
        for resource in self._multistatus(response).responses:
            data = resource.text(CALDAV, "calendar-data")
            if data is None:
                continue
            try:
                calendar = parse.read_calendar(data)
                occurrences = recurring_ical_events.of(calendar).between(start, end)
            except (parse.CalendarDataError, ValueError) as exc:
                log.warning("CalDAV resource %s left out of free/busy: %s", resource.href, exc)
                continue
            for component in occurrences:
                if _leaves_free(component, self._owner):
                    continue
                first = component.get("DTSTART")
                last = component.get("DTEND")
                if first is None:
                    continue
                begins = parse.instant(first.dt)
                ends = parse.instant(last.dt) if last is not None else begins
                if ends > begins:
                    busy.append((begins, ends))
        return busy

    # -- helpers ------------------------------------------------------------------------------

    def _multistatus(self, response: ProviderResponse) -> wire.MultiStatus:
        """A 207 answer's body; `ProviderError` when it is not the XML WebDAV describes."""
        try:
            return wire.parse_multistatus(response.body, self._calendar)
        except wire.WireError as exc:
            raise ProviderError(f"{LABEL} answered unreadable XML: {exc}") from exc

    def _raise_for_collection(self, response: ProviderResponse, what: str) -> None:
        """`_raise_for_status` for a request on the calendar collection; 404/410 there means
        the calendar was deleted (or moved) on the server: only linking again, to choose a
        calendar, helps (`NeedsReauth`)."""
        if response.status in (404, 410):
            raise NeedsReauth(
                f"The calendar {self._calendar} no longer exists on the CalDAV server (HTTP "
                f"{response.status}); link the calendar again to choose one.",
                status=response.status,
            )
        _raise_for_status(response, what)

    def _url(self, name: str) -> str:
        return self._calendar + name

    def _split(self, provider_event_id: str) -> tuple[str, str | None]:
        """(resource name, occurrence stamp); `EventGone` for an id this client could not
        have issued (so no caller's text ever reaches a URL path unchecked)."""
        if not is_event_id(provider_event_id):
            raise EventGone(f"{LABEL}: no event {provider_event_id!r}", status=404)
        return parse.split_id(provider_event_id)

    async def _get(self, name: str) -> tuple[icalendar.Calendar, str | None]:
        response = await self._session.request("GET", self._url(name))
        _raise_for_event(response, "read the event")
        try:
            return parse.read_calendar(response.body), response.headers.get("ETag")
        except parse.CalendarDataError as exc:
            raise ProviderError(f"{LABEL}: event {name} is not readable: {exc}") from exc

    async def _rewrite(
        self, name: str, change: Callable[[icalendar.Calendar], bool], what: str
    ) -> None:
        """GET, `change(calendar)` (False: nothing to do), PUT with If-Match; redone on 412."""
        for _ in range(_WRITE_ATTEMPTS):
            try:
                calendar, etag = await self._get(name)
            except EventGone:
                return
            if not change(calendar):
                return
            response = await self._session.request(
                "PUT",
                self._url(name),
                body=parse.serialize(calendar),
                headers={**_ICS, **({"If-Match": etag} if etag else {})},
            )
            if response.status in (404, 410):
                return
            if response.status == 412:
                continue
            _raise_for_event(response, what)
            return
        raise EventChanged(f"{LABEL}: event {name} kept changing; could not {what}")


def _target(calendar: icalendar.Calendar, occurrence: str | None) -> Any | None:
    """The VEVENT that holds an item: the master, the occurrence's override, or a new
    override copied from the master for an occurrence of its recurrence (added to the
    calendar); None when there is no such item."""
    master, overrides = parse.vevents(calendar)
    if occurrence is None:
        return master
    for override in overrides:
        if parse.stamp(override.decoded("RECURRENCE-ID")) == occurrence:
            return override
    if master is None or _occurrence(calendar, occurrence) is None:
        return None
    override = icalendar.Event()
    for key, value in master.property_items(recursive=False):
        if key not in _SERIES_ONLY:
            override.add(key, value, encode=False)
    override.add("RECURRENCE-ID", _series_value(master, occurrence))
    calendar.add_component(override)
    return override


# What a series has and an override of one occurrence must not repeat.
_SERIES_ONLY = frozenset(
    {"BEGIN", "END", "RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID", "SEQUENCE"}
)


def _series_value(master: Any, occurrence: str) -> Any:
    """The occurrence's start as the series writes its DTSTART (same zone, or a DATE)."""
    moment = parse.stamp_instant(occurrence)
    assert moment is not None
    start = master.decoded("DTSTART")
    if isinstance(start, datetime):
        return moment.astimezone(start.tzinfo) if start.tzinfo is not None else moment
    return moment.date()


def _exclude(calendar: icalendar.Calendar, occurrence: str, *, schedule: bool) -> bool:
    """Add an EXDATE for the occurrence to the series and drop its override; False when the
    resource holds no series or already excludes it."""
    master, overrides = parse.vevents(calendar)
    if master is None or ("RRULE" not in master and "RDATE" not in master):
        return False
    if occurrence in {parse.stamp(d) for d in parse.exdates(master)}:
        return False
    if parse.stamp_instant(occurrence) is None:
        return False
    master.add("EXDATE", _series_value(master, occurrence))
    for override in overrides:
        if parse.stamp(override.decoded("RECURRENCE-ID")) == occurrence:
            calendar.subcomponents.remove(override)
    parse.raise_sequence(master)
    parse.set_schedule_agent(master, schedule=schedule)
    parse.touch(master, datetime.now(UTC))
    return True


def _occurrence(calendar: icalendar.Calendar, occurrence: str) -> tuple[datetime, datetime] | None:
    """(start, end) of the series' occurrence starting at the stamp, if the recurrence has
    one there (and it is neither excluded nor overridden)."""
    moment = parse.stamp_instant(occurrence)
    if moment is None:
        return None
    try:
        found = recurring_ical_events.of(calendar).between(moment, moment + timedelta(seconds=1))
    except ValueError:
        return None
    for component in found:
        if "RECURRENCE-ID" in component and component.get("RECURRENCE-ID") is not None:
            if parse.stamp(component.decoded("RECURRENCE-ID")) != occurrence:
                continue
        first = parse.instant(component.decoded("DTSTART"))
        if parse.stamp(first) != occurrence and first.strftime("%Y%m%d") != occurrence:
            continue
        end = component.get("DTEND")
        return first, parse.instant(end.dt) if end is not None else first
    return None


def _leaves_free(component: Any, owner: str) -> bool:
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return True
    if str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return True
    for attendee in parse.listed(component.get("ATTENDEE")):
        if parse.calendar_address(attendee) == owner:
            return str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED"
    return False


def _free_busy_periods(body: bytes) -> list[tuple[datetime, datetime]] | None:
    """The busy periods of a VFREEBUSY answer (FBTYPE other than FREE); None if unreadable."""
    try:
        calendar = parse.read_calendar(body)
    except parse.CalendarDataError:
        return None
    periods = []
    for component in calendar.walk("VFREEBUSY"):
        for prop in parse.listed(component.get("FREEBUSY")):
            if str(prop.params.get("FBTYPE", "BUSY")).upper() == "FREE":
                continue
            for period in _periods(prop):
                periods.append(period)
    return periods


def _periods(prop: Any) -> list[tuple[datetime, datetime]]:
    values = prop.dts if hasattr(prop, "dts") else [prop]
    result = []
    for value in values:
        period = getattr(value, "dt", value)
        if isinstance(period, tuple) and len(period) == 2:
            begins, second = period
            ends = begins + second if isinstance(second, timedelta) else second
            result.append((parse.instant(begins), parse.instant(ends)))
    return result


def _merged(
    periods: list[tuple[datetime, datetime]], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Sorted, clipped to [start, end), overlapping and touching periods joined."""
    low, high = start.astimezone(UTC), end.astimezone(UTC)
    merged: list[tuple[datetime, datetime]] = []
    for begins, ends in sorted(periods):
        begins, ends = max(begins, low), min(ends, high)
        if ends <= begins:
            continue
        if merged and begins <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ends))
        else:
            merged.append((begins, ends))
    return merged


def _raise_for_status(response: ProviderResponse, what: str) -> None:
    if response.status < 300 or response.status == 207:
        return
    detail = response.body[:200].decode(errors="replace").strip()
    raise ProviderError(
        f"{LABEL} refused to {what}: HTTP {response.status} {detail}".strip(),
        status=response.status,
    )


def _raise_for_event(response: ProviderResponse, what: str) -> None:
    """404/410 → `EventGone`, 412 → `EventChanged`, other errors → `ProviderError`."""
    if response.status < 300:
        return
    text = f"{LABEL} refused to {what}: HTTP {response.status}"
    if response.status in (404, 410):
        raise EventGone(text, status=response.status)
    if response.status == 412:
        raise EventChanged(text, status=response.status)
    _raise_for_status(response, what)


@dataclass
class FeedCursor:
    """Where the feed resumes, encoded as compact JSON.

    `mode` "sync" (RFC 6578: `token` is the sync token the next listing starts from) or
    "etag" (`token` the collection's ctag, `etags` every member's etag after the round);
    `pending` the members of this round still to read; `more` the server truncated its
    sync-collection answer (ask again with `token` once `pending` is read); `listing_due`
    the next call starts with a listing; `occurrences` each resource's occurrence stamps
    (overrides, EXDATEs) as last reported."""

    mode: str = "sync"
    token: str | None = None
    pending: list[str] = field(default_factory=list)
    more: bool = False
    listing_due: bool = False
    etags: dict[str, str] = field(default_factory=dict)
    occurrences: dict[str, list[str]] = field(default_factory=dict)

    def encode(self) -> str:
        fields: dict[str, object] = {"m": self.mode}
        if self.token is not None:
            fields["t"] = self.token
        if self.pending:
            fields["p"] = self.pending
        if self.more:
            fields["x"] = True
        if self.listing_due:
            fields["l"] = True
        if self.etags:
            fields["e"] = self.etags
        if self.occurrences:
            fields["o"] = self.occurrences
        return orjson.dumps(fields).decode()

    @classmethod
    def decode(cls, cursor: str | None) -> FeedCursor:
        """None → a full round. `CursorExpired` when the string is not one `encode` wrote."""
        if cursor is None:
            return cls()
        try:
            fields = orjson.loads(cursor)
            position = cls(
                mode=fields["m"],
                token=fields.get("t"),
                pending=list(fields.get("p", [])),
                more=bool(fields.get("x", False)),
                listing_due=bool(fields.get("l", False)),
                etags=dict(fields.get("e", {})),
                occurrences={k: list(v) for k, v in fields.get("o", {}).items()},
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise CursorExpired(f"{LABEL}: unreadable cursor") from exc
        names = [*position.pending, *position.etags, *position.occurrences]
        if (
            position.mode not in ("sync", "etag")
            or not all(isinstance(n, str) and is_event_id(n) for n in names)
            or (position.token is not None and not isinstance(position.token, str))
            or (position.mode == "sync" and position.token is None)
        ):
            raise CursorExpired(f"{LABEL}: unreadable cursor")
        return position

    def remember(self, name: str, items: list[ProviderEvent]) -> list[ProviderEvent]:
        """`items` of a resource just read, plus an OCCURRENCE for each occurrence it reported
        last time and no longer overrides or excludes (restored: the series stands for it)."""
        now = parse.sub_stamps(items)
        series = items[0] if items and items[0].kind is EventKind.SERIES else None
        restored = [s for s in self.occurrences.get(name, []) if s not in now]
        if now:
            self.occurrences[name] = now
        else:
            self.occurrences.pop(name, None)
        extra = []
        for occurrence in restored:
            original = parse.stamp_instant(occurrence)
            extra.append(
                ProviderEvent(
                    provider_event_id=f"{name}{parse.OCCURRENCE_MARK}{occurrence}",
                    kind=EventKind.OCCURRENCE if series is not None else EventKind.SINGLE,
                    removed=series is None,
                    series_id=name if series is not None else None,
                    original_start=original,
                    starts_at=original if series is not None else None,
                    etag=series.etag if series is not None else None,
                )
            )
        return [*items, *extra]

    def forget(self, name: str) -> list[ProviderEvent]:
        """Removed stubs for a deleted resource: its own id and every occurrence id."""
        stamps = self.occurrences.pop(name, [])
        self.etags.pop(name, None)
        return [ProviderEvent(provider_event_id=name, removed=True)] + [
            ProviderEvent(provider_event_id=f"{name}{parse.OCCURRENCE_MARK}{s}", removed=True)
            for s in stamps
        ]
