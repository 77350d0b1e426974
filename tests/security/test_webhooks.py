"""Push notifications are hints, never work: replays and floods only queue one sync.

Forged channel tokens and clientState values are covered in tests/sync/test_engine.py; here a
genuine notification is replayed and flooded at a Chronik that runs no worker, and then one
worker shows how much work was actually queued; and at one whose worker is syncing, where
the flood collapses into one follow-up run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.settings import Settings
from tests.conftest import TestUser
from tests.support.linking import sandbox_control
from tests.support.server import RunningChronik, running_chronik
from tests.support.sync import linked_calendar

SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)

# Counts sync runs: a run starts when a worker leases the connection.
COUNT_RUNS = """
CREATE TABLE test_sync_runs (connection_id bigint);
CREATE FUNCTION test_count_sync_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO test_sync_runs (connection_id) VALUES (NEW.id); RETURN NEW; END $$;
CREATE TRIGGER test_count_sync_run AFTER UPDATE OF lease_owner ON calendar_connections
FOR EACH ROW WHEN (OLD.lease_owner IS NULL AND NEW.lease_owner IS NOT NULL)
EXECUTE FUNCTION test_count_sync_run();
"""


@pytest.fixture
async def sync_runs(db: asyncpg.Connection) -> AsyncIterator[None]:
    await db.execute(COUNT_RUNS)
    yield


@pytest.fixture(params=["GOOGLE", "MICROSOFT"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def runs(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM test_sync_runs"))


async def genuine_notification(
    chronik: RunningChronik, db: asyncpg.Connection, provider: str, calendar: str
) -> dict[str, Any]:
    """The push notification of the linked calendar, as the provider would send it: the
    channel (subscription) and its secret token (clientState) as the sandbox holds them."""
    channel = await db.fetchval("SELECT push_channel_id FROM calendar_connections")
    if provider == "GOOGLE":
        listed = await sandbox_control(chronik, provider, "GET", "channels")
        token = next(c["token"] for c in listed["channels"] if c["id"] == channel)
        headers = {
            "X-Goog-Channel-ID": channel,
            "X-Goog-Channel-Token": token,
            "X-Goog-Resource-State": "exists",
            "X-Goog-Message-Number": "7",
        }
        return {"url": "/webhooks/google", "headers": headers}
    listed = await sandbox_control(chronik, provider, "GET", "subscriptions")
    state = next(s["clientState"] for s in listed["value"] if s["id"] == channel)
    notification = {
        "subscriptionId": channel,
        "clientState": state,
        "changeType": "updated",
        "resource": f"Users/{calendar}/Events/AAMk1",
    }
    return {"url": "/webhooks/microsoft", "json": {"value": [notification]}}


async def linked_then_stopped(
    settings: Settings, alice: TestUser, db: asyncpg.Connection, provider: str
) -> dict[str, Any]:
    """Link alice's calendar (first sync done) on a Chronik that is then shut down; the
    genuine push notification for it."""
    async with running_chronik(settings) as chronik:
        await linked_calendar(chronik, alice, db, provider)
        return await genuine_notification(chronik, db, provider, alice.email)


async def send(api: RunningChronik, notification: dict[str, Any], times: int) -> list[int]:
    """POST the notification `times` times, 50 at once; the status codes."""
    limit = asyncio.Semaphore(50)

    async def one(client: httpx.AsyncClient) -> int:
        async with limit:
            url = api.url + notification["url"]
            extra = {k: v for k, v in notification.items() if k != "url"}
            return (await client.post(url, **extra)).status_code

    async with httpx.AsyncClient(timeout=30) as client:
        return list(await asyncio.gather(*(one(client) for _ in range(times))))


async def run_one_worker(settings: Settings, db: asyncpg.Connection) -> None:
    """Start a Chronik with its worker until nothing is requested or leased any more."""
    async with running_chronik(settings):
        deadline = time.monotonic() + 30
        while True:
            busy = await db.fetchval(
                "SELECT sync_requested_at IS NOT NULL OR lease_owner IS NOT NULL"
                " FROM calendar_connections"
            )
            if not busy:
                return
            assert time.monotonic() < deadline, "the queued sync did not run"
            await asyncio.sleep(0.02)


async def test_a_replayed_notification_queues_one_sync(
    settings: Settings, alice: TestUser, db: asyncpg.Connection, provider: str, sync_runs: None
) -> None:
    notification = await linked_then_stopped(settings, alice, db, provider)
    before = await runs(db)
    api_only = settings.model_copy(update={"run_worker": False})
    async with running_chronik(api_only) as api:
        first = await send(api, notification, 1)
        requested = await db.fetchval("SELECT sync_requested_at FROM calendar_connections")
        replays = await send(api, notification, 99)
        # Every replay is accepted (the provider must not retry) and changes nothing queued.
        assert set(first + replays) == {200 if provider == "GOOGLE" else 202}
        assert await db.fetchval("SELECT sync_requested_at FROM calendar_connections") == requested
        assert requested is not None
    assert await runs(db) == before  # nothing synced inline

    await run_one_worker(settings, db)
    assert await runs(db) == before + 1


async def test_a_notification_flood_is_queued_not_worked(
    settings: Settings, alice: TestUser, db: asyncpg.Connection, sync_runs: None
) -> None:
    notification = await linked_then_stopped(settings, alice, db, "MICROSOFT")
    before = await runs(db)
    api_only = settings.model_copy(update={"run_worker": False})
    async with running_chronik(api_only) as api:
        started = time.monotonic()
        statuses = await send(api, notification, 1000)
        elapsed = time.monotonic() - started
        assert statuses == [202] * 1000
        # Still answering everything else at once.
        assert (await api.http.get(f"{api.url}/healthz")).status_code == 200
    print(f"\n1000 notifications answered in {elapsed:.2f} s")
    assert await runs(db) == before  # the flood did no sync work inline

    await run_one_worker(settings, db)
    assert await runs(db) == before + 1  # a thousand hints, one sync


async def test_pushes_during_a_sync_collapse_into_one_follow_up_run(
    settings: Settings, alice: TestUser, db: asyncpg.Connection, provider: str, sync_runs: None
) -> None:
    """2,000 genuine notifications at a Chronik whose worker is running: the first starts a
    sync, all others arrive while it is queued or running and make one follow-up run, which
    still reads the change the user made halfway through."""
    # How long the burst takes depends on the machine; pushes that keep coming past the
    # longest wait (30 s by default) would rightly get a run of their own.
    patient = settings.model_copy(update={"sync_push_max_wait_seconds": 120.0})
    async with running_chronik(patient) as chronik:
        cal = await linked_calendar(chronik, alice, db, provider)
        carla = await cal.contact("carla@client.test")
        notification = await genuine_notification(chronik, db, provider, alice.email)
        before = await runs(db)
        started = time.monotonic()
        statuses = await send(chronik, notification, 1000)
        # The user changes the calendar mid-burst (the sandbox pushes that change too).
        await cal.calendar.create(title="Mid-burst", start=SOON, guests=["carla@client.test"])
        statuses += await send(chronik, notification, 1000)
        burst = time.monotonic() - started
        assert set(statuses) == {200 if provider == "GOOGLE" else 202}
        # The follow-up run reads the change: nothing requested was lost.
        deadline = time.monotonic() + 30
        while await cal.titles(carla) != ["Mid-burst"]:
            assert time.monotonic() < deadline, "the change made mid-burst never arrived"
            await asyncio.sleep(0.05)
        arrived = time.monotonic() - started
        await cal.wait_synced(after=None)
        synced = await runs(db) - before
    print(
        f"\n{provider}: 2000 genuine pushes in {burst:.2f} s -> {synced} sync runs; "
        f"the mid-burst change arrived {arrived:.2f} s after the first push"
    )
    assert 1 <= synced <= 2
