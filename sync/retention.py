"""Keeping the append-only tables bounded: a worker prunes them now and then (db/retention.py).

Every worker process prunes on its own schedule; two pruning at once only share the work.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg

from db import retention as retention_db

log = logging.getLogger("chronik.retention")

# A short pause between batches lets other statements in on a busy database.
PAUSE_BETWEEN_BATCHES = 0.05


async def prune_all(
    pool: asyncpg.Pool, keep: timedelta, *, batch_rows: int = retention_db.BATCH_ROWS
) -> dict[str, int]:
    """Delete what is older than `keep` from every append-only table, batch by batch;
    how many rows went, by table."""
    deleted: dict[str, int] = {}
    for table, prune in (
        ("timeline_changes", retention_db.prune_timeline_changes),
        ("schedule_requests", retention_db.prune_schedule_requests),
    ):
        total = 0
        while True:
            count = await prune(pool, keep, batch_rows=batch_rows)
            total += count
            if count < batch_rows:
                break
            await asyncio.sleep(PAUSE_BETWEEN_BATCHES)
        deleted[table] = total
    if any(deleted.values()):
        log.info("pruned rows older than %s: %s", keep, deleted)
    return deleted
