"""Google Calendar API v3 over HTTP: requests and error handling only, no database.

The change feed is events.list on the primary calendar with `singleEvents=false`, so a
recurring series arrives as its master plus its exceptions. A cursor (see `FeedCursor`) names
the round it belongs to: a full round (no sync token) or an incremental round (the sync token
it started from), and the page of that round to ask for next.

Scheduling writes to the primary calendar: events.insert under an id derived from the caller's
idempotency key (so a retried insert finds its first result instead of making a twin),
events.get + events.patch with If-Match, events.delete, and freebusy.query.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import msgspec
import orjson

from sync.http import ProviderResponse, ProviderSession, RetryPolicy
from sync.model import ChangePage, CursorExpired, EventKind, ProviderEvent
from sync.provider import (
    EventChanged,
    EventDraft,
    EventGone,
    PermissionMissing,
    ProviderError,
    PushChannel,
)
from sync.providers.google.parse import (
    draft_applied,
    draft_to_event,
    draft_to_patch,
    parse_event,
    parse_listed,
    parse_timestamp,
)
from sync.providers.google.wire import (
    LISTED_EVENTS,
    Calendar,
    Channel,
    ErrorBody,
    Event,
    Events,
    FreeBusyCalendar,
    FreeBusyResponse,
)
from sync.tokens import TokenSource

log = logging.getLogger(__name__)

LABEL = "Google Calendar"
# Google signals throttling with 403 as well as 429; these reasons are worth a retry.
_THROTTLE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# Google's largest events.list page: fewer round trips per sync.
PAGE_SIZE = "2500"
# events.list items parsed between two yields to the event loop (`fetch_changes`): a page is
# read beside the transactions of the pages before it (sync/apply.py `YIELD_EVERY`).
PARSE_SLICE = 50
# Used only if a watch answer lacks `expiration` (Google always sends one for events.watch):
# short, so the channel is renewed early rather than silently lapsing.
_FALLBACK_CHANNEL_TTL = timedelta(hours=1)


def error_reason(response: ProviderResponse) -> tuple[str | None, str]:
    """(reason, message) from Google's JSON error body, tolerant of other bodies."""
    try:
        body: ErrorBody = response.json()
        error = body["error"]
        reasons = [item.get("reason") for item in error.get("errors", [])]
        return (reasons[0] if reasons else None), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, response.body[:200].decode(errors="replace")


def _error_location(response: ProviderResponse) -> str | None:
    try:
        body: ErrorBody = response.json()
        return body["error"]["errors"][0].get("location")
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def is_stale_page_token(response: ProviderResponse) -> bool:
    """Google's 400 for a page token it no longer knows (or never issued)."""
    if response.status != 400:
        return False
    reason, message = error_reason(response)
    if reason != "invalid":
        return False
    return _error_location(response) == "pageToken" or "page token" in message.lower()


def is_unfitting_sync_token(response: ProviderResponse) -> bool:
    """Google's 400 for a sync token that does not fit the request: issued by a listing with
    other parameters (a token remembers its full sync's `singleEvents`, `showDeleted`, ...:
    incremental requests keep "all other query parameters" of the initial full sync,
    https://developers.google.com/calendar/api/guides/sync). Only a full round makes a token
    that fits, e.g. for a cursor stored before Chronik's full round sent `showDeleted`."""
    if response.status != 400:
        return False
    return _error_location(response) == "syncToken"


def is_throttled(response: ProviderResponse) -> bool:
    return response.status == 403 and error_reason(response)[0] in _THROTTLE_REASONS


def raise_for_status(response: ProviderResponse, what: str) -> None:
    """`ProviderError` for an error answer; `PermissionMissing` for Google's 403
    insufficientPermissions (the grant lacks the scope the call needs:
    https://developers.google.com/calendar/api/guides/errors#403_insufficient_permissions)."""
    if response.status < 300:
        return
    reason, message = error_reason(response)
    if response.status == 403 and reason == "insufficientPermissions":
        raise PermissionMissing(
            f"{LABEL} refused to {what}: Chronik was not granted the calendar permission this "
            "needs. Link the calendar again and leave every permission ticked.",
            status=403,
            reason=reason,
        )
    raise ProviderError(
        f"{LABEL} refused to {what}: HTTP {response.status} {message}".strip(),
        status=response.status,
        reason=reason,
    )


