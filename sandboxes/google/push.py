"""Delivery of Google Calendar push notifications (web_hook channels) from a background task.

Messages are queued by the state when something changes and POSTed by a worker task per
channel, never inline in the request that made the change. A failed delivery is logged and
dropped (Google does not retry either). ``settings`` lets tests ask for duplicated, reordered,
dropped or delayed deliveries; ``faults`` counts the quirks applied, by kind.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from sandboxes.google.model import Channel

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_S = 5.0
REORDER_WINDOW_S = 0.05


@dataclass
class PushSettings:
    """Delivery quirks on demand: each message sent ``1 + duplicate`` times; ``reorder`` delivers
    the messages that queued up within a short window newest-first; the next ``drop`` messages
    are lost (logged, never sent); ``delay_s`` waits before each delivery."""

    duplicate: int = 0
    reorder: bool = False
    drop: int = 0
    delay_s: float = 0.0


@dataclass
class _Message:
    channel: Channel
    state: str
    number: int


class PushDispatcher:
    """Queues and delivers notifications; ``log`` records every delivery attempt.

    One worker task per channel: a channel's messages go out in order (like Google's, which
    numbers them), while a slow or dead receiver never holds up other channels.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._queues: dict[str, asyncio.Queue[_Message]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._idle: asyncio.Event | None = None
        self._pending = 0
        self.settings = PushSettings()
        self.log: list[dict[str, Any]] = []
        # Quirks applied so far: push_duplicated, push_reordered, push_dropped.
        self.faults: collections.Counter[str] = collections.Counter()

    def enqueue(self, channel: Channel, state: str) -> None:
        """Queue one message for ``channel`` (numbered now, so numbers follow change order)."""
        if channel.stopped or channel.expiration_ms <= self._clock() * 1000:
            return
        channel.message_number += 1
        if self._idle is None:
            self._idle = asyncio.Event()
        queue = self._queues.get(channel.id)
        worker = self._workers.get(channel.id)
        if queue is None or worker is None or worker.done():
            queue = self._queues[channel.id] = asyncio.Queue()
            loop = asyncio.get_running_loop()
            self._workers[channel.id] = loop.create_task(self._run(queue))
        self._pending += 1
        self._idle.clear()
        queue.put_nowait(_Message(channel, state, channel.message_number))

    async def drain(self) -> None:
        """Wait until every queued message has been attempted (tests use this)."""
        if self._idle is not None and self._pending:
            await self._idle.wait()

    def forget(self) -> None:
        """Drop queued messages, workers, settings and the log (sandbox reset)."""
        for worker in self._workers.values():
            worker.cancel()
        self._workers.clear()
        self._queues.clear()
        self._pending = 0
        if self._idle is not None:
            self._idle.set()
        self.settings = PushSettings()
        self.log.clear()
        self.faults.clear()

    async def close(self) -> None:
        """Stop the workers and close the HTTP session."""
        workers = list(self._workers.values())
        self._workers.clear()
        self._queues.clear()
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self, queue: asyncio.Queue[_Message]) -> None:
        while True:
            batch = [await queue.get()]
            if self.settings.reorder:
                await asyncio.sleep(REORDER_WINDOW_S)
                while not queue.empty():
                    batch.append(queue.get_nowait())
                batch.reverse()
                if len(batch) > 1:
                    self.faults["push_reordered"] += len(batch)
            for message in batch:
                try:
                    if self.settings.drop > 0:
                        self.settings.drop -= 1
                        self.faults["push_dropped"] += 1
                        self._record(message, None, "dropped (sandbox push setting)")
                        continue
                    if self.settings.delay_s > 0:
                        await asyncio.sleep(self.settings.delay_s)
                    copies = max(0, self.settings.duplicate)
                    if copies:
                        self.faults["push_duplicated"] += copies
                    for _ in range(1 + copies):
                        await self._deliver(message)
                finally:
                    self._pending -= 1
                    if self._pending == 0 and self._idle is not None:
                        self._idle.set()

    async def _deliver(self, message: _Message) -> None:
        channel = message.channel
        if channel.stopped or channel.expiration_ms <= self._clock() * 1000:
            self._record(message, None, "channel stopped or expired")
            return
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": _http_date(channel.expiration_ms),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": message.state,
            "X-Goog-Message-Number": str(message.number),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_S)
            )
        try:
            async with self._session.post(channel.address, headers=headers, data=b"") as resp:
                await resp.read()
                self._record(message, resp.status, None)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.info("push to %s failed: %r (dropped)", channel.address, exc)
            self._record(message, None, repr(exc))

    def _record(self, message: _Message, status: int | None, error: str | None) -> None:
        self.log.append(
            {
                "channelId": message.channel.id,
                "resourceId": message.channel.resource_id,
                "address": message.channel.address,
                "resourceState": message.state,
                "messageNumber": message.number,
                "status": status,
                "error": error,
            }
        )


def _http_date(ms: int) -> str:
    """``X-Goog-Channel-Expiration`` is an RFC 1123 date, e.g. ``Tue, 19 Nov 2026 01:13:52 GMT``."""
    import email.utils

    return email.utils.formatdate(ms / 1000, usegmt=True)
