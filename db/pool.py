"""The asyncpg connection pool, with the codecs Chronik relies on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import orjson

QueryObserver = Callable[[Any], None]

# The sync's statements look rows up by arrays of a whole page of ids (`= ANY($1)`, 2,500
# of them). Planned once for any array (a generic plan, which PostgreSQL adopts after five
# executions of a prepared statement), such a lookup may keep a sequential scan chosen while
# the table was small, and then compares every row with every id of the array: 2.4 s instead
# of 45 ms for one page once the calendar's first sync has stored 40,000 meetings. Planned
# for each array, it is an index scan, or a hashed array, whatever the table became.
SYNC_SESSION = {"plan_cache_mode": "force_custom_plan"}


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects, through orjson (several times faster than json).
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a connection as it is.

    asyncpg's default reset costs a round trip on every release (unlock advisory locks,
    UNLISTEN, RESET ALL). Chronik changes no session state on pooled connections: advisory
    locks and LISTEN live on dedicated connections, so the reset would only slow every query.
    """


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    on_query: QueryObserver | None = None,
    server_settings: dict[str, str] | None = None,
) -> asyncpg.Pool:
    """Open a pool to `dsn`; `on_query`, when given, is called once per executed statement;
    `server_settings`, PostgreSQL settings of its sessions.

    `on_query` exists for the tests that count SQL statements per GraphQL request.
    """

    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        if on_query is not None:
            conn.add_query_logger(on_query)

    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init,
        reset=_keep_session,
        server_settings=server_settings,
    )
    assert pool is not None
    return pool
