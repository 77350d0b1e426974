"""Authentication: a valid API token on HTTP and on websockets, nothing without one."""

from __future__ import annotations

import json

import pytest
import websockets

from tests.conftest import TestUser
from tests.support.server import RunningChronik


async def test_token_answers_me(chronik: RunningChronik, alice: TestUser) -> None:
    result = await chronik.graphql(
        "{ me { email isAdmin account { name domains } } }", token=alice.token
    )
    assert result.ok()["me"] == {
        "email": "alice@acme.test",
        "isAdmin": True,
        "account": {"name": "Acme", "domains": ["acme.test"]},
    }


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer"])
async def test_missing_or_invalid_token_is_unauthenticated(
    chronik: RunningChronik, alice: TestUser, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = await chronik.http.post(
        f"{chronik.url}/graphql",
        json={"query": "{ me { email } contacts { edges { cursor } } }"},
        headers=headers,
    )
    body = response.json()
    assert body["data"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHENTICATED"}


async def test_revoked_token_stops_working(chronik: RunningChronik, alice: TestUser, db) -> None:
    assert (await chronik.graphql("{ me { email } }", token=alice.token)).ok()
    await db.execute("UPDATE api_tokens SET revoked_at = now()")
    result = await chronik.graphql("{ me { email } }", token=alice.token)
    assert result.error_codes == ["UNAUTHENTICATED"]


async def test_tokens_are_stored_hashed(alice: TestUser, db) -> None:
    stored = await db.fetchval("SELECT token_hash FROM api_tokens")
    assert alice.token.encode() not in stored
    dump = str([dict(r) for r in await db.fetch("SELECT * FROM api_tokens")])
    assert alice.token not in dump


async def _ws_query(chronik: RunningChronik, payload: dict) -> list[dict] | int:
    """Run `{ me { email } }` over graphql-transport-ws; the messages, or the close code."""
    url = chronik.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            ack = json.loads(await ws.recv())
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else -1
        assert ack["type"] == "connection_ack"
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ me { email } }"}})
        )
        messages = [json.loads(await ws.recv()), json.loads(await ws.recv())]
        return messages


async def test_websocket_authenticates_from_connection_init(
    chronik: RunningChronik, alice: TestUser
) -> None:
    messages = await _ws_query(chronik, {"Authorization": f"Bearer {alice.token}"})
    assert isinstance(messages, list)
    assert messages[0]["payload"]["data"] == {"me": {"email": "alice@acme.test"}}
    assert messages[1]["type"] == "complete"


async def test_websocket_without_valid_token_is_refused(
    chronik: RunningChronik, alice: TestUser
) -> None:
    assert await _ws_query(chronik, {}) == 4403
    assert await _ws_query(chronik, {"Authorization": "Bearer wrong"}) == 4403


async def test_several_top_level_fields_share_one_authentication(
    chronik: RunningChronik, alice: TestUser
) -> None:
    result = await chronik.graphql(
        "{ a: me { email } b: me { email } account { name } contacts { edges { cursor } } }",
        token=alice.token,
    )
    data = result.ok()
    assert data["a"] == data["b"] == {"email": "alice@acme.test"}
    assert data["account"] == {"name": "Acme"}
