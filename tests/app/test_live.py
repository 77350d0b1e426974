"""Live timelines over graphql-transport-ws, fanned out across processes by PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson
import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from app.settings import Settings
from db.listen import LiveFeed, SubscriberTooSlow
from tests.conftest import TestUser
from tests.support.server import RunningChronik, running_chronik
from tests.support.sync import linked_calendar
from tests.support.waiting import eventually
from tests.support.workers import WorkerProcess
from tests.support.ws import GraphQLSocket

TIMELINE = """
subscription($id: ID!) { contactTimeline(contactId: $id) {
  kind entry { occurredAt } meeting { title status } } }"""
SOON = datetime.now(UTC) + timedelta(days=2)


@pytest.fixture
async def api_only(settings: Settings) -> AsyncIterator[RunningChronik]:
    """An API process without a sync worker: syncing happens in another process."""
    async with running_chronik(settings.model_copy(update={"run_worker": False})) as server:
        yield server


def timeline_request(contact: str) -> object:
    request = gql(TIMELINE)
    request.variable_values = {"id": contact}
    return request


def gql_client(chronik: RunningChronik, token: str) -> Client:
    transport = WebsocketsTransport(
        url=chronik.url.replace("http", "ws") + "/graphql",
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    return Client(transport=transport)


async def first_updates_then_close(sockets: list[GraphQLSocket]) -> list[dict]:
    """Each socket's next `contactTimeline` update, in order; then the sockets are closed."""
    got = [
        (await asyncio.wait_for(socket.next(), 10))["payload"]["data"]["contactTimeline"]
        for socket in sockets
    ]
    for socket in sockets:
        await socket.close()
    return got


async def test_a_sandbox_change_reaches_a_subscriber_of_another_process(
    api_only: RunningChronik, alice: TestUser, db: asyncpg.Connection, tmp_path: Path
) -> None:
    worker = WorkerProcess(api_only.settings, tmp_path / "worker.log")
    try:
        cal = await linked_calendar(api_only, alice, db, "GOOGLE")  # synced by the worker
        carla = await cal.contact("carla@client.test")
        async with gql_client(api_only, alice.token) as session:
            updates = session.subscribe(timeline_request(carla))
            first = asyncio.ensure_future(updates.__anext__())
            await asyncio.sleep(0.3)  # subscribed before the change happens
            await cal.calendar.create(title="Live", start=SOON, guests=["carla@client.test"])
            update = (await asyncio.wait_for(first, 20))["contactTimeline"]
            await updates.aclose()
    finally:
        worker.terminate()
    assert update["kind"] == "ADDED"
    assert update["meeting"] == {"title": "Live", "status": "CONFIRMED"}
    assert "synced:" in (tmp_path / "worker.log").read_text()  # the other process did it


async def test_subscribing_to_another_accounts_contact_is_not_found(
    chronik: RunningChronik, alice: TestUser, bob: TestUser
) -> None:
    contact = (
        await chronik.graphql(
            'mutation { createContact(input: {email: "c@client.test"}) { id } }', token=alice.token
        )
    ).ok()["createContact"]["id"]
    async with gql_client(chronik, bob.token) as session:
        with pytest.raises(TransportQueryError) as refused:
            async for _ in session.subscribe(timeline_request(contact)):
                pass
    assert refused.value.errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_thousand_connect_disconnect_cycles_leave_nothing_behind(
    chronik: RunningChronik, alice: TestUser
) -> None:
    contact = (
        await chronik.graphql(
            'mutation { createContact(input: {email: "c@client.test"}) { id } }', token=alice.token
        )
    ).ok()["createContact"]["id"]
    feed = chronik.app.state.services.live

    async def cycle() -> None:
        socket = await GraphQLSocket.open(chronik.url, alice.token)
        await socket.subscribe(TIMELINE, {"id": contact})
        await eventually(lambda: feed.subscriber_count > 0)
        await socket.close()

    await cycle()
    await asyncio.sleep(0.2)
    baseline = len(asyncio.all_tasks())
    for _ in range(1000):
        await cycle()
    deadline = time.monotonic() + 10
    while feed.subscriber_count or len(asyncio.all_tasks()) > baseline:
        assert time.monotonic() < deadline, (
            feed.subscriber_count,
            len(asyncio.all_tasks()),
            baseline,
        )
        await asyncio.sleep(0.05)


async def test_lost_listen_connection_sends_resync_then_new_events(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "MICROSOFT")
    carla = await cal.contact("carla@client.test")
    socket = await GraphQLSocket.open(chronik.url, alice.token)
    await socket.subscribe(TIMELINE, {"id": carla})
    feed = chronik.app.state.services.live
    await eventually(lambda: feed.subscriber_count > 0)
    killed_pid = feed.backend_pid
    await db.execute("SELECT pg_terminate_backend($1)", killed_pid)
    resync = await asyncio.wait_for(socket.next(), 10)
    assert resync["payload"]["data"]["contactTimeline"]["kind"] == "RESYNC"
    assert feed.backend_pid != killed_pid and feed.reconnects == 1
    await cal.calendar.create(title="After reconnect", start=SOON, guests=["carla@client.test"])
    await cal.sync()
    update = await asyncio.wait_for(socket.next(), 10)
    assert update["payload"]["data"]["contactTimeline"]["meeting"]["title"] == "After reconnect"
    await socket.close()


