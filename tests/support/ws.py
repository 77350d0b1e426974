"""A minimal graphql-transport-ws client for tests that need raw control of the socket."""

from __future__ import annotations

import json
from typing import Any

import websockets


class GraphQLSocket:
    def __init__(self, socket: Any) -> None:
        self.socket = socket

    @classmethod
    async def open(cls, url: str, token: str) -> GraphQLSocket:
        socket = await websockets.connect(
            url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
        )
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await socket.recv())
        assert ack["type"] == "connection_ack", ack
        return cls(socket)

    async def subscribe(self, query: str, variables: dict[str, Any], op_id: str = "1") -> None:
        await self.socket.send(
            json.dumps(
                {
                    "id": op_id,
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
            )
        )

    async def next(self) -> dict[str, Any]:
        """The next message that is not a ping/pong."""
        while True:
            message = json.loads(await self.socket.recv())
            if message["type"] in ("ping", "pong"):
                continue
            return dict(message)

    async def close(self) -> None:
        await self.socket.close()
