"""Graceful shutdown: SIGTERM leaves no lease behind and tells live subscribers why."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import websockets

from app.settings import Settings
from sandboxes.faults import Fault, FaultKind
from tests.conftest import TestUser
from tests.support.linking import link_calendar
from tests.support.sandboxes import Sandboxes
from tests.support.server import RunningChronik, free_port, running_chronik
from tests.support.workers import WorkerProcess, add_bulk_contacts, chronik_env


@pytest.fixture
async def api_only(settings: Settings) -> AsyncIterator[RunningChronik]:
    async with running_chronik(settings.model_copy(update={"run_worker": False})) as server:
        yield server


async def test_sigterm_during_a_sync_releases_the_lease_at_once(
    api_only: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
    tmp_path: Path,
) -> None:
    await link_calendar(api_only, alice.token, "GOOGLE", alice.email)
    await add_bulk_contacts(db, alice.account_id, 5000)
    sandboxes.google.bulk_load(alice.email, 30_000)
    # Each page of the listing takes a second, so the sync outlasts the worker's 5 s grace
    # however fast the machine writes: SIGTERM has to stop it mid-sync.
    sandboxes.google.faults.add(
        Fault(FaultKind.LATENCY, delay_s=1.0, path_contains="/events", method="GET")
    )
    # A long lease: if SIGTERM did not release it, nobody could take over for a minute.
    slow_takeover = api_only.settings.model_copy(update={"sync_lease_seconds": 60.0})
    worker = WorkerProcess(slow_takeover, tmp_path / "first.log")
    in_flight = "SELECT lease_owner IS NOT NULL AND events_seen > 0 FROM calendar_connections"
    deadline = time.monotonic() + 60
    while not await db.fetchval(in_flight):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    worker.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.process.wait, 30) == 0
    assert await db.fetchval("SELECT lease_owner FROM calendar_connections") is None
    seen_at_stop = await db.fetchval("SELECT events_seen FROM calendar_connections")

    sandboxes.google.faults.clear()
    successor = WorkerProcess(slow_takeover, tmp_path / "second.log")
    try:
        deadline = time.monotonic() + 10  # far less than the lease: it was released
        while await db.fetchval("SELECT lease_owner FROM calendar_connections") is None:
            assert time.monotonic() < deadline, "the connection was not taken over at once"
            await asyncio.sleep(0.02)
        done = "SELECT sync_phase = 'incremental' AND lease_owner IS NULL FROM calendar_connections"
        deadline = time.monotonic() + 120
        while not await db.fetchval(done):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        successor.terminate()
    assert seen_at_stop < 30_000  # it really was stopped mid-sync
    assert await db.fetchval("SELECT count(*) FROM meetings") == 30_000


async def test_sigterm_closes_subscriptions_with_a_reason(
    settings: Settings, alice: TestUser, tmp_path: Path
) -> None:
    port = free_port()
    served = settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    env = chronik_env(served)
    log = (tmp_path / "serve.log").open("w")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        env=env,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:

            async def ready() -> bool:
                try:
                    return (await http.get(f"{url}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            deadline = time.monotonic() + 60
            while not await ready():
                assert time.monotonic() < deadline and process.returncode is None
                await asyncio.sleep(0.1)
        socket = await websockets.connect(
            url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
        )
        await socket.send(
            '{"type": "connection_init", "payload": {"Authorization": "Bearer '
            + alice.token
            + '"}}'
        )
        assert "connection_ack" in await socket.recv()
        await socket.send(
            '{"id": "1", "type": "subscribe", "payload": {"query": '
            '"subscription { calendarSyncState { phase } }"}}'
        )
        process.send_signal(signal.SIGTERM)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(socket.recv(), 30)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code in (1001, 1012)  # going away / service restart
        # uvicorn re-raises SIGTERM after its graceful shutdown, so the exit status says so.
        assert await asyncio.wait_for(process.wait(), 30) in (0, -signal.SIGTERM)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
    assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()
