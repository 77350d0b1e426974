"""The deployment's limit on sync pages written at once, shared by every worker process.

A page's transaction is a burst of bulk statements (thousands of rows) that keeps one
PostgreSQL backend busy for a tenth of a second or more. Two workers writing pages side by
side on a database of two cores leave the API's queries a third of the CPU: during a day of
first syncs a contact's timeline p99 went to 3.4-4.9x its quiet p99; with one page at a time
across the deployment, 2.5x (bench/RESULTS.md). So a page transaction first takes one of
`slots` transaction-scoped advisory locks, held until it commits or rolls back, before it
locks anything else (nothing that holds a slot waits for a transaction that waits for one).
"""

from __future__ import annotations

import asyncpg

# The advisory-lock class of the slots (pg_advisory_xact_lock(class, slot)): "CHRS".
_SLOTS = 0x43485253


async def take_write_slot(conn: asyncpg.Connection, slots: int) -> None:
    """Hold one of `slots` slots until the caller's transaction ends, waiting for one if all
    are held; `slots` 0: no limit."""
    if slots <= 0:
        return
    # A free slot without waiting: the first one whose lock is granted (LIMIT 1 stops there).
    free = await conn.fetchval(
        "SELECT s FROM generate_series(0, $2 - 1) AS s"
        " WHERE pg_try_advisory_xact_lock($1, s) LIMIT 1",
        _SLOTS,
        slots,
    )
    if free is None:  # all held: wait for one of them, any
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, floor(random() * $2)::int)", _SLOTS, slots
        )
