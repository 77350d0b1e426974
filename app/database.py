"""Where the database is: the configured server, or the embedded one."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from app.settings import Settings
from db.embedded import pgdata_dir, start_embedded_postgres
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


def describe_storage(settings: Settings) -> str:
    """One line saying where this process keeps its data (a database password is masked)."""
    where = f"data dir {settings.data_dir}"
    if settings.database_url:
        return f"{where}; database {redact_dsn(settings.database_url)}"
    pgdata = pgdata_dir(settings.data_dir)
    new = "" if (pgdata / "PG_VERSION").exists() else " (new: created now)"
    return f"{where}; embedded PostgreSQL in {pgdata}{new}"


def redact_dsn(dsn: str) -> str:
    """`dsn` with its password (in the user part or a `password=` parameter) masked."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, host = netloc.rsplit("@", 1)
        user, _, password = credentials.partition(":")
        if password:
            credentials = f"{user}:***"
        netloc = f"{credentials}@{host}"
    query = urlencode(
        [
            (key, "***" if key.lower() == "password" else value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="/*",
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))
