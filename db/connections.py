"""Queries on calendar connections (one per user) and their encrypted tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db import cascade
from db.errors import DuplicateError
from db.types import Executor


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    id: int
    account_id: int
    user_id: int
    user_email: str
    provider: str
    calendar_email: str
    status: str
    linked_at: datetime
    token_ciphertext: bytes | None
    token_expires_at: datetime | None
    token_version: int
    last_synced_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failure_count: int
    sync_phase: str
    sync_round: int
    events_seen: int
    syncing: bool
    sync_requested_at: datetime | None


_SELECT = """
    SELECT c.id, c.account_id, c.user_id, u.email AS user_email, c.provider, c.calendar_email,
           c.status, c.linked_at, c.token_ciphertext, c.token_expires_at, c.token_version,
           c.last_synced_at, c.last_error, c.last_error_at, c.failure_count, c.sync_phase,
           c.sync_round, c.events_seen, coalesce(c.lease_expires_at > now(), false) AS syncing,
           c.sync_requested_at
    FROM calendar_connections c JOIN users u ON u.id = c.user_id
"""


def _row(record: asyncpg.Record) -> ConnectionRow:
    return ConnectionRow(**dict(record))


async def save_link(
    db: Executor,
    *,
    account_id: int,
    user_id: int,
    provider: str,
    calendar_email: str,
    token_ciphertext: bytes,
    token_expires_at: datetime | None,
) -> ConnectionRow:
    """Store a completed link: a new connection, or new tokens for the user's existing one.

    Relinking keeps `linked_at` (so already-eligible events stay eligible) unless the old link
    was disconnected or pointed at another calendar: then syncing starts afresh from now.
    Relinking a connection that was not active (it needed re-authentication) ends any failure
    backoff and marks its push registration for renewal: it may have lapsed meanwhile, while
    the stored expiry still says it is live.
    """
    try:
        record = await _upsert_link(
            db, account_id, user_id, provider, calendar_email, token_ciphertext, token_expires_at
        )
    except asyncpg.UniqueViolationError as exc:
        raise DuplicateError(exc.constraint_name) from None
    saved = await connection_by_id(db, record["id"])
    assert saved is not None
    return saved


async def _upsert_link(
    db: Executor,
    account_id: int,
    user_id: int,
    provider: str,
    calendar_email: str,
    token_ciphertext: bytes,
    token_expires_at: datetime | None,
) -> asyncpg.Record:
    record = await db.fetchrow(
        """
        WITH saved AS (
            INSERT INTO calendar_connections AS c
                (account_id, user_id, provider, calendar_email, status, linked_at,
                 token_ciphertext, token_expires_at)
            VALUES ($1, $2, $3, $4, 'active', now(), $5, $6)
            ON CONFLICT (user_id) DO UPDATE SET
                linked_at = CASE
                    WHEN c.status = 'disconnected' OR c.provider <> excluded.provider
                         OR c.calendar_email <> excluded.calendar_email THEN now()
                    ELSE c.linked_at END,
                provider = excluded.provider,
                calendar_email = excluded.calendar_email,
                status = 'active',
                token_ciphertext = excluded.token_ciphertext,
                token_expires_at = excluded.token_expires_at,
                token_version = c.token_version + 1,
                last_error = NULL,
                last_error_at = NULL,
                failure_count = 0,
                next_attempt_at = NULL,
                push_expires_at = CASE WHEN c.status <> 'active'
                                       THEN least(c.push_expires_at, now())
                                       ELSE c.push_expires_at END,
                updated_at = now()
            RETURNING id
        )
        SELECT id FROM saved
        """,
        account_id,
        user_id,
        provider,
        calendar_email,
        token_ciphertext,
        token_expires_at,
    )
    assert record is not None
    return record


async def connection_by_id(db: Executor, connection_id: int) -> ConnectionRow | None:
    record = await db.fetchrow(_SELECT + " WHERE c.id = $1", connection_id)
    return _row(record) if record else None


async def connection_for_user(db: Executor, user_id: int) -> ConnectionRow | None:
    record = await db.fetchrow(_SELECT + " WHERE c.user_id = $1", user_id)
    return _row(record) if record else None


async def connections_for_account(db: Executor, account_id: int) -> list[ConnectionRow]:
    rows = await db.fetch(_SELECT + " WHERE c.account_id = $1 ORDER BY u.email", account_id)
    return [_row(r) for r in rows]


async def connections_by_ids(
    db: Executor, account_id: int, connection_ids: Sequence[int]
) -> dict[int, ConnectionRow]:
    """The account's calendar connections of these ids, by id."""
    rows = await db.fetch(
        _SELECT + " WHERE c.account_id = $1 AND c.id = ANY($2::bigint[])",
        account_id,
        list(connection_ids),
    )
    return {r["id"]: _row(r) for r in rows}


async def lock_tokens(conn: asyncpg.Connection, connection_id: int) -> ConnectionRow | None:
    """The connection, row-locked until the caller's transaction ends (one refresh at a time,
    across every process)."""
    record = await conn.fetchrow(_SELECT + " WHERE c.id = $1 FOR UPDATE OF c", connection_id)
    return _row(record) if record else None


async def store_tokens(
    db: Executor, connection_id: int, token_ciphertext: bytes, token_expires_at: datetime
) -> int:
    """Replace the tokens after a refresh; returns the new token version."""
    version = await db.fetchval(
        """
        UPDATE calendar_connections
        SET token_ciphertext = $2, token_expires_at = $3, token_version = token_version + 1,
            updated_at = now()
        WHERE id = $1 RETURNING token_version
        """,
        connection_id,
        token_ciphertext,
        token_expires_at,
    )
    return int(version)


async def mark_needs_reauth(db: Executor, connection_id: int, message: str) -> None:
    await db.execute(
        """
        UPDATE calendar_connections
        SET status = 'needs_reauth', last_error = $2, last_error_at = now(), updated_at = now()
        WHERE id = $1 AND status = 'active'
        """,
        connection_id,
        message,
    )


async def disconnect(db: Executor, connection_id: int) -> None:
    """Mark the connection disconnected and forget its tokens and push registration (meetings
    stay)."""
    await db.execute(
        """
        UPDATE calendar_connections
        SET status = 'disconnected', token_ciphertext = NULL, token_expires_at = NULL,
            token_version = token_version + 1, push_channel_id = NULL,
            push_resource_id = NULL, push_token_hash = NULL, push_expires_at = NULL,
            updated_at = now()
        WHERE id = $1
        """,
        connection_id,
    )


async def delete_connection(db: Executor, connection_id: int) -> bool:
    """Delete the connection for good; its meetings stay with the account, unlinked
    (db/cascade.py). `disconnect` is what users do; this is for cleaning up."""
    async with cascade.transaction(db) as conn:
        status = await conn.execute("DELETE FROM calendar_connections WHERE id = $1", connection_id)
        if status != "DELETE 1":
            return False
        await cascade.connections_deleted(conn, [connection_id])
    return True
