"""Revoking an API token ends the websockets it opened, not only what it can start.

A live timeline subscribed with a token would otherwise keep delivering the account's meetings
to whoever holds the token after an operator revoked it (`chronik token revoke`), or after the
user was deleted, for as long as the socket stays open.
"""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from db import tokens, users
from db.listen import LiveFeed
from tests.app.test_live_socket import TIMELINE, close_code, connect, new_contact
from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.waiting import eventually

START = {"graphql-transport-ws": "subscribe", "graphql-ws": "start"}


async def subscribed(chronik: RunningChronik, protocol: str, token: str, contact: str) -> object:
    """A socket of `protocol`, acknowledged for `token`, following `contact`'s timeline."""
    socket = await connect(chronik, protocol)
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await socket.send(json.dumps(init))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    payload = {"query": TIMELINE, "variables": {"id": contact}}
    await socket.send(json.dumps({"id": "1", "type": START[protocol], "payload": payload}))
    return socket


async def token_id(db: asyncpg.Connection, token: str) -> int:
    found = await db.fetchval(
        "SELECT id FROM api_tokens WHERE token_hash = $1", users.hash_token(token)
    )
    assert isinstance(found, int)
    return found


async def still_open(socket: object) -> bool:
    """Whether a graphql-transport-ws socket still answers a ping."""
    await socket.send(json.dumps({"type": "ping"}))  # type: ignore[attr-defined]
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))  # type: ignore[attr-defined]
        if message["type"] == "pong":
            return True


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_revoking_a_token_closes_the_sockets_it_opened_and_no_other(
    chronik: RunningChronik, alice: TestUser, bob: TestUser, db: asyncpg.Connection, protocol: str
) -> None:
    contact = await new_contact(chronik, alice.token)
    second_token = await users.create_api_token(db, alice.user_id, "laptop")
    feed = chronik.app.state.services.live
    revoked = await subscribed(chronik, protocol, alice.token, contact)
    kept = await subscribed(chronik, "graphql-transport-ws", second_token, contact)
    others = await subscribed(
        chronik, "graphql-transport-ws", bob.token, await new_contact(chronik, bob.token)
    )
    await eventually(lambda: feed.subscriber_count == 3)

    assert await tokens.revoke_token(db, await token_id(db, alice.token))

    assert await close_code(revoked) == 4403
    await eventually(lambda: feed.subscriber_count == 2)
    assert await still_open(kept) and await still_open(others)
    for socket in (kept, others):
        await socket.close()  # type: ignore[attr-defined]


async def test_deleting_a_user_closes_their_sockets(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    contact = await new_contact(chronik, alice.token)
    socket = await subscribed(chronik, "graphql-transport-ws", alice.token, contact)
    await eventually(lambda: chronik.app.state.services.live.subscriber_count == 1)

    assert await users.delete_user(db, alice.user_id)

    assert await close_code(socket) == 4403


async def test_a_token_revoked_while_the_feed_reconnects_is_still_noticed(
    database_url: str, alice: TestUser, db: asyncpg.Connection
) -> None:
    # The notification is sent while nobody listens, so it is lost: the feed asks which of
    # its tokens still work once it is back.
    feed = LiveFeed(database_url, reconnect_delay=1.0)
    await feed.start()
    ended = asyncio.Event()
    unwatch = feed.watch_token(await token_id(db, alice.token), ended.set)
    try:
        pid = feed.backend_pid
        await db.execute("SELECT pg_terminate_backend($1)", pid)
        await eventually(lambda: feed.backend_pid is None)
        assert await tokens.revoke_token(db, await token_id(db, alice.token))
        await asyncio.wait_for(ended.wait(), 10)
        assert feed.reconnects == 1
    finally:
        unwatch()
        await feed.stop()