async def test_a_stalled_subscriber_delays_nobody_and_is_closed(database_url: str) -> None:
    # The stalled subscriber overflows its queue; the healthy one, reading as events come,
    # never holds more than the handful a single burst can deliver.
    feed = LiveFeed(database_url, queue_size=128)
    await feed.start()
    notifier = await asyncpg.connect(database_url)
    try:
        async with (
            feed.subscribe(account_id=1, contact_id=7) as stalled,
            feed.subscribe(account_id=1, contact_id=7) as healthy,
        ):
            received: list[int] = []

            async def consume() -> None:
                async for event in healthy.events():
                    assert event.meeting_id is not None
                    received.append(event.meeting_id)
                    if len(received) == 400:
                        return

            consumer = asyncio.create_task(consume())
            for meeting_id in range(400):
                payload = orjson.dumps({"a": 1, "c": [[7, meeting_id, "a"]]}).decode()
                await notifier.execute("SELECT pg_notify('chronik_timeline', $1)", payload)
                if meeting_id % 50 == 49:
                    # A reader keeping up, on a machine busy enough that this process may not
                    # run for a while: what piles up in the socket meanwhile is dispatched in
                    # one go, so bursts stay well under the queue (the stalled one still takes
                    # 400 and overflows).
                    await eventually(lambda: len(received) == meeting_id + 1)  # noqa: B023
            await asyncio.wait_for(consumer, 10)
            assert received == list(range(400))  # all, in order, despite the stalled one
            with pytest.raises(SubscriberTooSlow):
                async for _ in stalled.events():
                    pass
        assert feed.subscriber_count == 0
    finally:
        await notifier.close()
        await feed.stop()


async def test_sync_progress_is_streamed_page_by_page(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, sandboxes: object
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    sandboxes.google.bulk_load(alice.email, 6000)  # type: ignore[attr-defined]
    await cal.calendar.expire_cursor()  # the next sync is a full round of three pages
    socket = await GraphQLSocket.open(chronik.url, alice.token)
    await socket.subscribe(
        "subscription { calendarSyncState { phase syncing eventsSeen lastSyncedAt } }", {}
    )
    first = (await asyncio.wait_for(socket.next(), 10))["payload"]["data"]["calendarSyncState"]
    assert first["phase"] == "INCREMENTAL"
    await cal.sync()
    seen: list[int] = []
    while True:
        state = (await asyncio.wait_for(socket.next(), 10))["payload"]["data"]["calendarSyncState"]
        seen.append(state["eventsSeen"])
        if not state["syncing"] and state["lastSyncedAt"] != first["lastSyncedAt"]:
            break
    await socket.close()
    assert seen[-1] == 6000
    assert len(set(seen)) >= 3  # progress arrived page by page, not only at the end
    assert seen == sorted(seen)


async def test_subscribers_of_one_contact_each_get_the_fields_they_asked_for(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    # One change is loaded and executed once per distinct subscription in the process; a
    # subscriber asking other fields must still get exactly its own.
    cal = await linked_calendar(chronik, alice, db, "MICROSOFT")
    carla = await cal.contact("carla@client.test")
    short = "subscription($id: ID!) { contactTimeline(contactId: $id) { kind meeting { title } } }"
    sockets = [await GraphQLSocket.open(chronik.url, alice.token) for _ in range(3)]
    await sockets[0].subscribe(TIMELINE, {"id": carla})
    await sockets[1].subscribe(TIMELINE, {"id": carla})
    await sockets[2].subscribe(short, {"id": carla})
    feed = chronik.app.state.services.live
    await eventually(lambda: feed.subscriber_count == 3)
    await cal.calendar.create(title="Shared", start=SOON, guests=["carla@client.test"])
    await cal.sync()
    got = await first_updates_then_close(sockets)
    assert got[0] == got[1]
    assert got[0]["kind"] == "ADDED" and got[0]["entry"]["occurredAt"]
    assert got[0]["meeting"] == {"title": "Shared", "status": "CONFIRMED"}
    assert got[2] == {"kind": "ADDED", "meeting": {"title": "Shared"}}


async def test_one_change_to_several_contacts_gives_each_subscriber_its_own_update(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    """One notification names every contact a change touched; what the process loads for
    it is shared, yet each subscriber gets its own contact's entry, and a contact taken off
    the meeting gets REMOVED while the others get UPDATED."""
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    emails = ["carla@client.test", "dan@client.test", "eve@client.test"]
    contacts = [await cal.contact(email) for email in emails]
    event_id = await cal.calendar.create(title="Board", start=SOON, guests=emails)
    await cal.sync()
    sockets = [await GraphQLSocket.open(chronik.url, alice.token) for _ in contacts]
    for socket, contact in zip(sockets, contacts, strict=True):
        await socket.subscribe(TIMELINE, {"id": contact})
    feed = chronik.app.state.services.live
    await eventually(lambda: feed.subscriber_count == 3)
    await cal.calendar.update(event_id, title="Board (moved)", guests=emails[:2])
    await cal.sync()
    got = await first_updates_then_close(sockets)
    assert [update["kind"] for update in got] == ["UPDATED", "UPDATED", "REMOVED"]
    assert [update["meeting"]["title"] for update in got] == ["Board (moved)"] * 3
    assert got[0]["entry"]["occurredAt"] and got[1]["entry"]["occurredAt"]
    assert got[2]["entry"] is None
