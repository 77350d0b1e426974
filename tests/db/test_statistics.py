"""Tables a sync grows are analyzed once they changed by half: the planner sees their size.

Without it, during a day of first syncs the planner believed `meetings` held the handful of
rows of its last ANALYZE, and joined it by a sequential scan for every timeline entry: a
contact's timeline took seconds instead of milliseconds (bench/big_account.py).
"""

from __future__ import annotations

import asyncio

import asyncpg

from db.statistics import analyze_grown_tables
from tests.conftest import TestUser


async def _analyzed_only_by_us(db: asyncpg.Connection) -> None:
    """Autovacuum would analyze the table on its own schedule and take the test's place."""
    await db.execute("ALTER TABLE meetings SET (autovacuum_enabled = false)")
    await db.execute("ANALYZE meetings")


async def _planned_rows(db: asyncpg.Connection, table: str) -> float:
    return float(await db.fetchval("SELECT reltuples FROM pg_class WHERE relname = $1", table))


async def _grown(pool: asyncpg.Pool, min_changed_rows: int) -> list[str]:
    """What `analyze_grown_tables` analyzes once the inserts' statistics have arrived (a
    backend reports its counts when it goes idle, at most once a second)."""
    for _ in range(100):
        analyzed = await analyze_grown_tables(pool, min_changed_rows=min_changed_rows)
        if analyzed:
            return analyzed
        await asyncio.sleep(0.1)
    return []


async def test_a_table_grown_by_half_is_analyzed_once(
    database_url: str, db: asyncpg.Connection, alice: TestUser
) -> None:
    await _analyzed_only_by_us(db)
    await db.execute(
        "INSERT INTO meetings (account_id, source, kind, status) "
        "SELECT $1, 'crm', 'single', 'confirmed' FROM generate_series(1, 3000)",
        alice.account_id,
    )
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        assert await _planned_rows(db, "meetings") < 100
        assert await _grown(pool, min_changed_rows=1000) == ["meetings"]
        assert await _planned_rows(db, "meetings") == 3000
        # Current now: nothing to do until the table grows by half again.
        assert await analyze_grown_tables(pool, min_changed_rows=1000) == []
    finally:
        await pool.close()


async def test_small_changes_are_left_to_autovacuum(
    database_url: str, db: asyncpg.Connection, alice: TestUser
) -> None:
    await _analyzed_only_by_us(db)
    await db.execute(
        "INSERT INTO meetings (account_id, source, kind, status) "
        "SELECT $1, 'crm', 'single', 'confirmed' FROM generate_series(1, 300)",
        alice.account_id,
    )
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await asyncio.sleep(1.5)  # the inserts' counts have arrived
        assert await analyze_grown_tables(pool) == []
        assert await _planned_rows(db, "meetings") < 100
    finally:
        await pool.close()
