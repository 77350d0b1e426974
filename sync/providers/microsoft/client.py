"""Microsoft Graph v1.0 over HTTP: requests and error handling only, no database.

The change feed is calendarView delta on the user's default calendar (`/me/calendarView/delta`)
over a window of `WINDOW_YEARS` from the engine's `window_start`, shortened when Graph cannot
serve it (see `fetch_changes`). A cursor is the URL Graph gave last: the round's
`@odata.nextLink` while it lasts, then its `@odata.deltaLink`, with a fragment naming the
window's end (Graph never sees it; see `_Position`). Delta lists
series instances but never their masters, so the client reads the master of each series with an
instance on a page (cached for the life of the client, which the engine makes per run; read
again when an instance shows the series changed): the master is the series' SERIES item. Push
is a Graph subscription on `me/events`.

Scheduling writes `/me/events` with bodies from `draft_to_event`. Graph has no switch for meeting
mail: creating an event with attendees invites them, an organizer's PATCH sends updates, a
DELETE sends cancellations ("can't be configured", Graph's create-event reference). The client
therefore refuses the two requests for silence it cannot honour (see `create_event`,
`update_event`) instead of mailing people anyway. Creates are deduplicated by `transactionId`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast
from urllib.parse import parse_qs, quote, urlencode

import aiohttp

from sync.http import ProviderResponse, ProviderSession, RetryPolicy
from sync.model import ChangePage, CursorExpired, ProviderEvent
from sync.provider import (
    EventChanged,
    EventDraft,
    EventGone,
    NotSupported,
    ProviderError,
    ProviderUnavailable,
    PushChannel,
)
from sync.providers.microsoft.parse import (
    cancelled_weeks,
    current_answers,
    draft_to_event,
    parse_busy,
    parse_event,
    parse_page,
    parse_timestamp,
)
from sync.providers.microsoft.wire import (
    DeltaPage,
    Event,
    GetScheduleRequest,
    RemovedEvent,
    ResponseStatus,
    ScheduleInformation,
    Subscription,
)
from sync.tokens import TokenSource

log = logging.getLogger(__name__)

LABEL = "Microsoft 365"
# Graph's largest delta page: fewer round trips per sync.
DELTA_PAGE_SIZE = 1000
WINDOW_YEARS = 3
# calendarView delta over a long window with endless series can answer 503/504 for good
# (microsoft-graph-docs #3657, #6499). A full round whose request keeps failing so starts again
# over half the window, and again, but the window always reaches this far past now (or past
# its start, when that lies ahead).
MIN_LOOKAHEAD = timedelta(days=90)
_WINDOW_STATUSES = frozenset(
    {503, 504}
)  # The longest lifetime Graph has granted event subscriptions (4230 minutes, just under 3 days),
# less a margin for clock skew between Chronik and Graph, which refuses anything longer.
SUBSCRIPTION_LIFETIME = timedelta(minutes=4230) - timedelta(minutes=5)
# Outlook serves at most 4 concurrent requests of one app per mailbox, and answers more with
# 429 MailboxConcurrency: https://learn.microsoft.com/en-us/graph/throttling-limits
# #outlook-service-limits. Every request of a client (one per sync run or scheduling call)
# takes one of these slots, the read-ahead delta page included.
MAILBOX_CONCURRENCY = 4
# How many series masters are read at once when a page brings several new series.
MASTER_READS_AT_ONCE = MAILBOX_CONCURRENCY
# What `parse_event` reads of a master (the SERIES item), and the stamp the cache compares.
_MASTER_FIELDS = (
    "subject,body,bodyPreview,location,start,end,isAllDay,originalStartTimeZone,organizer,"
    "attendees,sensitivity,isCancelled,iCalUId,createdDateTime,lastModifiedDateTime,type,"
    "recurrence,cancelledOccurrences"
)
_PREFER_UTC = 'outlook.timezone="UTC"'
# Resolution of getSchedule's availabilityView string. Chronik reads the exact scheduleItems
# instead, so this only decides how long that unused string is.
SCHEDULE_INTERVAL_MINUTES = 15
# ProviderError.reason when a caller asks for silence Graph cannot give.
NOTIFICATIONS_UNAVOIDABLE = "notificationsUnavoidable"


def error_code(response: ProviderResponse) -> tuple[str | None, str]:
    """(code, message) from Graph's error body, tolerant of other bodies."""
    try:
        error = response.json()["error"]
        return str(error.get("code")), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, response.body[:200].decode(errors="replace")


