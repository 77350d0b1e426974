"""A websocket client that sends and never reads: what a stalled or hostile client does.

Blocking sockets and wsproto (no client library reads in the background on its own), run in
a thread by the tests. Its receive buffer is small, so the server's messages back up into
the server rather than into this process's kernel buffers.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Message,
    RejectConnection,
    Request,
    TextMessage,
)

RECEIVE_BUFFER_BYTES = 4096


@dataclass
class Flood:
    """How far a flood got: the messages sent before the server stopped taking them."""

    sent: int
    stopped_by: str | None  # the socket error that stopped it, if any


class NonReadingClient:
    """One graphql websocket opened (handshake and `connection_init` read), then never read."""

    def __init__(self, host: str, port: int, protocol: str) -> None:
        self.sock = socket.socket()
        # Before connect, so the advertised window stays small.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        self.sock.settimeout(30)
        self.sock.connect((host, port))
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(
            self.ws.send(Request(host=f"{host}:{port}", target="/graphql", subprotocols=[protocol]))
        )
        self._read_until(AcceptConnection)

    def init(self, token: str) -> dict[str, object]:
        """Send `connection_init` with the token; the server's answer."""
        payload = {"Authorization": f"Bearer {token}"}
        self.send_json({"type": "connection_init", "payload": payload})
        event = self._read_until(TextMessage)
        assert isinstance(event, TextMessage)
        return dict(json.loads(event.data))

    def send_json(self, message: object) -> None:
        self.sock.sendall(self.ws.send(Message(data=json.dumps(message))))

    def flood(self, messages: Iterable[object], batch: int = 200) -> Flood:
        """Send every message (in batches of frames), reading nothing; stops early when the
        server closes or resets the connection."""
        sent = 0
        frames: list[bytes] = []
        try:
            for message in messages:
                frames.append(self.ws.send(Message(data=json.dumps(message))))
                if len(frames) == batch:
                    self.sock.sendall(b"".join(frames))
                    sent += len(frames)
                    frames.clear()
            if frames:
                self.sock.sendall(b"".join(frames))
                sent += len(frames)
        except OSError as exc:
            return Flood(sent, type(exc).__name__)
        return Flood(sent, None)

    def read_close(self, timeout: float) -> CloseConnection | None:
        """Start reading at last: skip every message to the server's close frame (None when
        the connection ended without one, e.g. reset)."""
        self.sock.settimeout(timeout)
        try:
            event = self._read_until(CloseConnection)
        except (OSError, EOFError):
            return None
        assert isinstance(event, CloseConnection)
        return event

    def dropped(self, timeout: float) -> bool:
        """Whether the server ends the connection (end of stream or reset) within `timeout`
        seconds, rather than keeping it open. What it sent before (messages this client never
        read, still in the socket's buffers) is skipped: only the end counts."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                if self.sock.recv(65536) == b"":
                    return True
            except TimeoutError:
                return False
            except OSError:
                return True
        return False

    def close(self) -> None:
        self.sock.close()

    def _read_until(self, kind: type[Event]) -> Event:
        while True:
            for event in self.ws.events():
                if isinstance(event, RejectConnection):
                    raise AssertionError(f"handshake refused: {event.status_code}")
                if isinstance(event, kind):
                    return event
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the server closed the connection")
            self.ws.receive_data(data)
