"""Append-only tables have a bounded life: rows past the retention go, batch by batch."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from app.settings import Settings
from sync.retention import prune_all
from tests.conftest import TestUser
from tests.support.server import running_chronik

KEEP = timedelta(days=30)


async def _log_changes(db: asyncpg.Connection, account_id: int, count: int, age: str) -> None:
    await db.execute(
        "INSERT INTO timeline_changes (account_id, contact_id, meeting_id, kind, changed_at) "
        "SELECT $1, n, n, 'added', now() - $3::text::interval FROM generate_series(1, $2) AS n",
        account_id,
        count,
        age,
    )


async def _schedule_request(db: asyncpg.Connection, user: TestUser, key: str, age: str) -> None:
    meeting = await db.fetchval(
        "INSERT INTO meetings (account_id, source, kind, status) "
        "VALUES ($1, 'crm', 'single', 'confirmed') RETURNING id",
        user.account_id,
    )
    await db.execute(
        "INSERT INTO schedule_requests (user_id, idempotency_key, meeting_id, created_at) "
        "VALUES ($1, $2, $3, now() - $4::text::interval)",
        user.user_id,
        key,
        meeting,
        age,
    )


async def test_rows_older_than_the_retention_are_pruned_in_batches(
    database_url: str, db: asyncpg.Connection, alice: TestUser
) -> None:
    await _log_changes(db, alice.account_id, 23, "40 days")
    await _log_changes(db, alice.account_id, 4, "1 day")
    await _schedule_request(db, alice, "old", "31 days")
    await _schedule_request(db, alice, "new", "1 hour")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        deleted = await prune_all(pool, KEEP, batch_rows=5)
    finally:
        await pool.close()
    assert deleted == {"timeline_changes": 23, "schedule_requests": 1}
    ages = await db.fetch("SELECT changed_at > now() - interval '2 days' FROM timeline_changes")
    assert [a[0] for a in ages] == [True] * 4
    kept = await db.fetch("SELECT idempotency_key FROM schedule_requests")
    assert [k[0] for k in kept] == ["new"]


async def test_the_sync_worker_prunes_with_the_retention_setting(
    settings: Settings, db: asyncpg.Connection, alice: TestUser
) -> None:
    await _log_changes(db, alice.account_id, 7, "3 days")
    await _log_changes(db, alice.account_id, 2, "1 hour")
    configured = settings.model_copy(update={"retention_days": 2.0})
    async with running_chronik(configured):
        for _ in range(500):
            if await db.fetchval("SELECT count(*) FROM timeline_changes") == 2:
                break
            await asyncio.sleep(0.02)
    assert await db.fetchval("SELECT count(*) FROM timeline_changes") == 2
