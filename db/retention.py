"""Pruning the append-only tables: what is older than the retention setting goes, in batches.

`timeline_changes` gains a row per timeline change and `schedule_requests` one per scheduled
meeting; neither is read after a while (the change log explains recent changes, an
idempotency key protects a retry, not a replay weeks later). Each batch is its own short
statement on the oldest rows (by primary key, so no index on the time is needed): it locks
only the rows it deletes, which nothing else writes, so pruning never holds up the sync.
"""

from __future__ import annotations

from datetime import timedelta

from db.types import Executor

BATCH_ROWS = 5_000


async def prune_timeline_changes(
    db: Executor, older_than: timedelta, *, batch_rows: int = BATCH_ROWS
) -> int:
    """Delete up to `batch_rows` of the oldest timeline changes made more than `older_than`
    ago; the number deleted (fewer than `batch_rows`: nothing older is left)."""
    status = await db.execute(
        """
        DELETE FROM timeline_changes WHERE id IN (
            -- The oldest rows by id (ids grow with time): a batch reads at most `batch_rows`
            -- rows of the primary key, even when nothing is old enough yet.
            SELECT id FROM (SELECT id, changed_at FROM timeline_changes ORDER BY id LIMIT $2) o
            WHERE changed_at < now() - $1::interval
        )
        """,
        older_than,
        batch_rows,
    )
    return int(status.split()[-1])


async def prune_schedule_requests(
    db: Executor, older_than: timedelta, *, batch_rows: int = BATCH_ROWS
) -> int:
    """As `prune_timeline_changes`, for idempotency keys of scheduled meetings."""
    status = await db.execute(
        """
        DELETE FROM schedule_requests WHERE (user_id, idempotency_key) IN (
            SELECT user_id, idempotency_key FROM schedule_requests
            WHERE created_at < now() - $1::interval
            LIMIT $2
        )
        """,
        older_than,
        batch_rows,
    )
    return int(status.split()[-1])