def raise_for_event(response: ProviderResponse, what: str) -> None:
    """`raise_for_status` for one event: 404/410 → `EventGone`, 412 → `EventChanged`."""
    if response.status < 300:
        return
    reason, message = error_reason(response)
    text = f"{LABEL} refused to {what}: HTTP {response.status} {message}".strip()
    if response.status in (404, 410):
        raise EventGone(text, status=response.status, reason=reason)
    if response.status == 412:
        raise EventChanged(text, status=response.status, reason=reason)
    raise_for_status(response, what)


# Event ids Google issues or accepts: base32hex (a-v, 0-9) for events, plus `_` and the
# instance's original start (e.g. `_20261207T100000Z`) for an instance of a series.
_EVENT_ID = re.compile(r"[A-Za-z0-9_]{1,1024}")


def is_event_id(text: str) -> bool:
    """Whether `text` can be a Google event id (anything else never reaches a URL path)."""
    return _EVENT_ID.fullmatch(text) is not None


def event_id_for(idempotency_key: str) -> str:
    """The event id Chronik gives the event created under `idempotency_key`: base32hex of the
    key's SHA-256, lower-cased, unpadded (52 characters of a-v0-9, as Google requires of
    client-chosen ids). The same key always names the same event, different keys practically
    never collide."""
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def _send_updates(notify: bool) -> dict[str, str]:
    # Always explicit: without it Google decides per method, and "none" must mean no mail.
    return {"sendUpdates": "all" if notify else "none"}


class GoogleCalendarClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        api_url: str,
        tokens: TokenSource,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._base = f"{api_url.rstrip('/')}/calendar/v3"
        self._session = ProviderSession(
            http,
            tokens,
            label=LABEL,
            metric_name="google",
            policy=policy,
            is_throttled=is_throttled,
        )

    async def calendar_owner(self) -> str:
        # The primary calendar's id is its owner's address.
        response = await self._session.request("GET", f"{self._base}/calendars/primary")
        raise_for_status(response, "read the primary calendar")
        calendar: Calendar = response.json()
        return calendar["id"].lower()

    async def fetch_changes(self, cursor: str | None, *, window_start: datetime) -> ChangePage:
        """GET one events.list page of the primary calendar and parse its items.

        `cursor` None starts a full round; a cursor with a sync token starts or continues an
        incremental round. Both list with `showDeleted=true` (so deletions keep their details,
        and a full round reports what was cancelled as cancelled).
        https://developers.google.com/calendar/api/v3/reference/events/list
        The returned cursor names the next page of the same round, or, on the round's last page
        (`complete=True`), the incremental round starting at Google's `nextSyncToken`.
        `window_start` is ignored: Google refuses `timeMin` next to a sync token.

        Raises `CursorExpired` on 410 (sync token expired, `fullSyncRequired`), on a page token
        Google no longer knows, on a sync token Google refuses for this request's parameters
        (400 naming `syncToken`, see `is_unfitting_sync_token`), and on a cursor this client
        did not write; `ProviderError` on
        any other error answer; `ProviderUnavailable` when retries ran out.
        """
        position = FeedCursor.decode(cursor)
        response = await self._session.request(
            "GET", f"{self._base}/calendars/primary/events", params=position.params()
        )
        if (
            response.status == 410
            or (position.page_token and is_stale_page_token(response))
            or (position.sync_token and is_unfitting_sync_token(response))
        ):
            reason, message = error_reason(response)
            raise CursorExpired(f"{LABEL}: {reason or response.status} {message}".strip())
        raise_for_status(response, "list the calendar's events")
        try:
            body = LISTED_EVENTS.decode(response.body)
        except msgspec.DecodeError as exc:  # ValidationError included: a field of a wrong type
            raise ProviderError(f"{LABEL} sent an events page Chronik cannot read: {exc}") from exc
        time_zone = body.timeZone
        events = []
        for item in body.items:
            events.append(parse_listed(item, time_zone))
            if len(events) % PARSE_SLICE == 0:
                # A page is read while the previous one commits: let its statements go on.
                await asyncio.sleep(0)
        next_page = body.nextPageToken
        if next_page:
            following = FeedCursor(position.sync_token, next_page)
            return ChangePage(events, following.encode(), complete=False)
        sync_token = body.nextSyncToken
        if not sync_token:
            raise ProviderError(f"{LABEL} ended a listing without a sync token.")
        return ChangePage(events, FeedCursor(sync_token, None).encode(), complete=True)

    async def gone_series(self, series_ids: Sequence[str]) -> set[str]:
        """Always empty: events.list reports a deleted series as its master's tombstone."""
        return set()

    async def cancelled_occurrences(self, series_ids: Sequence[str]) -> list[ProviderEvent]:
        """Always empty: events.list reports a cancelled occurrence itself (a cancelled
        exception with recurringEventId and originalStartTime)."""
        return []

    async def watch(self, *, address: str, channel_id: str, token: str) -> PushChannel:
        """POST events/watch on the primary calendar: Google then POSTs a `sync` message and
        one `exists` message per change to `address`, with `token` in X-Goog-Channel-Token.
        https://developers.google.com/calendar/api/v3/reference/events/watch

        Returns the channel (Google's resourceId and expiration). A channel id can be used once
        (400 channelIdNotUnique while it lives), and an attempt whose answer was lost may have
        made its channel: so each retry asks under a fresh id (`channel_id`, then
        `channel_id-1`, ...), and once one succeeds the ids of the earlier attempts are stopped
        (404 for those that made nothing). The returned id is the one that succeeded.
        `ProviderError` on refusal, e.g. channelIdNotUnique when `channel_id` is live already."""
        attempted: list[str] = []

        def request() -> Channel:
            attempt_id = f"{channel_id}-{len(attempted)}" if attempted else channel_id
            attempted.append(attempt_id)
            return {"id": attempt_id, "type": "web_hook", "address": address, "token": token}

        response = await self._session.request(
            "POST", f"{self._base}/calendars/primary/events/watch", json_per_attempt=request
        )
        raise_for_status(response, "watch the calendar")
        answer: Channel = response.json()
        channel = PushChannel(
            channel_id=answer.get("id", attempted[-1]),
            resource_id=answer.get("resourceId"),
            expires_at=_expiration(answer.get("expiration")),
        )
        # A channel's resourceId names the watched calendar, so it names the lost ones too.
        for lost in attempted[:-1]:
            try:
                await self.stop(PushChannel(lost, channel.resource_id, channel.expires_at))
            except ProviderError as exc:
                log.warning("could not stop Google channel %s of a lost answer: %s", lost, exc)
        return channel

    async def renew(
        self, channel: PushChannel, *, address: str, channel_id: str, token: str
    ) -> PushChannel:
        """Google channels cannot be extended: watch under `channel_id` (must differ from
        `channel.channel_id`), then stop `channel`. Returns the new channel. A failure to stop
        the old one is logged, not raised: the new channel is live and the old one expires on
        its own, so its late notifications carry an id the caller no longer knows."""
        renewed = await self.watch(address=address, channel_id=channel_id, token=token)
        try:
            await self.stop(channel)
        except ProviderError as exc:
            log.warning("could not stop Google channel %s: %s", channel.channel_id, exc)
        return renewed

    async def stop(self, channel: PushChannel) -> None:
        """POST channels/stop with the channel's id and resourceId. 404 (already stopped,
        expired or unknown) counts as done; a channel without resourceId cannot be named to
        Google and is left to expire. `ProviderError` on any other refusal.
        https://developers.google.com/calendar/api/v3/reference/channels/stop"""
        if channel.resource_id is None:
            return
        response = await self._session.request(
            "POST",
            f"{self._base}/channels/stop",
            json={"id": channel.channel_id, "resourceId": channel.resource_id},
        )
        if response.status == 404:
            return
        raise_for_status(response, "stop a push channel")

    # -- scheduling ---------------------------------------------------------------------------

    async def create_event(
        self, draft: EventDraft, *, idempotency_key: str, send_invitations: bool
    ) -> ProviderEvent:
        """POST events.insert on the primary calendar with `sendUpdates=all` (Google mails each
        attendee an invitation) or `none`, under the id `event_id_for(idempotency_key)`.

        Returns the created event as `parse_event` reads it. When Google answers 409 duplicate,
        an earlier call with the same key (or a retry of this POST whose answer was lost)
        already created the event: it is read back with events.get and returned as it is now,
        even if cancelled since, and the draft is not applied again. Deleted ids stay taken at
        Google, so a key must not be reused for a new meeting.

        Raises `ProviderError` on any other refusal, `ProviderUnavailable` when retries ran out.
        """
        event_id = event_id_for(idempotency_key)
        body = draft_to_event(draft)
        body["id"] = event_id
        response = await self._session.request(
            "POST", self._events, params=_send_updates(send_invitations), json=body
        )
        if response.status == 409:
            return parse_event(await self._read_event(event_id), None)
        raise_for_status(response, "create an event")
        created: Event = response.json()
        return parse_event(created, None)

    async def update_event(
        self, provider_event_id: str, draft: EventDraft, *, etag: str | None, send_updates: bool
    ) -> ProviderEvent:
        """GET the event, then PATCH it to the draft with `sendUpdates=all|none` and
        `If-Match`; returns the updated event.

        The read comes first because Google replaces the attendee array whole: guests who stay
        keep the response the event holds for them (see `draft_attendees`); added guests are
        invited and removed ones get a cancellation when `send_updates`. `If-Match` is `etag`
        when given, else the etag just read, so an answer arriving in between is not erased.

        A PATCH is not idempotent under `If-Match`: when its answer is lost, the retry meets
        412 because the first attempt changed the etag. So a 412 is checked against the event
        as it is now: if it already shows the draft, that is this update and it is returned.
        https://developers.google.com/calendar/api/v3/reference/events/patch

        Raises `EventGone` when the event is missing (404/410) or cancelled, `EventChanged`
        when `etag` is not the event's current one (checked on the read, and by Google's 412
        when someone else's change is in between), `ProviderError` on any other refusal.
        """
        current = await self._read_event(provider_event_id)
        if current.get("status") == "cancelled":
            raise EventGone(f"{LABEL}: event {provider_event_id} was cancelled", status=410)
        current_etag = current.get("etag")
        if etag is not None and etag != current_etag:
            raise EventChanged(f"{LABEL}: event {provider_event_id} changed since read")
        if_match = etag or current_etag
        response = await self._session.request(
            "PATCH",
            f"{self._events}/{provider_event_id}",
            params=_send_updates(send_updates),
            json=draft_to_patch(draft, current),
            headers={"If-Match": if_match} if if_match else None,
        )
        if response.status == 412:
            now = await self._read_event(provider_event_id)
            if now.get("status") != "cancelled" and draft_applied(draft, now):
                return parse_event(now, None)
        raise_for_event(response, "update the event")
        updated: Event = response.json()
        return parse_event(updated, None)

    async def cancel_event(self, provider_event_id: str, *, notify: bool) -> None:
        """DELETE the event with `sendUpdates=all` (Google mails every guest a cancellation)
        or `none`. Google keeps it as a cancelled event, which the change feed reports.
        An event already deleted (404/410) counts as done; `ProviderError` otherwise."""
        response = await self._session.request(
            "DELETE", f"{self._events}/{provider_event_id}", params=_send_updates(notify)
        )
        if response.status in (404, 410):
            return
        raise_for_status(response, "cancel the event")

    async def delete_event(self, provider_event_id: str) -> None:
        """DELETE the event with `sendUpdates=none`: no one is mailed. Google has no way for
        the organizer to remove an event from their calendar without cancelling it, so the
        guests' copies turn cancelled too (silently). Gone already counts as done."""
        await self.cancel_event(provider_event_id, notify=False)

    async def free_busy(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """POST freeBusy for the primary calendar between `start` and `end` (aware datetimes).

        Returns Google's busy periods (cancelled, transparent and declined events leave the
        owner free) as UTC (start, end) pairs, sorted. Raises `ProviderError` when Google
        reports errors for the calendar instead of its periods, or refuses the query.
        """
        query = {
            "timeMin": start.astimezone(UTC).isoformat(),
            "timeMax": end.astimezone(UTC).isoformat(),
            "items": [{"id": "primary"}],
        }
        response = await self._session.request("POST", f"{self._base}/freeBusy", json=query)
        raise_for_status(response, "query free/busy")
        calendar = _primary_free_busy(response.json())
        periods = [
            (parse_timestamp(period["start"]), parse_timestamp(period["end"]))
            for period in calendar.get("busy", ())
        ]
        return sorted(periods)

    async def read_event(self, provider_event_id: str) -> ProviderEvent:
        """events.get on the primary calendar, as the change feed (singleEvents=false) would
        report the event: an instance of a series (`recurringEventId`) the feed does not list
        is an unchanged OCCURRENCE, one it lists (moved, edited, cancelled) an EXCEPTION.
        Google's events.get answers both alike, so the series' own items are listed by its
        iCalUID (events.list `iCalUID`, singleEvents=false) to tell them apart.
        https://developers.google.com/calendar/api/v3/reference/events/get

        `EventGone` on 404/410 or an id Google could not have issued; `ProviderError` on any
        other refusal, `ProviderUnavailable` when retries ran out."""
        if not is_event_id(provider_event_id):
            raise EventGone(f"{LABEL}: no event {provider_event_id!r}", status=404)
        item = await self._read_event(provider_event_id)
        event = parse_event(item, None)
        if event.kind is EventKind.EXCEPTION and not await self._listed(item):
            event.kind = EventKind.OCCURRENCE
        return event

    async def _listed(self, instance: Event) -> bool:
        """Whether the change feed lists this instance of a series as an item of its own."""
        ical_uid = instance.get("iCalUID")
        if not ical_uid:
            return True
        params = {
            "iCalUID": ical_uid,
            "singleEvents": "false",
            "showDeleted": "true",
            "maxResults": PAGE_SIZE,
        }
        while True:
            response = await self._session.request("GET", self._events, params=params)
            raise_for_status(response, "list a recurring series")
            page: Events = response.json()
            if any(item.get("id") == instance["id"] for item in page.get("items", ())):
                return True
            next_page = page.get("nextPageToken")
            if not next_page:
                return False
            params["pageToken"] = next_page

    @property
    def _events(self) -> str:
        return f"{self._base}/calendars/primary/events"

    async def _read_event(self, event_id: str) -> Event:
        """events.get on the primary calendar (deleted events come back with status
        cancelled). `EventGone` on 404/410, `ProviderError` on any other refusal."""
        response = await self._session.request("GET", f"{self._events}/{event_id}")
        raise_for_event(response, "read the event")
        event: Event = response.json()
        return event


@dataclass(frozen=True)
class FeedCursor:
    """Where the change feed resumes: `sync_token` None = a full round, else the incremental
    round started from it; `page_token` None = the round's first page.

    Encoded as compact JSON (`{"s": sync token, "p": page token}`, absent keys omitted), so a
    full round's page token never travels with a sync token and an incremental round's page
    token always travels with the sync token of its round (Google wants both on every page).
    """

    sync_token: str | None
    page_token: str | None

    def encode(self) -> str:
        """The cursor string handed to the engine."""
        fields: dict[str, str] = {}
        if self.sync_token is not None:
            fields["s"] = self.sync_token
        if self.page_token is not None:
            fields["p"] = self.page_token
        return orjson.dumps(fields).decode()

    @classmethod
    def decode(cls, cursor: str | None) -> FeedCursor:
        """The position a cursor names (None → a full round's first page). `CursorExpired`
        when the string is not one `encode` wrote: only a full sync gets past it."""
        if cursor is None:
            return cls(None, None)
        try:
            fields = orjson.loads(cursor)
            sync_token, page_token = fields.get("s"), fields.get("p")
        except (orjson.JSONDecodeError, AttributeError) as exc:
            raise CursorExpired(f"{LABEL}: unreadable cursor") from exc
        valid = all(value is None or isinstance(value, str) for value in (sync_token, page_token))
        if not valid or (sync_token is None and page_token is None):
            raise CursorExpired(f"{LABEL}: unreadable cursor")
        return cls(sync_token, page_token)

    def params(self) -> dict[str, str]:
        """events.list query parameters for this position. Full and incremental rounds send
        the same ones (`showDeleted` included), as the sync guide asks: "All other query
        parameters should be the same as for the initial synchronization"
        (https://developers.google.com/calendar/api/guides/sync); with a sync token Google
        refuses `showDeleted=false`."""
        params = {"maxResults": PAGE_SIZE, "singleEvents": "false", "showDeleted": "true"}
        if self.sync_token is not None:
            params["syncToken"] = self.sync_token
        if self.page_token is not None:
            params["pageToken"] = self.page_token
        return params


def _primary_free_busy(answer: FreeBusyResponse) -> FreeBusyCalendar:
    """The primary calendar's entry of a freebusy answer; `ProviderError` when Google reports
    errors for it (e.g. notFound) or leaves it out, since "no periods" would read as free."""
    calendars = answer.get("calendars", {})
    # Google keys the entry by the id asked for; a lone entry under the owner's address is
    # the same calendar.
    calendar = calendars.get("primary")
    if calendar is None and len(calendars) == 1:
        [calendar] = calendars.values()
    if calendar is None:
        raise ProviderError(f"{LABEL} answered free/busy without the primary calendar.")
    problems = calendar.get("errors")
    if problems:
        reason = problems[0].get("reason")
        raise ProviderError(f"{LABEL} has no free/busy for the calendar: {reason}", reason=reason)
    return calendar


def _expiration(millis: str | None) -> datetime:
    if not millis:
        return datetime.now(UTC) + _FALLBACK_CHANNEL_TTL
    return datetime.fromtimestamp(int(millis) / 1000, UTC)
