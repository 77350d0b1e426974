"""Workers as separate processes: crash safety and many workers over many connections."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from app.settings import Settings
from sync.sandbox.runner import RunningSandboxes
from tests.conftest import TestUser, make_user
from tests.support.linking import link_calendar
from tests.support.server import RunningChronik, running_chronik
from tests.support.workers import WorkerProcess, add_bulk_contacts, timelines_of

EVENTS = 12_000  # five pages of 2,500 on Google


@pytest.fixture
async def chronik_api(settings: Settings) -> AsyncIterator[RunningChronik]:
    """Chronik serving the API only: syncing is left to `chronik worker` processes."""
    quiet = settings.model_copy(update={"run_worker": False, "sync_lease_seconds": 2.0})
    async with running_chronik(quiet) as server:
        yield server


async def _wait(db: asyncpg.Connection, query: str, *args: object, within: float) -> None:
    deadline = time.monotonic() + within
    while not await db.fetchval(query, *args):
        assert time.monotonic() < deadline, f"timed out waiting for: {query}"
        await asyncio.sleep(0.02)


SYNCED = (
    "SELECT last_synced_at IS NOT NULL AND sync_phase = 'incremental' "
    "FROM calendar_connections WHERE user_id = $1"
)


async def test_worker_killed_mid_initial_sync_ends_like_an_uninterrupted_run(
    chronik_api: RunningChronik,
    sandboxes: RunningSandboxes,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    settings = chronik_api.settings
    reference = await make_user(db, "Reference", "ref@ref.test")
    crashed = await make_user(db, "Crashed", "crash@crash.test")
    for user in (reference, crashed):
        await link_calendar(chronik_api, user.token, "GOOGLE", user.email)
        sandboxes.google.bulk_load(user.email, EVENTS)
        await add_bulk_contacts(db, user.account_id, 1000)

    # The reference: one worker, left alone, until the calendar is caught up.
    await db.execute(
        "UPDATE calendar_connections SET next_attempt_at = 'infinity' WHERE user_id = $1",
        crashed.user_id,
    )
    worker = WorkerProcess(settings, tmp_path / "reference.log")
    await _wait(db, SYNCED, reference.user_id, within=120)
    worker.terminate()

    # The crashed one: SIGKILLed three times at random moments of its first pages.
    await db.execute("UPDATE calendar_connections SET next_attempt_at = NULL")
    rng = random.Random(20261125)
    kills = 0
    for attempt in range(3):
        worker = WorkerProcess(settings, tmp_path / f"crash{attempt}.log")
        await _wait(
            db,
            "SELECT events_seen > $2 FROM calendar_connections WHERE user_id = $1",
            crashed.user_id,
            2500 * attempt,
            within=60,
        )
        await asyncio.sleep(rng.uniform(0.0, 0.3))
        if await db.fetchval(SYNCED, crashed.user_id):
            worker.terminate()
            break
        worker.kill()
        kills += 1
    assert kills >= 1, "the sync finished before any kill: make the calendar bigger"
    worker = WorkerProcess(settings, tmp_path / "final.log")  # restarted after the crashes
    await _wait(db, SYNCED, crashed.user_id, within=120)
    worker.terminate()

    expected = await timelines_of(db, reference.account_id)
    assert len(expected) > 1000
    assert await timelines_of(db, crashed.account_id) == expected
    duplicates = (
        "SELECT count(*) - count(DISTINCT (connection_id, provider_event_id)) FROM meetings"
    )
    assert await db.fetchval(duplicates) == 0


async def test_three_workers_twenty_connections_no_duplicates_no_overlap(
    chronik_api: RunningChronik,
    sandboxes: RunningSandboxes,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    settings = chronik_api.settings
    users: list[TestUser] = []
    for n in range(20):
        user = await make_user(db, "Fleet", f"user{n}@fleet.test")
        if n == 0:
            (
                await chronik_api.graphql(
                    "mutation { installCalendarIntegration(provider: GOOGLE) { id } }",
                    token=user.token,
                )
            ).ok()
        await link_calendar(chronik_api, user.token, "GOOGLE", user.email, install=False)
        sandboxes.google.bulk_load(user.email, 300)
        users.append(user)
    await add_bulk_contacts(db, users[0].account_id, 2000)

    workers = [WorkerProcess(settings, tmp_path / f"worker{i}.log") for i in range(3)]
    try:
        everyone_synced = (
            "SELECT bool_and(last_synced_at IS NOT NULL AND sync_phase = "
            "'incremental') FROM calendar_connections"
        )
        await _wait(db, everyone_synced, within=120)
        # Changes keep coming while the workers run; pushes and requests race each other.
        for round_ in range(5):
            for user in users[round_::5]:
                sandboxes.google.bulk_load(user.email, 20)
            await db.execute("UPDATE calendar_connections SET sync_requested_at = now()")
            await db.execute("SELECT pg_notify('chronik_sync', 'all')")
            await asyncio.sleep(0.2)
        await _wait(
            db,
            "SELECT bool_and(sync_requested_at IS NULL AND lease_owner IS NULL) "
            "FROM calendar_connections",
            within=120,
        )
        await db.execute("UPDATE calendar_connections SET sync_requested_at = now()")
        await db.execute("SELECT pg_notify('chronik_sync', 'all')")
        await _wait(
            db,
            "SELECT bool_and(sync_requested_at IS NULL AND lease_owner IS NULL) "
            "FROM calendar_connections",
            within=120,
        )
    finally:
        for worker in workers:
            worker.terminate()

    # Every sandbox event with a contact guest is exactly one meeting of its connection.
    per_connection = await db.fetch(
        "SELECT connection_id, count(*) AS n, count(DISTINCT provider_event_id) AS distinct_n "
        "FROM meetings GROUP BY 1"
    )
    assert len(per_connection) == 20
    assert all(r["n"] == r["distinct_n"] for r in per_connection)
    duplicates = """SELECT count(*) FROM (SELECT contact_id, meeting_id FROM timeline_entries
                    GROUP BY 1, 2 HAVING count(*) > 1) d"""
    assert await db.fetchval(duplicates) == 0
    logs = "".join((tmp_path / f"worker{i}.log").read_text() for i in range(3))
    assert "deadlock" not in logs.lower()
    assert "no longer leased" not in logs  # no worker ever found another in its connection
    assert "Traceback" not in logs
    # The work was shared: more than one worker synced connections.
    assert sum(1 for i in range(3) if "synced:" in (tmp_path / f"worker{i}.log").read_text()) > 1
