"""What the foreign keys of the bulk tables did on delete, done in code (migration 0005).

meetings, meeting_attendees, timeline_entries and timeline_changes have no foreign keys (a
per-row check on every synced row cost half of PostgreSQL's time in a large sync), so every
delete of a row they point to goes through a function here, in the same transaction as the
delete itself. The parent row is deleted FIRST: its row lock waits for a sync transaction that
holds the row (the sync locks the contacts it writes entries for and the meetings it upserts),
so the child rows that sync committed are visible to the statements that follow (READ
COMMITTED takes a new snapshot per statement) and nothing is left behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg

from db.types import Executor


@asynccontextmanager
async def transaction(db: Executor) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on `db`: its own on a pooled connection, a savepoint inside the caller's."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db


async def meetings_deleted(conn: asyncpg.Connection, meeting_ids: Sequence[int]) -> None:
    """ON DELETE CASCADE of meetings: their attendees and timeline entries."""
    if not meeting_ids:
        return
    ids = list(meeting_ids)
    await conn.execute("DELETE FROM meeting_attendees WHERE meeting_id = ANY($1::bigint[])", ids)
    await conn.execute("DELETE FROM timeline_entries WHERE meeting_id = ANY($1::bigint[])", ids)
    # The records it was scheduled from (companies, deals, tickets) keep no link to it.
    for table in ("company_meetings", "deal_meetings", "ticket_meetings"):
        await conn.execute(f"DELETE FROM {table} WHERE meeting_id = ANY($1::bigint[])", ids)


async def contacts_deleted(conn: asyncpg.Connection, contact_ids: Sequence[int]) -> None:
    """ON DELETE CASCADE of contacts: their timeline entries."""
    if contact_ids:
        await conn.execute(
            "DELETE FROM timeline_entries WHERE contact_id = ANY($1::bigint[])", list(contact_ids)
        )


async def connections_deleted(conn: asyncpg.Connection, connection_ids: Sequence[int]) -> None:
    """ON DELETE SET NULL of meetings.connection_id: the meetings stay, unlinked."""
    if connection_ids:
        await conn.execute(
            "UPDATE meetings SET connection_id = NULL WHERE connection_id = ANY($1::bigint[])",
            list(connection_ids),
        )


async def user_deleted(conn: asyncpg.Connection, account_id: int, user_id: int) -> None:
    """ON DELETE SET NULL of meetings.created_by_user_id."""
    await conn.execute(
        "UPDATE meetings SET created_by_user_id = NULL "
        "WHERE account_id = $1 AND created_by_user_id = $2",
        account_id,
        user_id,
    )


async def account_deleted(conn: asyncpg.Connection, account_id: int) -> None:
    """ON DELETE CASCADE of accounts on the bulk tables: everything the account synced."""
    await conn.execute(
        "DELETE FROM meeting_attendees a USING meetings m "
        "WHERE m.account_id = $1 AND a.meeting_id = m.id",
        account_id,
    )
    await conn.execute("DELETE FROM timeline_entries WHERE account_id = $1", account_id)
    await conn.execute("DELETE FROM meetings WHERE account_id = $1", account_id)
    await conn.execute("DELETE FROM timeline_changes WHERE account_id = $1", account_id)
