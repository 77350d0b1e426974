"""Queries behind scheduling from Chronik: idempotency keys and meetings removed by users."""

from __future__ import annotations

import asyncpg

from db.meetings import TimelineChange
from db.types import Executor


async def meeting_for_key(db: Executor, user_id: int, key: str) -> int | None:
    """The meeting an earlier request with this idempotency key created, if any."""
    value = await db.fetchval(
        "SELECT meeting_id FROM schedule_requests WHERE user_id = $1 AND idempotency_key = $2",
        user_id,
        key,
    )
    return int(value) if value is not None else None


async def remember_key(conn: asyncpg.Connection, user_id: int, key: str, meeting_id: int) -> None:
    await conn.execute(
        "INSERT INTO schedule_requests (user_id, idempotency_key, meeting_id) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING",
        user_id,
        key,
        meeting_id,
    )


async def mark_deleted(conn: asyncpg.Connection, meeting_id: int) -> list[TimelineChange]:
    """Hide the meeting from Chronik for good (the sync will not bring it back)."""
    await conn.execute(
        "UPDATE meetings SET deleted_at = now(), frozen = true, updated_at = now() WHERE id = $1",
        meeting_id,
    )
    rows = await conn.fetch(
        "DELETE FROM timeline_entries WHERE meeting_id = $1 RETURNING contact_id, meeting_id",
        meeting_id,
    )
    return [TimelineChange(r["contact_id"], r["meeting_id"], "removed") for r in rows]
