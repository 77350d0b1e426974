"""Google Calendar API v3 over HTTP: requests and error handling only, no database.

The change feed is events.list on the primary calendar with `singleEvents=false`, so a
recurring series arrives as its master plus its exceptions. A cursor (see `FeedCursor`) names
the round it belongs to: a full round (no sync token) or an incremental round (the sync token
it started from), and the page of that round to ask for next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson

from sync.credentials import TokenSource
from sync.google.parse import parse_event
from sync.google.wire import Calendar, Channel, ErrorBody, Events
from sync.http import ProviderResponse, ProviderSession, RetryPolicy
from sync.model import ChangePage, CursorExpired
from sync.provider import ProviderError, PushChannel

log = logging.getLogger(__name__)

LABEL = "Google Calendar"
# Google signals throttling with 403 as well as 429; these reasons are worth a retry.
_THROTTLE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# Google's largest events.list page: fewer round trips per sync.
PAGE_SIZE = "2500"
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


def is_throttled(response: ProviderResponse) -> bool:
    return response.status == 403 and error_reason(response)[0] in _THROTTLE_REASONS


def raise_for_status(response: ProviderResponse, what: str) -> None:
    if response.status < 300:
        return
    reason, message = error_reason(response)
    raise ProviderError(
        f"{LABEL} refused to {what}: HTTP {response.status} {message}".strip(),
        status=response.status,
        reason=reason,
    )


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
            http, tokens, label=LABEL, policy=policy, is_throttled=is_throttled
        )

    async def calendar_owner(self) -> str:
        # The primary calendar's id is its owner's address.
        response = await self._session.request("GET", f"{self._base}/calendars/primary")
        raise_for_status(response, "read the primary calendar")
        calendar: Calendar = response.json()
        return calendar["id"].lower()

    async def fetch_changes(self, cursor: str | None, *, window_start: datetime) -> ChangePage:
        """GET one events.list page of the primary calendar and parse its items.

        `cursor` None starts a full round (cancelled events left out, except cancelled
        occurrences of a series, which Google always lists); a cursor with a sync token starts
        or continues an incremental round (`showDeleted=true`, so deletions keep their details).
        The returned cursor names the next page of the same round, or, on the round's last page
        (`complete=True`), the incremental round starting at Google's `nextSyncToken`.
        `window_start` is ignored: Google refuses `timeMin` next to a sync token.

        Raises `CursorExpired` on 410 (sync token expired, `fullSyncRequired`), on a page token
        Google no longer knows, and on a cursor this client did not write; `ProviderError` on
        any other error answer; `ProviderUnavailable` when retries ran out.
        """
        position = FeedCursor.decode(cursor)
        response = await self._session.request(
            "GET", f"{self._base}/calendars/primary/events", params=position.params()
        )
        if response.status == 410 or (position.page_token and is_stale_page_token(response)):
            reason, message = error_reason(response)
            raise CursorExpired(f"{LABEL}: {reason or response.status} {message}".strip())
        raise_for_status(response, "list the calendar's events")
        body: Events = response.json()
        time_zone = body.get("timeZone")
        events = [parse_event(item, time_zone) for item in body.get("items", ())]
        next_page = body.get("nextPageToken")
        if next_page:
            following = FeedCursor(position.sync_token, next_page)
            return ChangePage(events, following.encode(), complete=False)
        sync_token = body.get("nextSyncToken")
        if not sync_token:
            raise ProviderError(f"{LABEL} ended a listing without a sync token.")
        return ChangePage(events, FeedCursor(sync_token, None).encode(), complete=True)

    async def watch(self, *, address: str, channel_id: str, token: str) -> PushChannel:
        """POST events/watch on the primary calendar: Google then POSTs a `sync` message and
        one `exists` message per change to `address`, with `token` in X-Goog-Channel-Token.
        Returns the channel (Google's resourceId and expiration). `ProviderError` on refusal,
        e.g. 400 channelIdNotUnique when `channel_id` is live already."""
        request: Channel = {
            "id": channel_id,
            "type": "web_hook",
            "address": address,
            "token": token,
        }
        response = await self._session.request(
            "POST", f"{self._base}/calendars/primary/events/watch", json=request
        )
        raise_for_status(response, "watch the calendar")
        answer: Channel = response.json()
        return PushChannel(
            channel_id=answer.get("id", channel_id),
            resource_id=answer.get("resourceId"),
            expires_at=_expiration(answer.get("expiration")),
        )

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
        Google and is left to expire. `ProviderError` on any other refusal."""
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
        """events.list query parameters for this position."""
        params = {"maxResults": PAGE_SIZE, "singleEvents": "false"}
        if self.sync_token is not None:
            params["syncToken"] = self.sync_token
            params["showDeleted"] = "true"
        if self.page_token is not None:
            params["pageToken"] = self.page_token
        return params


def _expiration(millis: str | None) -> datetime:
    if not millis:
        return datetime.now(UTC) + _FALLBACK_CHANNEL_TTL
    return datetime.fromtimestamp(int(millis) / 1000, UTC)
