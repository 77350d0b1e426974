"""The graphql-transport-ws protocol as a client sees it on `/graphql` (app/live_socket.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import websockets

from app.settings import Settings
from tests.app.test_live import SOON
from tests.conftest import TestUser
from tests.security.test_limits import nested_contact_query
from tests.support.server import RunningChronik, running_chronik
from tests.support.sync import linked_calendar
from tests.support.waiting import eventually
from tests.support.ws import GraphQLSocket
from tests.support.ws_flood import NonReadingClient

TIMELINE = """
subscription($id: ID!) { contactTimeline(contactId: $id) {
  kind entry { occurredAt } meeting { title status } } }"""


def ws_url(chronik: RunningChronik) -> str:
    return chronik.url.replace("http", "ws") + "/graphql"


async def connect(chronik: RunningChronik, protocol: str = "graphql-transport-ws") -> Any:
    return await websockets.connect(ws_url(chronik), subprotocols=[protocol])  # type: ignore[list-item]


async def close_code(socket: Any) -> int:
    """Read until the server closes the socket; its close code."""
    try:
        while True:
            await asyncio.wait_for(socket.recv(), 10)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else -1


async def acknowledged(chronik: RunningChronik, token: str) -> Any:
    socket = await connect(chronik)
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await socket.send(json.dumps(init))
    assert json.loads(await socket.recv()) == {"type": "connection_ack"}
    return socket


async def new_contact(chronik: RunningChronik, token: str, email: str = "c@client.test") -> str:
    created = await chronik.graphql(
        "mutation($e: String!) { createContact(input: {email: $e}) { id } }",
        {"e": email},
        token=token,
    )
    return str(created.ok()["createContact"]["id"])


def subscribe(op_id: str, query: str, variables: dict[str, Any] | None = None) -> str:
    payload = {"query": query, "variables": variables or {}}
    return json.dumps({"id": op_id, "type": "subscribe", "payload": payload})


async def test_subscribing_before_the_ack_closes_4401(chronik: RunningChronik) -> None:
    socket = await connect(chronik)
    await socket.send(subscribe("1", "{ me { email } }"))
    assert await close_code(socket) == 4401


async def test_a_second_connection_init_closes_4429(
    chronik: RunningChronik, alice: TestUser
) -> None:
    socket = await acknowledged(chronik, alice.token)
    await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert await close_code(socket) == 4429


@pytest.mark.parametrize(
    "message",
    ["not json", b"\x00binary", json.dumps({"type": "nonsense"}), json.dumps({"id": "1"})],
    ids=["not-json", "binary", "unknown-type", "no-type"],
)
async def test_malformed_messages_close_4400(
    chronik: RunningChronik, alice: TestUser, message: str | bytes
) -> None:
    socket = await acknowledged(chronik, alice.token)
    await socket.send(message)
    assert await close_code(socket) == 4400


async def test_no_connection_init_in_time_closes_4408(chronik: RunningChronik) -> None:
    chronik.app.live_socket.init_timeout = 0.5  # type: ignore[attr-defined]
    socket = await connect(chronik)
    assert await close_code(socket) == 4408


async def test_ping_is_answered_with_pong(chronik: RunningChronik, alice: TestUser) -> None:
    socket = await acknowledged(chronik, alice.token)
    await socket.send(json.dumps({"type": "ping"}))
    assert json.loads(await socket.recv()) == {"type": "pong"}
    await socket.close()


async def test_a_duplicate_operation_id_closes_4409(
    chronik: RunningChronik, alice: TestUser
) -> None:
    contact = await new_contact(chronik, alice.token)
    socket = await acknowledged(chronik, alice.token)
    await socket.send(subscribe("same", TIMELINE, {"id": contact}))
    await socket.send(subscribe("same", TIMELINE, {"id": contact}))
    assert await close_code(socket) == 4409


async def test_an_unparsable_document_closes_4400(chronik: RunningChronik, alice: TestUser) -> None:
    socket = await acknowledged(chronik, alice.token)
    await socket.send(subscribe("1", "subscription { contactTimeline("))
    assert await close_code(socket) == 4400


async def test_invalid_and_too_deep_documents_answer_typed_errors(
    chronik: RunningChronik, alice: TestUser
) -> None:
    socket = await acknowledged(chronik, alice.token)
    await socket.send(subscribe("1", "subscription { noSuchField }"))
    invalid = json.loads(await socket.recv())
    deep = nested_contact_query(3)
    await socket.send(subscribe("2", deep))
    too_deep = json.loads(await socket.recv())
    await socket.close()
    assert invalid["type"] == "error" and invalid["id"] == "1"
    assert invalid["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert too_deep["type"] == "error" and too_deep["id"] == "2"
    assert too_deep["payload"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "depth" in too_deep["payload"][0]["message"]


async def test_hostile_argument_values_are_refused_over_the_socket_as_over_http(
    chronik: RunningChronik, alice: TestUser
) -> None:
    """A NUL in an id, a date out of range: VALIDATION naming the argument, as on POST."""
    socket = await acknowledged(chronik, alice.token)
    await socket.send(subscribe("1", TIMELINE, {"id": "Q29udGFjdDox\u0000"}))
    nul = json.loads(await socket.recv())
    query = "query($s: DateTime!, $e: DateTime!) { freeBusy(start: $s, end: $e) { start } }"
    await socket.send(
        subscribe("2", query, {"s": "0001-01-01T00:00:00+05:00", "e": "9999-12-31T00:00:00Z"})
    )
    out_of_range = json.loads(await socket.recv())
    await socket.close()
    assert nul["type"] == "error" and nul["id"] == "1"
    assert nul["payload"][0]["extensions"] == {"code": "VALIDATION", "field": "contactId"}
    assert out_of_range["type"] == "error" and out_of_range["id"] == "2"
    assert out_of_range["payload"][0]["extensions"]["code"] == "VALIDATION"
    assert out_of_range["payload"][0]["extensions"]["field"] == "start"


async def test_a_foreign_contact_answers_not_found_then_complete(
    chronik: RunningChronik, alice: TestUser, bob: TestUser
) -> None:
    contact = await new_contact(chronik, alice.token)
    socket = await acknowledged(chronik, bob.token)
    await socket.send(subscribe("1", TIMELINE, {"id": contact}))
    refused = json.loads(await socket.recv())
    complete = json.loads(await socket.recv())
    await socket.close()
    assert refused["type"] == "next" and refused["payload"]["data"] is None
    assert refused["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert complete == {"id": "1", "type": "complete"}


async def test_complete_ends_a_subscription_and_frees_its_id(
    chronik: RunningChronik, alice: TestUser
) -> None:
    contact = await new_contact(chronik, alice.token)
    feed = chronik.app.state.services.live
    socket = await acknowledged(chronik, alice.token)
    await socket.send(subscribe("1", TIMELINE, {"id": contact}))
    await eventually(lambda: feed.subscriber_count == 1)
    await socket.send(json.dumps({"id": "1", "type": "complete"}))
    await eventually(lambda: feed.subscriber_count == 0)
    await socket.send(subscribe("1", TIMELINE, {"id": contact}))  # the id is free again
    await eventually(lambda: feed.subscriber_count == 1)
    await socket.close()
    await eventually(lambda: feed.subscriber_count == 0)


async def test_every_subscriber_gets_the_change_under_its_own_operation_id(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test")
    feed = chronik.app.state.services.live
    first = await GraphQLSocket.open(chronik.url, alice.token)
    second = await GraphQLSocket.open(chronik.url, alice.token)
    await first.subscribe(TIMELINE, {"id": carla}, op_id="a")
    await second.subscribe(TIMELINE, {"id": carla}, op_id="b")
    await second.subscribe(TIMELINE, {"id": carla}, op_id="c")
    await eventually(lambda: feed.subscriber_count == 3)
    await cal.calendar.create(title="Shared", start=SOON, guests=["carla@client.test"])
    await cal.sync()
    got_first = await asyncio.wait_for(first.next(), 10)
    got_second = [await asyncio.wait_for(second.next(), 10) for _ in range(2)]
    await first.close()
    await second.close()
    assert got_first["id"] == "a"
    assert sorted(m["id"] for m in got_second) == ["b", "c"]
    for message in [got_first, *got_second]:
        assert message["type"] == "next"
        update = message["payload"]["data"]["contactTimeline"]
        assert update["kind"] == "ADDED" and update["meeting"]["title"] == "Shared"


async def test_queries_and_mutations_run_over_the_socket(
    chronik: RunningChronik, alice: TestUser
) -> None:
    socket = await acknowledged(chronik, alice.token)
    mutation = 'mutation { createContact(input: {email: "w@client.test"}) { email } }'
    await socket.send(subscribe("m", mutation))
    created = [json.loads(await socket.recv()) for _ in range(2)]
    await socket.close()
    assert created[0]["payload"] == {"data": {"createContact": {"email": "w@client.test"}}}
    assert created[1] == {"id": "m", "type": "complete"}


async def test_the_legacy_graphql_ws_protocol_is_still_served(
    chronik: RunningChronik, alice: TestUser
) -> None:
    contact = await new_contact(chronik, alice.token)
    feed = chronik.app.state.services.live
    socket = await connect(chronik, "graphql-ws")
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {alice.token}"}}
    await socket.send(json.dumps(init))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    start = {"query": TIMELINE, "variables": {"id": contact}}
    await socket.send(json.dumps({"id": "1", "type": "start", "payload": start}))
    await eventually(lambda: feed.subscriber_count == 1)
    await socket.close()
    await eventually(lambda: feed.subscriber_count == 0)


@pytest.fixture
async def bounded(settings: Settings) -> AsyncIterator[RunningChronik]:
    """Chronik with small websocket bounds: 3 operations per socket, 1 KiB of output waiting,
    3 s without the client reading, 0.5 s to send `connection_init`."""
    small = settings.model_copy(
        update={
            "ws_max_operations": 3,
            "ws_max_waiting_bytes": 1024,
            "ws_send_timeout_seconds": 3.0,
            "ws_init_timeout_seconds": 0.5,
        }
    )
    async with running_chronik(small) as server:
        yield server


async def non_reading_client(
    chronik: RunningChronik, token: str, protocol: str = "graphql-transport-ws"
) -> NonReadingClient:
    """A raw client, acknowledged (its blocking calls in a thread: the server runs on this
    loop)."""
    port = int(chronik.url.rsplit(":", 1)[1])
    client = await asyncio.to_thread(NonReadingClient, "127.0.0.1", port, protocol)
    assert await asyncio.to_thread(client.init, token) == {"type": "connection_ack"}
    return client


async def test_an_operation_past_the_limit_is_refused_and_the_others_go_on(
    bounded: RunningChronik, alice: TestUser
) -> None:
    contact = await new_contact(bounded, alice.token)
    feed = bounded.app.state.services.live
    socket = await acknowledged(bounded, alice.token)
    for op_id in "abc":
        await socket.send(subscribe(op_id, TIMELINE, {"id": contact}))
    await eventually(lambda: feed.subscriber_count == 3)
    await socket.send(subscribe("d", TIMELINE, {"id": contact}))
    refused = json.loads(await socket.recv())
    await socket.send(json.dumps({"id": "a", "type": "complete"}))
    await eventually(lambda: feed.subscriber_count == 2)
    await socket.send(subscribe("d", TIMELINE, {"id": contact}))  # room again
    await eventually(lambda: feed.subscriber_count == 3)
    await socket.close()
    assert refused["type"] == "error" and refused["id"] == "d"
    assert refused["payload"][0]["extensions"] == {"code": "TOO_MANY_OPERATIONS", "limit": 3}


INTROSPECTION = """{ __schema { types { name description
  fields { name description args { name description } type { name kind } } } } }"""


async def test_a_client_that_stops_reading_is_closed_4413_with_a_reason(
    settings: Settings, alice: TestUser, caplog: pytest.LogCaptureFixture
) -> None:
    bounds = {"ws_max_waiting_bytes": 1024, "ws_send_timeout_seconds": 5.0}
    async with running_chronik(settings.model_copy(update=bounds)) as chronik:
        client = await non_reading_client(chronik, alice.token)
        # Small to send, large to answer: the answers back up at once.
        ask = {"query": INTROSPECTION}
        queries = ({"id": str(i), "type": "subscribe", "payload": ask} for i in range(500))
        await asyncio.to_thread(client.flood, queries)
        await eventually(lambda: "client not reading" in caplog.text)
        closed = await asyncio.to_thread(client.read_close, 10)  # reading again, within 5 s
        client.close()
    assert closed is not None, "no close frame"
    assert closed.code == 4413
    assert closed.reason.startswith("Client not reading")


async def test_a_legacy_graphql_ws_socket_without_connection_init_closes_4408(
    bounded: RunningChronik,
) -> None:
    socket = await connect(bounded, "graphql-ws")
    assert await close_code(socket) == 4408


async def test_a_legacy_graphql_ws_operation_past_the_limit_is_refused(
    bounded: RunningChronik, alice: TestUser
) -> None:
    contact = await new_contact(bounded, alice.token)
    socket = await connect(bounded, "graphql-ws")
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {alice.token}"}}
    await socket.send(json.dumps(init))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    start = {"query": TIMELINE, "variables": {"id": contact}}
    for op_id in "abcd":
        await socket.send(json.dumps({"id": op_id, "type": "start", "payload": start}))
    while (refused := json.loads(await socket.recv()))["type"] == "ka":
        pass
    await socket.close()
    assert refused["type"] == "error" and refused["id"] == "d"
    assert refused["payload"]["extensions"] == {"code": "TOO_MANY_OPERATIONS", "limit": 3}
