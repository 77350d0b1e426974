"""What one websocket may have waiting to be sent, bounded in bytes and in time: a client that
stops reading is closed and its memory returned.

uvicorn's websocket protocols hold a `send` while the socket's write buffer is above its high
water mark (64 KiB): a client that does not read leaves every later message waiting in the
task that sent it, while its operations keep producing more. `BoundedSend` wraps the ASGI
`send` of one websocket and tracks the sends waiting. The client counts as not reading once
they hold more than `limit` characters (bytes, for our ASCII JSON), or once they have made no
progress for `timeout` seconds (what a client that sends and never reads runs into first:
the handler waits in one small send and reads nothing more). Then the send fails with
`ClientNotReading` (an `OSError`, as a lost connection is, so handlers end their operations
as for a client gone), every later send fails, and the socket is closed with 4413 and a
reason. The close frame waits behind what the client has not read: a client that reads again
within `timeout` gets it; otherwise the connection is aborted, which frees the server's write
buffer at once (a plain close keeps it until the client reads it or TCP gives up, and TCP
never gives up on a client that acknowledges with a zero window).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from time import monotonic

from starlette.types import Message, Send

log = logging.getLogger("chronik.live")

NOT_READING_CODE = 4413
SEND_TIMEOUT = 20.0
# How often sockets with waiting sends are checked for one that made no progress in time.
CHECK_EVERY = 1.0


class ClientNotReading(OSError):
    """A send refused because the client has not read what was sent before."""


class BoundedSend:
    """An ASGI `send` for one websocket whose waiting output is bounded by `limit` characters
    and `timeout` seconds without progress."""

    __slots__ = ("closing", "limit", "progress_at", "send", "stalled", "timeout", "waiting")

    def __init__(self, send: Send, limit: int, timeout: float = SEND_TIMEOUT) -> None:
        self.send = send
        self.limit = limit
        self.timeout = timeout
        self.waiting = 0
        self.progress_at = 0.0
        self.stalled = False
        self.closing: asyncio.Task[None] | None = None

    async def __call__(self, message: Message) -> None:
        if self.stalled:
            raise ClientNotReading("the client is not reading")
        if message["type"] == "websocket.close":
            await self._close(message)
            return
        if message["type"] != "websocket.send":
            await self.send(message)
            return
        data = message.get("text")
        size = len(data if data is not None else message.get("bytes") or b"")
        if self.waiting == 0:
            self.progress_at = monotonic()
            _watch.add(self)
        elif self.waiting + size > self.limit:  # (one message alone always goes out)
            self.stall(f"over {self.limit} bytes of output waiting")
            raise ClientNotReading("the client is not reading")
        self.waiting += size
        try:
            await self.send(message)
            self.progress_at = monotonic()
        finally:
            self.waiting -= size
            if self.waiting == 0:
                _watch.sockets.discard(self)

    def stall(self, why: str) -> None:
        """Refuse every later send and close the socket (in a task of its own: the close
        frame may have to wait for the client)."""
        if self.stalled:
            return
        self.stalled = True
        _watch.sockets.discard(self)
        log.warning("websocket closed: client not reading (%s)", why)
        closing = {
            "type": "websocket.close",
            "code": NOT_READING_CODE,
            "reason": "Client not reading: " + why,
        }
        self.closing = asyncio.create_task(self._close_quietly(closing))

    async def closed(self) -> None:
        """Wait for the close frame of a client found not reading to go out (or the
        connection to be aborted): the server would drop the frame once the handler ends."""
        if self.closing is not None:
            await self.closing

    async def _close(self, message: Message) -> None:
        """Send the close frame; abort the connection if it cannot go out in time."""
        try:
            async with asyncio.timeout(self.timeout):
                await self.send(message)
        except TimeoutError:
            _abort(self.send)

    async def _close_quietly(self, message: Message) -> None:
        with contextlib.suppress(Exception):  # the client left meanwhile: nothing to close
            await self._close(message)


class _Watch:
    """The sockets with sends waiting, checked every `CHECK_EVERY` seconds by one task (not a
    timer per send: the fan-out sends to thousands of sockets per change)."""

    def __init__(self) -> None:
        self.sockets: set[BoundedSend] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, socket: BoundedSend) -> None:
        self.sockets.add(socket)
        loop = asyncio.get_running_loop()
        # (A task of another loop: that loop is gone, as in tests that run one loop each.)
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self.run())

    async def run(self) -> None:
        while self.sockets:
            await asyncio.sleep(CHECK_EVERY)
            now = monotonic()
            for socket in list(self.sockets):
                if now - socket.progress_at > socket.timeout:
                    socket.stall(f"no output taken for {socket.timeout:g} s")


_watch = _Watch()


def _abort(send: Send) -> None:
    """Drop the connection of uvicorn's `send` now, discarding what it has not sent (its
    protocols keep their transport, asyncio's or uvloop's; other servers: nothing to do, the
    handler's end closes)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    abort = getattr(transport, "abort", None)
    if callable(abort):
        abort()  # also when closing: a close still waits to flush the buffer
