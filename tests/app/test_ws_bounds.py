"""One websocket cannot grow the server's memory: 60,000 operations sent over one socket, by a
client that reads and by ones that never do (either protocol), measured on a `chronik serve`
process's RSS.

Before the bounds, 20,000 subscriptions on one socket grew the server by ~90 MiB (lean
endpoint) and it did not come back after the client left.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from app.settings import Settings
from tests.conftest import TestUser
from tests.support.serve_process import ServedChronik, served_chronik
from tests.support.ws_flood import NonReadingClient

OPERATIONS = 60_000
MAX_OPERATIONS = 100
# What the server may grow by while one socket sends 60,000 operations: the 100 it runs and
# what waits to be sent (1 MiB at most), with room for the allocator's slack.
RSS_GROWTH_BOUND = 30 * 1024 * 1024
SEND_TIMEOUT = 2.0

TIMELINE = """subscription($id: ID!) { contactTimeline(contactId: $id) {
  kind meeting { title } } }"""


def subscriptions(contact: str, kind: str = "subscribe") -> Any:
    """60,000 subscriptions to the contact's timeline: `subscribe` (graphql-transport-ws) or
    `start` (legacy graphql-ws) messages."""
    payload = {"query": TIMELINE, "variables": {"id": contact}}
    return ({"id": str(i), "type": kind, "payload": payload} for i in range(OPERATIONS))


async def live_subscriptions(http: httpx.AsyncClient, server: ServedChronik) -> int:
    metrics = (await http.get(f"{server.url}/metrics")).text
    found = re.search(r"^chronik_live_subscriptions (\S+)$", metrics, re.MULTILINE)
    assert found, "no live subscriptions gauge"
    return int(float(found.group(1)))


async def no_subscriptions_left(http: httpx.AsyncClient, server: ServedChronik) -> None:
    deadline = time.monotonic() + 15
    while await live_subscriptions(http, server):
        assert time.monotonic() < deadline, "subscriptions still running"
        await asyncio.sleep(0.1)


async def peak_rss_while(server: ServedChronik, work: asyncio.Future[Any]) -> int:
    peak = server.rss_bytes()
    while not work.done():
        peak = max(peak, server.rss_bytes())
        await asyncio.sleep(0.05)
    return max(peak, server.rss_bytes())


async def test_sixty_thousand_operations_on_one_socket_keep_the_server_bounded(
    settings: Settings, alice: TestUser, tmp_path: Path
) -> None:
    env = {
        "CHRONIK_WS_MAX_OPERATIONS": str(MAX_OPERATIONS),
        "CHRONIK_WS_SEND_TIMEOUT_SECONDS": str(SEND_TIMEOUT),
    }
    async with (
        served_chronik(settings, tmp_path / "serve.log", **env) as server,
        httpx.AsyncClient(headers={"Authorization": f"Bearer {alice.token}"}) as http,
    ):
        created = await http.post(
            f"{server.url}/graphql",
            json={"query": 'mutation { createContact(input: {email: "c@client.test"}) { id } }'},
        )
        contact = created.json()["data"]["createContact"]["id"]
        ws_url = server.url.replace("http", "ws") + "/graphql"
        before = server.rss_bytes()

        # A client that reads: 100 subscriptions run, the other 59,900 are refused.
        socket = await websockets.connect(ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {alice.token}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"

        async def send_all() -> None:
            for message in subscriptions(contact):
                await socket.send(json.dumps(message))

        async def read_refusals() -> list[dict[str, Any]]:
            refused = []
            while len(refused) < OPERATIONS - MAX_OPERATIONS:
                message = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if message["type"] == "error":
                    refused.append(message)
            return refused

        reading = asyncio.gather(send_all(), read_refusals())
        reading_peak = await peak_rss_while(server, reading)
        _, refused = reading.result()
        assert await live_subscriptions(http, server) == MAX_OPERATIONS
        await socket.close()
        await no_subscriptions_left(http, server)
        assert {m["payload"][0]["extensions"]["code"] for m in refused} == {"TOO_MANY_OPERATIONS"}

        # A client that never reads, of either protocol: cut off, its subscriptions end.
        floods = {}
        for protocol, kind in [("graphql-transport-ws", "subscribe"), ("graphql-ws", "start")]:
            client = NonReadingClient("127.0.0.1", server.port, protocol)
            assert client.init(alice.token) == {"type": "connection_ack"}
            flooding = asyncio.ensure_future(
                asyncio.to_thread(client.flood, subscriptions(contact, kind))
            )
            peak = await peak_rss_while(server, flooding)
            closed = await asyncio.to_thread(client.read_close, 10)
            dropped = await asyncio.to_thread(client.dropped, 30)
            client.close()
            await no_subscriptions_left(http, server)
            floods[protocol] = (flooding.result(), peak, closed, dropped)
        after = server.rss_bytes()

    print(f"\nRSS before {before / 2**20:.1f} MiB; peak while a reading client sent {OPERATIONS}")
    print(f"  operations: +{(reading_peak - before) / 2**20:.1f} MiB")
    for protocol, (flood, peak, _, _) in floods.items():
        print(
            f"  while a non-reading {protocol} client sent {flood.sent} of them: "
            f"+{(peak - before) / 2**20:.1f} MiB (stopped by {flood.stopped_by})"
        )
    print(f"  after: +{(after - before) / 2**20:.1f} MiB")
    assert reading_peak - before < RSS_GROWTH_BOUND
    for flood, peak, closed, dropped in floods.values():
        assert peak - before < RSS_GROWTH_BOUND
        # Cut off by the server: it stopped reading, then dropped the connection. On a busy
        # machine the whole flood can fit in the socket buffers before the server gives up on
        # the client; then it is dropped after it (never left open).
        assert flood.stopped_by in ("ConnectionResetError", "BrokenPipeError", None)
        assert flood.stopped_by is not None or flood.sent == OPERATIONS
        assert dropped
        assert closed is None  # no close frame: it could not go out
