"""Where the database is: the configured server, or the embedded one."""

from __future__ import annotations

import asyncio

import asyncpg

from app.settings import Settings
from db.embedded import start_embedded_postgres
from db.pool import QueryObserver, create_pool


async def database_url(settings: Settings) -> str:
    """`CHRONIK_DATABASE_URL`, or the DSN of the embedded PostgreSQL (started if needed)."""
    if settings.database_url:
        return settings.database_url
    return await asyncio.to_thread(start_embedded_postgres, settings.data_dir)


async def open_pool(settings: Settings, *, on_query: QueryObserver | None = None) -> asyncpg.Pool:
    return await create_pool(
        await database_url(settings),
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        on_query=on_query,
    )
