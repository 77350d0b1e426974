"""The sync's sessions plan each page's lookups for the page's own ids (db/pool.py
`SYNC_SESSION`). A generic plan, which PostgreSQL adopts for a prepared statement after five
executions, keeps the scan it chose while the table was small; with a page's 2,500 ids it then
compares every row with every id (2.4 s instead of 45 ms a page at 40,000 meetings)."""

from __future__ import annotations

import asyncpg

from app.services import running_services
from app.settings import Settings
from db.meetings import stored_meetings
from db.pool import SYNC_SESSION, create_pool

PAGE_IDS = [f"event{i}" for i in range(2500)]


async def _plans_of_the_page_lookup(pool: asyncpg.Pool) -> tuple[int, int]:
    """(generic, custom) plans PostgreSQL made for `stored_meetings` in one session, after
    a first sync's twenty pages."""
    async with pool.acquire() as conn:
        for _ in range(20):
            await stored_meetings(conn, 1, PAGE_IDS)
        row = await conn.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE '%provider_alt_id = ANY%'"
            " AND statement NOT LIKE '%pg_prepared_statements%'"
        )
    assert row is not None
    return row["generic_plans"], row["custom_plans"]


async def test_a_sync_session_plans_every_page_for_its_own_ids(database_url: str) -> None:
    default = await create_pool(database_url, max_size=1)
    sync = await create_pool(database_url, max_size=1, server_settings=SYNC_SESSION)
    try:
        generic, _ = await _plans_of_the_page_lookup(default)
        assert generic > 0  # what the sync's sessions must not do
        assert await _plans_of_the_page_lookup(sync) == (0, 20)
    finally:
        await default.close()
        await sync.close()


async def test_the_worker_syncs_in_such_sessions(settings: Settings) -> None:
    async with running_services(settings) as services:
        assert await _plans_of_the_page_lookup(services.sync_pool) == (0, 20)
