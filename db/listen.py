"""One LISTEN connection per process, fanning committed changes out to in-memory subscribers.

Writers announce changes with pg_notify inside their transaction (delivered only on commit):
`chronik_timeline` carries {"a": account, "c": [[contact, meeting, kind], …]} and
`chronik_sync_state` carries {"a": account, "u": user, "c": connection}; triggers announce the
meetings scheduled from companies, deals and tickets on `chronik_records` as
{"a": account, "r": [[kind, record, meeting, change], …]} (db/migrations/0016; a company's
contacts joining or leaving: change "s", migration 0020), and a trigger
announces an API token that stops working (revoked or deleted) on `chronik_tokens` with its id
(db/migrations/0019), so the websockets it opened can be closed (`watch_token`). A subscriber
follows keys: a contact, a user, a record ("company"/"deal"/"ticket", id), or a whole account
(one "batch" event per timeline notification, for timelines whose contacts change while they
are followed: a company's members). Each subscriber has a
bounded queue: dispatching never waits, so a slow subscriber cannot delay the listener or
anyone else — when its queue is full it is closed with `SubscriberTooSlow`. All subscribers of a
contact receive the SAME `LiveEvent` object for a change, so what they load for it can be
loaded once per process (`LiveEvent.shared`) instead of once per subscriber. When the LISTEN
connection is lost, the feed reconnects and tells every subscriber to refetch (`RESYNC`),
because notifications sent meanwhile are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import orjson

from db import once, tokens
from db.meetings import TIMELINE_CHANNEL
from db.sync_state import SYNC_STATE_CHANNEL

log = logging.getLogger("chronik.live")

_KINDS = {"a": "added", "u": "updated", "r": "removed"}
RECORDS_CHANNEL = "chronik_records"
TOKENS_CHANNEL = "chronik_tokens"
# The record kinds of `chronik_records` notifications, as subscription keys.
_RECORDS = {"c": "company", "d": "deal", "t": "ticket"}
# A record's changes: a meeting added, updated or removed, or "s": a company's contacts
# changed (db/migrations/0020), so its whole timeline may have (its subscribers refetch).
_RECORD_CHANGES = {**_KINDS, "s": "resync"}

T = TypeVar("T")


class SubscriberTooSlow(Exception):
    """The subscriber did not keep up; it must resubscribe and refetch."""


@dataclass(frozen=True, slots=True)
class LiveEvent:
    kind: str  # added | updated | removed | resync | sync_state | batch
    account_id: int
    contact_id: int | None = None
    meeting_id: int | None = None
    connection_id: int | None = None
    # What the subscribers loaded for this event, by key; lives as long as the event does.
    # The events of one notification share one dict, and `batch` names all of them that have
    # subscribers in this process, so one load can serve every contact the change touched
    # (for a "batch" event, an account's: every change of the notification).
    _shared: dict[Hashable, asyncio.Future[Any]] = field(
        default_factory=dict, compare=False, repr=False
    )
    batch: tuple[tuple[int, int, str], ...] = field(default=(), compare=False, repr=False)

    async def shared(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """`load()`, run once for all the subscribers handed this event: at 2,000 subscribers
        of one contact, one query per change and process instead of 2,000 (db/once.py: the
        load runs as its own task, so one subscriber leaving does not cancel it for the rest)."""
        return await once.shared(self._shared, key, load)


_OVERFLOW = LiveEvent("overflow", 0)


class Subscriber:
    """One subscription's bounded queue of events: a deque and, while its consumer waits, one
    future (an `asyncio.Queue` costs ~3 KiB per idle subscription: two deques, its waiter
    bookkeeping and an Event)."""

    __slots__ = ("_events", "_size", "_waiter", "account_id", "key", "overflowed")

    def __init__(self, key: tuple[str, int], account_id: int, size: int) -> None:
        self.key = key
        self.account_id = account_id
        self._size = size
        # Made at the first event: an idle subscription does without (a deque is ~700 bytes).
        self._events: deque[LiveEvent] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.overflowed = False

    def offer(self, event: LiveEvent) -> None:
        """Queue an event without waiting; a full queue marks the subscriber as too slow."""
        if self.overflowed:
            return
        events = self._events
        if events is None:
            events = self._events = deque()
        if len(events) >= self._size:
            self.overflowed = True
            # Make room for the verdict so the consumer learns it at its next read.
            events.popleft()
            event = _OVERFLOW
        events.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def events(self) -> AsyncIterator[LiveEvent]:
        while True:
            while not self._events:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            assert self._events is not None
            event = self._events.popleft()
            if event is _OVERFLOW:
                raise SubscriberTooSlow(
                    "This subscription fell behind and was closed; subscribe again and refetch."
                )
            yield event


class LiveFeed:
    def __init__(self, dsn: str, *, queue_size: int = 256, reconnect_delay: float = 0.5) -> None:
        self._dsn = dsn
        self._queue_size = queue_size
        self._reconnect_delay = reconnect_delay
        self._subscribers: defaultdict[tuple[str, int], set[Subscriber]] = defaultdict(set)
        # What to call when a token stops working, by token id (one per open websocket).
        self._token_watchers: defaultdict[int, set[Callable[[], None]]] = defaultdict(set)
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0
        self.ready = asyncio.Event()

    @property
    def subscriber_count(self) -> int:
        # A company's subscriber sits in the group of each of its contacts: counted once.
        return len({s for group in self._subscribers.values() for s in group})

    @property
    def backend_pid(self) -> int | None:
        return self._conn.get_server_pid() if self._conn is not None else None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chronik-live-feed")
        await asyncio.wait_for(self.ready.wait(), 30)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        *,
        account_id: int,
        contact_id: int | None = None,
        user_id: int | None = None,
        contact_ids: Sequence[int] | None = None,
        keys: Sequence[tuple[str, int]] | None = None,
    ) -> AsyncIterator[Subscriber]:
        """Receive the events of one contact's timeline (or of several: `contact_ids`; or one
        user's sync state; or of the given `keys`: ("company"/"deal"/"ticket", id) for the
        meetings scheduled from a record, ("account", id) for a batch event per timeline
        notification of the account) until the block exits; leaving it — normally, by error
        or cancellation — removes everything."""
        if keys is not None:
            keys = list(dict.fromkeys(keys))
        elif contact_ids is not None:
            keys = [("contact", c) for c in dict.fromkeys(contact_ids)]
        elif contact_id is not None:
            keys = [("contact", contact_id)]
        else:
            keys = [("user", user_id or 0)]
        subscriber = Subscriber(keys[0] if keys else ("contact", 0), account_id, self._queue_size)
        for key in keys:
            self._subscribers[key].add(subscriber)
        try:
            yield subscriber
        finally:
            for key in keys:
                group = self._subscribers.get(key)
                if group is not None:
                    group.discard(subscriber)
                    if not group:
                        del self._subscribers[key]

    def watch_token(self, token_id: int, on_ended: Callable[[], None]) -> Callable[[], None]:
        """Call `on_ended()` once when the token is revoked or deleted (in any process); returns
        the function that stops watching. A token that ends while the feed is reconnecting is
        found by the check after the reconnection."""
        watchers = self._token_watchers[token_id]
        watchers.add(on_ended)

        def unwatch() -> None:
            watchers.discard(on_ended)
            if not watchers and self._token_watchers.get(token_id) is watchers:
                del self._token_watchers[token_id]

        return unwatch

    async def _run(self) -> None:
        first = True
        while True:
            try:
                await self._connect()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("live feed cannot LISTEN (%s); retrying", exc)
                await asyncio.sleep(self._reconnect_delay)
                continue
            if not first:
                self.reconnects += 1
                log.warning("live feed reconnected; subscribers are told to refetch")
                self._broadcast_resync()
                await self._check_watched_tokens()
            first = False
            self.ready.set()
            await self._lost.wait()
            await self._close()
            await asyncio.sleep(self._reconnect_delay)

    async def _connect(self) -> None:
        self._lost.clear()
        conn = await asyncpg.connect(self._dsn)
        conn.add_termination_listener(lambda _: self._lost.set())
        await conn.add_listener(TIMELINE_CHANNEL, self._on_timeline)
        await conn.add_listener(SYNC_STATE_CHANNEL, self._on_sync_state)
        await conn.add_listener(RECORDS_CHANNEL, self._on_records)
        await conn.add_listener(TOKENS_CHANNEL, self._on_token_ended)
        self._conn = conn

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _check_watched_tokens(self) -> None:
        # Notifications sent while the feed was away are gone: ask which tokens still work.
        watched = list(self._token_watchers)
        if not watched or self._conn is None:
            return
        try:
            working = await tokens.unrevoked_token_ids(self._conn, watched)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("live feed cannot check its tokens (%s)", exc)
            self._lost.set()
            return
        for token_id in watched:
            if token_id not in working:
                self._token_ended(token_id)

    def _on_token_ended(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            token_id = int(payload)
        except ValueError:
            log.warning("ignoring malformed token notification")
            return
        self._token_ended(token_id)

    def _token_ended(self, token_id: int) -> None:
        for on_ended in list(self._token_watchers.pop(token_id, ())):
            on_ended()

    def _broadcast_resync(self) -> None:
        # Once per subscriber, whatever the number of keys it follows.
        everyone = {s for group in self._subscribers.values() for s in group}
        for subscriber in everyone:
            subscriber.offer(LiveEvent("resync", subscriber.account_id))

    def _on_timeline(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            message = orjson.loads(payload)
            account_id = int(message["a"])
            changes = message["c"]
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed timeline notification")
            return
        # One change names up to hundreds of contacts: their events share what is loaded for
        # them (`shared` over the whole batch), one query per notification and process.
        shared: dict[Hashable, asyncio.Future[Any]] = {}
        watchers = self._subscribers.get(("account", account_id))
        if watchers:
            try:
                everything = tuple(
                    (int(contact_id), int(meeting_id), _KINDS.get(kind, "updated"))
                    for contact_id, meeting_id, kind in changes
                )
            except (ValueError, TypeError):
                log.warning("ignoring malformed timeline notification")
                return
            event = LiveEvent("batch", account_id, None, None, None, shared, everything)
            for subscriber in list(watchers):
                if subscriber.account_id == account_id:
                    subscriber.offer(event)
        wanted = [
            (group, int(contact_id), int(meeting_id), _KINDS.get(kind, "updated"))
            for contact_id, meeting_id, kind in changes
            if (group := self._subscribers.get(("contact", contact_id)))
        ]
        if not wanted:
            return
        batch = tuple((contact_id, meeting_id, kind) for _, contact_id, meeting_id, kind in wanted)
        for group, contact_id, meeting_id, kind in wanted:
            event = LiveEvent(kind, account_id, contact_id, meeting_id, None, shared, batch)
            for subscriber in list(group):
                if subscriber.account_id == account_id:
                    subscriber.offer(event)

    def _on_records(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            message = orjson.loads(payload)
            account_id = int(message["a"])
            changes = [
                ((_RECORDS[kind], int(record_id)), int(meeting_id), _RECORD_CHANGES[change])
                for kind, record_id, meeting_id, change in message["r"]
            ]
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed records notification")
            return
        shared: dict[Hashable, asyncio.Future[Any]] = {}
        for key, meeting_id, kind in changes:
            group = self._subscribers.get(key)
            if not group:
                continue
            event = LiveEvent(kind, account_id, None, meeting_id, None, shared)
            for subscriber in list(group):
                if subscriber.account_id == account_id:
                    subscriber.offer(event)

    def _on_sync_state(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            message = orjson.loads(payload)
            account_id, user_id, connection_id = int(message["a"]), message["u"], message["c"]
        except (ValueError, KeyError, TypeError):
            return
        for subscriber in list(self._subscribers.get(("user", user_id), ())):
            if subscriber.account_id == account_id:
                subscriber.offer(LiveEvent("sync_state", account_id, connection_id=connection_id))