def raise_for_status(response: ProviderResponse, what: str) -> None:
    """Return on 1xx/2xx; otherwise raise `ProviderError` with Graph's status and error code."""
    if response.status < 300:
        return
    code, message = error_code(response)
    raise ProviderError(
        f"{LABEL} refused to {what}: HTTP {response.status} {message}".strip(),
        status=response.status,
        reason=code,
    )


@dataclass(frozen=True, slots=True)
class _KnownSeries:
    """What the client remembers of a series master."""

    master: Event | None  # None: the master is gone (404), the whole series deleted
    # The newest lastModifiedDateTime this entry is known to be current for.
    modified: str | None


class GraphCalendarClient:
    """The `CalendarClient` of one Microsoft 365 user: their default calendar only."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        api_url: str,
        tokens: TokenSource,
        policy: RetryPolicy | None = None,
        *,
        page_size: int = DELTA_PAGE_SIZE,
    ) -> None:
        self._base = f"{api_url.rstrip('/')}/v1.0"
        self._session = ProviderSession(
            http,
            tokens,
            label=LABEL,
            metric_name="microsoft",
            policy=policy,
            max_in_flight=MAILBOX_CONCURRENCY,
        )
        self._delta_headers = {"Prefer": f"odata.maxpagesize={page_size}, {_PREFER_UTC}"}
        self._series: dict[str, _KnownSeries] = {}
        self._window_start: datetime | None = None
        # The end of the current round's window (None: `WINDOW_YEARS` from its start), and the
        # end a full round of this client found Graph could serve (None: the whole window).
        self._window_end: datetime | None = None
        self._served_end: datetime | None = None
        self._owner: str | None = None

    async def calendar_owner(self) -> str:
        """GET /me: the user's `mail` (or `userPrincipalName`: personal Microsoft accounts have
        no `mail`), lower-cased. https://learn.microsoft.com/en-us/graph/api/user-get"""
        response = await self._session.request(
            "GET", f"{self._base}/me", params={"$select": "mail,userPrincipalName"}
        )
        raise_for_status(response, "read the signed-in user")
        me = response.json()
        return str(me.get("mail") or me["userPrincipalName"]).lower()

    # -- change feed ----------------------------------------------------------------------------

    async def fetch_changes(self, cursor: str | None, *, window_start: datetime) -> ChangePage:
        """GET one calendarView delta page of the default calendar and parse its items.

        `cursor` None starts a full round over [`window_start`, `window_start` + 3 years)
        (`window_start` must be timezone-aware); otherwise `cursor` is a cursor of an earlier
        page (its nextLink or deltaLink) and `window_start` is ignored (the link carries the
        window). Every request asks for `DELTA_PAGE_SIZE` items and UTC times. Series masters
        of the page's occurrences not read before are read first (see `parse_event` for
        what becomes SERIES). Returns the page with the nextLink (`complete=False`) or the
        deltaLink (`complete=True`) as its cursor.

        A window Graph cannot serve (microsoft-graph-docs #3657, #6499: 503/504 on long
        windows over endless series) is shortened. When a full round's first request still
        answers 503 or 504 after every retry, it is asked again over half the look-ahead,
        down to `MIN_LOOKAHEAD` past now; when a later page of a full round does, the round
        is given up (`CursorExpired`) and the next full round of this client starts over half
        of its window. The window's end travels in the cursor, so the round's deltaLink and
        `gone_series` keep to it. Meetings beyond a shortened window are not read: a full
        round over it removes those Chronik held (see docs/providers.md).

        Raises `CursorExpired` when the sync state is gone: 410, or a 400/404 whose code is a
        sync-state one (syncStateNotFound, resyncRequired: Graph documents "a 40X-series error"
        for an expired token, https://learn.microsoft.com/en-us/graph/delta-query-overview),
        for a stored cursor outside this client's Graph base URL (another host, e.g. after
        the Graph URL setting changed: the token is never sent there, a full round starts
        instead), and for a full round's page that keeps answering 503/504 (above).
        `ProviderError` for other error answers, `ProviderUnavailable` when retries ran out.
        https://learn.microsoft.com/en-us/graph/api/event-delta
        """
        self._window_start = window_start  # the window `gone_series` looks in
        if cursor is None:
            position, response = await self._first_page(window_start)
        else:
            position = _Position.decode(self._checked(cursor))
            self._window_end = position.window_end
            try:
                response = await self._session.request(
                    "GET", position.url, headers=self._delta_headers
                )
            except ProviderUnavailable as exc:
                if position.full_round and exc.status in _WINDOW_STATUSES:
                    self._give_up_window(window_start, position.window_end, exc)
                raise
        if _sync_state_lost(response):
            code, message = error_code(response)
            raise CursorExpired(f"{LABEL}: {code or 'HTTP 410'} {message}".strip())
        raise_for_status(response, "read the calendar's changes")
        page: DeltaPage = response.json()
        items = page.get("value", [])
        events = parse_page(items, await self._masters(items))
        next_link = page.get("@odata.nextLink")
        if next_link:
            following = _Position(next_link, position.window_end, position.full_round)
            return ChangePage(events, following.encode(), complete=False)
        delta_link = page.get("@odata.deltaLink")
        if not delta_link:
            raise ProviderError(f"{LABEL} ended a delta page without a next or delta link.")
        return ChangePage(
            events,
            _Position(delta_link, position.window_end, False).encode(),
            complete=True,
            listed_until=position.window_end,
        )

    async def _first_page(self, window_start: datetime) -> tuple[_Position, ProviderResponse]:
        """A full round's first page, over a window Graph can serve (see `fetch_changes`)."""
        end = self._served_end
        while True:
            params = self._window_params(window_start, end)
            try:
                response = await self._session.request(
                    "GET",
                    f"{self._base}/me/calendarView/delta",
                    params=params,
                    headers=self._delta_headers,
                )
            except ProviderUnavailable as exc:
                shorter = _shorter_window(window_start, end)
                if exc.status not in _WINDOW_STATUSES or shorter is None:
                    raise
                log.warning(
                    "%s answered %s for calendarView delta up to %s; asking up to %s",
                    LABEL,
                    exc.status,
                    params["endDateTime"],
                    _iso(shorter),
                )
                end = self._served_end = shorter
                continue
            self._window_end = end
            position = _Position(f"{self._base}/me/calendarView/delta", end, True)
            return position, response

    def _give_up_window(
        self, window_start: datetime, window_end: datetime | None, exc: ProviderUnavailable
    ) -> None:
        """A later page of a full round keeps failing: the next full round asks for half the
        window (`CursorExpired`), unless it is as short as it may be (the caller re-raises)."""
        shorter = _shorter_window(window_start, window_end)
        if shorter is None:
            return
        self._served_end = shorter
        raise CursorExpired(
            f"{LABEL} answered {exc.status} reading the calendar's changes; a full round "
            f"starts again over a window up to {_iso(shorter)}"
        ) from exc

    @staticmethod
    def _window_params(window_start: datetime, window_end: datetime | None) -> dict[str, str]:
        if window_start.tzinfo is None:
            raise ValueError("window_start must be timezone-aware")
        start = window_start.astimezone(UTC)
        return {
            "startDateTime": _iso(start),
            "endDateTime": _iso(window_end or _years_later(start, WINDOW_YEARS)),
        }

    def _checked(self, cursor: str) -> str:
        # A cursor comes back from storage: anything not under our Graph base would receive
        # the user's bearer token. It names a sync state of another service (the Graph URL
        # changed since it was stored), so the round starts again here.
        if not cursor.startswith(self._base + "/"):
            raise CursorExpired(f"{LABEL}: the stored sync cursor points outside {self._base}")
        return cursor

    # -- series masters -------------------------------------------------------------------------

    async def _masters(self, items: Sequence[Event | RemovedEvent]) -> dict[str, Event | None]:
        """{series master id: its master, None when gone} for every series with an instance
        on the page, reading the masters not known (or changed since) at once."""
        stale: dict[str, str | None] = {}  # master id -> the instance stamp that needs it
        wanted: set[str] = set()
        for raw in items:
            if raw.get("type") not in ("occurrence", "exception"):  # removed stubs have none
                continue
            item = cast(Event, raw)
            master_id = item.get("seriesMasterId")
            if not master_id:
                continue
            wanted.add(master_id)
            # An occurrence carries its master's stamp; an exception has its own, newer than
            # the master's for no change of the series, so it only asks for an unknown master.
            stamp = item.get("lastModifiedDateTime") if item.get("type") == "occurrence" else None
            if master_id not in self._series or _outdated(self._series[master_id], stamp):
                stale[master_id] = _later(stale.get(master_id), stamp)
        if stale:
            await self._read_masters(stale)
        return {master_id: self._series[master_id].master for master_id in wanted}

    async def gone_series(self, series_ids: Sequence[str]) -> set[str]:
        """Of `series_ids`, the series a full listing would no longer show: the master answers
        404 (deleted), or it has no instance left in the sync window (every occurrence there
        cancelled). Delta reports either only as `@removed` stubs of instances, which do not
        name their series (and one stub may be a single cancelled occurrence), so the caller
        asks about the series it holds. The window is the one `fetch_changes` was last given;
        masters read this run are not read again."""
        unknown: dict[str, str | None] = {
            series_id: None for series_id in series_ids if series_id not in self._series
        }
        if unknown:
            await self._read_masters(unknown)
        gone = {series_id for series_id in series_ids if self._series[series_id].master is None}
        if self._window_start is None:
            return gone
        window = self._window_params(self._window_start, self._window_end)
        limit = asyncio.Semaphore(MASTER_READS_AT_ONCE)

        async def empty(series_id: str) -> bool:
            async with limit:
                response = await self._session.request(
                    "GET",
                    f"{self._event_url(series_id)}/instances",
                    params={**window, "$top": "1", "$select": "id"},
                )
            if response.status == 404:
                return True
            raise_for_status(response, "read a recurring series' instances")
            return not response.json().get("value")

        alive = [series_id for series_id in series_ids if series_id not in gone]
        answers = await asyncio.gather(*(empty(series_id) for series_id in alive))
        return gone | {series_id for series_id, none in zip(alive, answers, strict=True) if none}

    async def cancelled_occurrences(self, series_ids: Sequence[str]) -> list[ProviderEvent]:
        """The cancelled weeks (`parse.cancelled_weeks`) of `series_ids`, their masters read
        afresh: deleting one occurrence leaves the master's stamp as it was, so the cache
        cannot tell."""
        await self._read_masters({series_id: None for series_id in series_ids})
        return [
            week
            for series_id in series_ids
            for week in cancelled_weeks(series_id, self._series[series_id].master)
        ]

    async def _read_masters(self, stale: dict[str, str | None]) -> None:
        limit = asyncio.Semaphore(MASTER_READS_AT_ONCE)

        async def read(master_id: str, stamp: str | None) -> None:
            async with limit:
                known = await self._read_master(master_id)
            # Remember the newer of the two stamps, so an occurrence stamped later than its
            # master (clock skew) does not cause a read on every page.
            self._series[master_id] = _KnownSeries(known.master, _later(known.modified, stamp))

        await asyncio.gather(*(read(master_id, stamp) for master_id, stamp in stale.items()))

    async def _read_master(self, master_id: str) -> _KnownSeries:
        response = await self._session.request(
            "GET",
            f"{self._base}/me/events/{quote(master_id, safe='')}",
            params={"$select": _MASTER_FIELDS},
            headers={"Prefer": _PREFER_UTC},
        )
        if response.status == 404:  # the series was deleted since the page was made
            return _KnownSeries(None, None)
        raise_for_status(response, "read a recurring series")
        master: Event = response.json()
        return _KnownSeries(master, master.get("lastModifiedDateTime"))

    # -- push -----------------------------------------------------------------------------------

    async def watch(self, *, address: str, channel_id: str, token: str) -> PushChannel:
        """POST /subscriptions for created/updated/deleted on `me/events`, notifying `address`
        (change and lifecycle notifications alike) with `token` as clientState, expiring
        `SUBSCRIPTION_LIFETIME` from now. Graph first POSTs `address?validationToken=...`
        (once per URL), which must echo the token as text/plain within 10 s. Graph picks the
        subscription id: `channel_id` is unused. Returns the channel (`channel_id` =
        subscription id, `resource_id` None, Graph's expiry). `ProviderError` when Graph
        refuses (e.g. 400 ValidationError: the handshake failed).
        https://learn.microsoft.com/en-us/graph/api/subscription-post-subscriptions

        A POST is not idempotent: an answer lost on the way leaves a subscription Chronik does
        not know of, and the retry makes another. So when every attempt went unanswered, the
        subscription carrying this `token` is looked up and adopted; and once one is known,
        every other subscription of this app to `address` on the user's events (an orphan of
        an earlier lost answer) is deleted."""
        request: Subscription = {
            "changeType": "created,updated,deleted",
            "notificationUrl": address,
            "lifecycleNotificationUrl": address,
            "resource": "me/events",
            "expirationDateTime": _iso(datetime.now(UTC) + SUBSCRIPTION_LIFETIME),
            "clientState": token,
        }
        try:
            response = await self._session.request(
                "POST", f"{self._base}/subscriptions", json=request
            )
        except ProviderUnavailable:
            adopted = [s for s in await self._subscriptions() if s.get("clientState") == token]
            if not adopted:
                raise
            channel = _channel(adopted[0])
        else:
            raise_for_status(response, "subscribe to calendar changes")
            channel = _channel(response.json())
        await self._remove_orphans(address, keep=channel.channel_id)
        return channel

    async def _subscriptions(self) -> list[Subscription]:
        """GET /subscriptions: this app's live subscriptions for the user, every page.
        https://learn.microsoft.com/en-us/graph/api/subscription-list"""
        found: list[Subscription] = []
        url: str | None = f"{self._base}/subscriptions"
        while url:
            if not url.startswith(self._base + "/"):  # the token goes to our Graph only
                raise ProviderError(f"{LABEL}: refusing a link outside {self._base}")
            response = await self._session.request("GET", url)
            raise_for_status(response, "list calendar subscriptions")
            page = response.json()
            found.extend(page.get("value", []))
            url = page.get("@odata.nextLink")
        return found

    async def _remove_orphans(self, address: str, *, keep: str) -> None:
        """Delete this app's other subscriptions to `address` on the user's events (best
        effort: one left over only costs duplicate notifications until it expires)."""
        try:
            orphans = [
                s
                for s in await self._subscriptions()
                if s.get("id") != keep
                and s.get("notificationUrl") == address
                and str(s.get("resource", "")).strip("/").lower() == "me/events"
            ]
            for orphan in orphans:
                await self.stop(_channel(orphan))
        except ProviderError:
            return

    async def renew(
        self, channel: PushChannel, *, address: str, channel_id: str, token: str
    ) -> PushChannel:
        """PATCH /subscriptions/{id} with an expiry `SUBSCRIPTION_LIFETIME` from now; returns
        the same subscription with Graph's new expiry. `address`, `channel_id` and `token` are
        unused (a Graph subscription keeps them). `ProviderError` when Graph refuses, e.g. 404
        once the subscription expired or was removed: the caller watches again (an expired
        subscription cannot be revived).
        https://learn.microsoft.com/en-us/graph/api/subscription-update"""
        response = await self._session.request(
            "PATCH",
            self._subscription_url(channel),
            json={"expirationDateTime": _iso(datetime.now(UTC) + SUBSCRIPTION_LIFETIME)},
        )
        raise_for_status(response, "renew a calendar subscription")
        return _channel(response.json())

    async def stop(self, channel: PushChannel) -> None:
        """DELETE /subscriptions/{id}. 404 (expired, deleted, unknown) counts as done;
        `ProviderError` on any other refusal.
        https://learn.microsoft.com/en-us/graph/api/subscription-delete"""
        response = await self._session.request("DELETE", self._subscription_url(channel))
        if response.status == 404:
            return
        raise_for_status(response, "end a calendar subscription")

    def _subscription_url(self, channel: PushChannel) -> str:
        return f"{self._base}/subscriptions/{quote(channel.channel_id, safe='')}"

    # -- scheduling -----------------------------------------------------------------------------

    async def create_event(
        self, draft: EventDraft, *, idempotency_key: str, send_invitations: bool
    ) -> ProviderEvent:
        """POST /me/events with `draft_to_event(draft)` and `transactionId` = `idempotency_key`;
        returns the created event as Graph answers it (times in UTC, `time_zone` the draft's).

        Graph answers a repeated transactionId with the event the first POST created, so
        retries (ours in `ProviderSession`, or the caller's with the same key) never make a
        twin. Graph invites every attendee when the event is created and offers no way not to,
        so `send_invitations=False` with attendees raises `ProviderError` (reason
        `NOTIFICATIONS_UNAVOIDABLE`) before any request; without attendees there is nobody to
        invite and the flag does not matter. `ProviderError` when Graph refuses,
        `ProviderUnavailable` when retries ran out.
        https://learn.microsoft.com/en-us/graph/api/user-post-events"""
        if not send_invitations and draft.attendees:
            raise _unavoidable("create a meeting without inviting its attendees")
        body = draft_to_event(draft)
        body["transactionId"] = idempotency_key
        response = await self._session.request(
            "POST", f"{self._base}/me/events", json=body, headers={"Prefer": _PREFER_UTC}
        )
        raise_for_status(response, "create the event")
        return parse_event(response.json())

    async def update_event(
        self, provider_event_id: str, draft: EventDraft, *, etag: str | None, send_updates: bool
    ) -> ProviderEvent:
        """GET /me/events/{id} for the attendees' responses, then PATCH /me/events/{id} with
        `draft_to_event(draft)` (every managed field, attendees as the full list, each one that
        stays keeping the response it gave) and `If-Match: etag` when given; returns the
        updated event. (Graph's attendee list is replaced whole by a PATCH; sent without their
        `status`, attendees who had accepted would read as not having answered.)

        Graph mails the organizer's changes itself: invitations to added attendees,
        cancellations to removed ones, updates to the rest. `send_updates=False` with attendees
        in the draft therefore raises `ProviderError` (reason `NOTIFICATIONS_UNAVOIDABLE`)
        before any request. (With no attendees left, attendees the event had still get
        Graph's cancellation.) `EventChanged` on 412, or 409 ErrorIrresolvableConflict (the
        etag is stale); `EventGone` on 404/410; `ProviderError` on other refusals.
        https://learn.microsoft.com/en-us/graph/api/event-update"""
        if not send_updates and draft.attendees:
            raise _unavoidable("change a meeting without notifying its attendees")
        body = draft_to_event(draft, await self._answers(provider_event_id))
        headers = {"Prefer": _PREFER_UTC}
        if etag:
            headers["If-Match"] = etag
        response = await self._session.request(
            "PATCH", self._event_url(provider_event_id), json=body, headers=headers
        )
        _raise_for_event(response, "update the event")
        return parse_event(response.json())

    async def _answers(self, provider_event_id: str) -> dict[str, ResponseStatus]:
        response = await self._session.request(
            "GET", self._event_url(provider_event_id), params={"$select": "attendees"}
        )
        _raise_for_event(response, "read the event")
        return current_answers(response.json())

    async def cancel_event(self, provider_event_id: str, *, notify: bool) -> None:
        """`notify`: POST /me/events/{id}/cancel (no comment), Graph's organizer-only action that
        mails each attendee a cancellation and removes the event. Otherwise DELETE
        /me/events/{id}: note that Graph documents a DELETE of the organizer's meeting as
        sending cancellations too, so only an event without attendees goes quietly. 404/410
        count as done; `ProviderError` on other refusals (e.g. 400 ErrorAccessDenied when the
        user does not organise the meeting and `notify` is set).
        https://learn.microsoft.com/en-us/graph/api/event-cancel"""
        if not notify:
            await self.delete_event(provider_event_id)
            return
        response = await self._session.request(
            "POST", f"{self._event_url(provider_event_id)}/cancel", json={}
        )
        if response.status in (404, 410):
            return
        raise_for_status(response, "cancel the meeting")

    async def delete_event(self, provider_event_id: str) -> None:
        """DELETE /me/events/{id}; 404/410 count as done, `ProviderError` on other refusals.
        Graph cannot delete quietly: for a meeting the user organises it mails each attendee a
        cancellation (documented on Graph's event-delete reference; the sandbox does the
        same). https://learn.microsoft.com/en-us/graph/api/event-delete"""
        response = await self._session.request("DELETE", self._event_url(provider_event_id))
        if response.status in (404, 410):
            return
        raise_for_status(response, "delete the event")

    async def read_event(self, provider_event_id: str) -> ProviderEvent:
        """GET /me/calendar/events/{id}: the event, if it is in the default calendar (the one
        the change feed reads), with times in UTC. Graph's `type` tells an unchanged
        `occurrence` from an `exception`; a `seriesMaster` is the series' SERIES item.
        https://learn.microsoft.com/en-us/graph/api/event-get

        `EventGone` on 404/410 and on 400 ErrorInvalidIdMalformed (no event has that id);
        `ProviderError` on other refusals, `ProviderUnavailable` when retries ran out."""
        response = await self._session.request(
            "GET",
            f"{self._base}/me/calendar/events/{quote(provider_event_id, safe='')}",
            headers={"Prefer": _PREFER_UTC},
        )
        if response.status == 400 and error_code(response)[0] == "ErrorInvalidIdMalformed":
            raise EventGone(f"{LABEL}: no event {provider_event_id!r}", status=404)
        _raise_for_event(response, "read the event")
        return parse_event(response.json())

    async def free_busy(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """POST /me/calendar/getSchedule for the calendar owner's address (read once with
        `calendar_owner`, then kept) over [start, end) in UTC (`start` and `end` must be
        timezone-aware). Returns its busy, tentative and out-of-office items as UTC intervals
        clipped to the window, sorted, overlapping ones merged (`parse_busy`); cancelled
        events are not in getSchedule's answer. `NotSupported` when Graph refuses getSchedule
        to this account (personal Microsoft accounts cannot call it: "Not supported" in the
        permissions of https://learn.microsoft.com/en-us/graph/api/calendar-getschedule);
        `ProviderError` when Graph refuses the request otherwise or reports an error for the
        schedule (e.g. ErrorMailRecipientNotFound)."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        request: GetScheduleRequest = {
            "schedules": [await self._owner_address()],
            "startTime": {"dateTime": _wall_utc(start), "timeZone": "UTC"},
            "endTime": {"dateTime": _wall_utc(end), "timeZone": "UTC"},
            "availabilityViewInterval": SCHEDULE_INTERVAL_MINUTES,
        }
        response = await self._session.request(
            "POST", f"{self._base}/me/calendar/getSchedule", json=request
        )
        if response.status in (400, 403, 501) and error_code(response)[0] in _NO_SCHEDULE:
            code, message = error_code(response)
            raise NotSupported(
                f"{LABEL} does not give free/busy for this calendar ({code}: {message}). "
                "Personal Microsoft accounts (outlook.com, hotmail.com, live.com) cannot use "
                "free/busy; a work or school account can.",
                status=response.status,
                reason=code,
            )
        raise_for_status(response, "read free/busy")
        schedules: list[ScheduleInformation] = response.json().get("value", [])
        items = []
        for schedule in schedules:
            error = schedule.get("error")
            if error:
                raise ProviderError(
                    f"{LABEL} could not read free/busy: {error.get('message', '')}".strip(),
                    reason=error.get("responseCode"),
                )
            items.extend(schedule.get("scheduleItems", []))
        return parse_busy(items, start.astimezone(UTC), end.astimezone(UTC))

    async def _owner_address(self) -> str:
        if self._owner is None:
            self._owner = await self.calendar_owner()
        return self._owner

    def _event_url(self, provider_event_id: str) -> str:
        return f"{self._base}/me/events/{quote(provider_event_id, safe='')}"


# Codes with which Graph refuses getSchedule to an account that cannot use it.
_NO_SCHEDULE = frozenset(
    {"ErrorAccessDenied", "NotSupported", "ErrorNotSupported", "ErrorInvalidUser"}
)
# Codes of "the delta token is no good, synchronize again" (compared lower-cased).
_SYNC_STATE_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})


def _sync_state_lost(response: ProviderResponse) -> bool:
    if response.status == 410:
        return True
    if response.status not in (400, 404):
        return False
    code = error_code(response)[0]
    return code is not None and code.lower() in _SYNC_STATE_CODES


def _raise_for_event(response: ProviderResponse, what: str) -> None:
    """`raise_for_status`, with the answers about one event mapped: 404/410 → `EventGone`;
    412, and 409 ErrorIrresolvableConflict (Graph's code for a stale change key) →
    `EventChanged`."""
    if response.status < 300:
        return
    code, message = error_code(response)
    text = f"{LABEL} refused to {what}: HTTP {response.status} {message}".strip()
    if response.status in (404, 410):
        raise EventGone(text, status=response.status, reason=code)
    if response.status == 412 or (response.status == 409 and code == "ErrorIrresolvableConflict"):
        raise EventChanged(text, status=response.status, reason=code)
    raise_for_status(response, what)


def _unavoidable(what: str) -> NotSupported:
    return NotSupported(
        f"{LABEL} cannot {what}: Graph always mails meeting changes to attendees.",
        reason=NOTIFICATIONS_UNAVOIDABLE,
    )


def _channel(subscription: Subscription) -> PushChannel:
    return PushChannel(
        channel_id=subscription["id"],
        resource_id=None,
        expires_at=parse_timestamp(subscription["expirationDateTime"]),
    )


def _outdated(known: _KnownSeries | None, stamp: str | None) -> bool:
    """Whether an instance stamped `stamp` needs its master read (again)."""
    if known is None:
        return True
    if stamp is None or stamp == known.modified:  # the common case: no parsing
        return False
    return known.modified is None or parse_timestamp(stamp) > parse_timestamp(known.modified)


def _later(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return b if parse_timestamp(b) > parse_timestamp(a) else a


def _iso(moment: datetime) -> str:
    """`2026-01-05T09:00:00Z`: a UTC instant as Graph's query parameters and bodies take it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wall_utc(moment: datetime) -> str:
    """`2026-01-05T09:00:00`: a UTC instant as a `dateTimeTimeZone` dateTime (no offset)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _shorter_window(window_start: datetime, window_end: datetime | None) -> datetime | None:
    """The end of a window half as long as [window_start, window_end) (None: the whole
    `WINDOW_YEARS`), never before `MIN_LOOKAHEAD` past now or past the start; None when the
    window is that short already."""
    start = window_start.astimezone(UTC)
    end = window_end or _years_later(start, WINDOW_YEARS)
    floor = max(start, datetime.now(UTC)) + MIN_LOOKAHEAD
    shorter = max(start + (end - start) / 2, floor).replace(microsecond=0)
    return shorter if shorter < end else None


@dataclass(frozen=True, slots=True)
class _Position:
    """A cursor: Graph's link, the end of the window its round reads (None: the whole
    `WINDOW_YEARS`), and whether the round is a full one (its first request had no token).

    Encoded as the link with a fragment (`#windowEnd=...&round=full`), which no HTTP client
    sends: a cursor stored before windows could shrink (no fragment) reads as the whole
    window, and an incremental round's."""

    url: str
    window_end: datetime | None
    full_round: bool

    def encode(self) -> str:
        fields: dict[str, str] = {}
        if self.window_end is not None:
            fields["windowEnd"] = _iso(self.window_end)
        if self.full_round:
            fields["round"] = "full"
        return f"{self.url}#{urlencode(fields)}" if fields else self.url

    @classmethod
    def decode(cls, cursor: str) -> _Position:
        url, _, fragment = cursor.partition("#")
        fields = {key: values[-1] for key, values in parse_qs(fragment).items()}
        try:
            end = parse_timestamp(fields["windowEnd"]) if "windowEnd" in fields else None
        except ValueError as exc:
            raise CursorExpired(f"{LABEL}: unreadable cursor") from exc
        return cls(url, end, fields.get("round") == "full")


def _years_later(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)
