"""Planner statistics kept current for the tables a sync grows faster than autovacuum looks.

A day of first syncs (many calendars linked at once) grows `meetings`, `meeting_attendees` and
`timeline_entries` from a few rows to hundreds of thousands within a minute. Autovacuum looks
once a minute (`autovacuum_naptime`), so meanwhile the planner believes the tables hold what
its last ANALYZE saw: a handful of rows. Plans made then, and the API's cached generic plans
(kept until the next ANALYZE of the table), join `meetings` by a sequential scan in a nested
loop: a contact's timeline took 0.2 to 4.6 s instead of 5 ms during bench/big_account.py's
onboarding. So whoever grows a table analyzes it once it has changed by more than half of
what the last ANALYZE counted: a table growing from nothing to 300,000 rows is analyzed about
ten times, each a sample of at most 30,000 rows.
"""

from __future__ import annotations

import asyncpg

# The tables a sync grows; named in SQL, never taken from input.
GROWN_BY_SYNC = ("meetings", "meeting_attendees", "timeline_entries")
# Fewer changed rows than this never make a plan worth redoing.
MIN_CHANGED_ROWS = 5_000
# One process analyzes at a time (the others find the statistics current when it is done).
_ANALYZE_LOCK = 0x63_68_72_6F_6E_69_6B  # "chronik"


async def analyze_grown_tables(
    pool: asyncpg.Pool, *, min_changed_rows: int = MIN_CHANGED_ROWS
) -> list[str]:
    """ANALYZE each table of `GROWN_BY_SYNC` that changed by more than half of what its last
    ANALYZE counted, and by at least `min_changed_rows`; returns those analyzed (none while
    another process is analyzing)."""
    async with pool.acquire() as conn:
        stale = [
            row["relname"]
            for row in await conn.fetch(
                """
                SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
                WHERE s.schemaname = current_schema() AND s.relname = ANY($1::text[])
                  AND s.n_mod_since_analyze >= greatest($2, 0.5 * greatest(c.reltuples, 0))
                """,
                list(GROWN_BY_SYNC),
                min_changed_rows,
            )
        ]
        if not stale or not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _ANALYZE_LOCK):
            return []
        try:
            for table in stale:
                assert table in GROWN_BY_SYNC
                await conn.execute(f"ANALYZE {table}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _ANALYZE_LOCK)
    return stale
