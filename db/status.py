"""Queries for operators: every connection's health at a glance, and one user's sync progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.types import Executor


@dataclass(frozen=True, slots=True)
class ConnectionHealth:
    connection_id: int
    account_name: str
    user_email: str
    provider: str
    status: str
    sync_phase: str
    events_seen: int
    last_synced_at: datetime | None
    failure_count: int
    last_error: str | None
    last_error_at: datetime | None
    next_attempt_at: datetime | None
    syncing: bool

    @property
    def failing(self) -> bool:
        return self.status == "needs_reauth" or self.failure_count > 0


async def connection_health(db: Executor) -> list[ConnectionHealth]:
    """Every calendar connection of every account, failing ones first."""
    rows = await db.fetch(
        """
        SELECT c.id AS connection_id, a.name AS account_name, u.email AS user_email,
               c.provider, c.status, c.sync_phase, c.events_seen, c.last_synced_at,
               c.failure_count, c.last_error, c.last_error_at, c.next_attempt_at,
               coalesce(c.lease_expires_at > now(), false) AS syncing
        FROM calendar_connections c
        JOIN users u ON u.id = c.user_id
        JOIN accounts a ON a.id = c.account_id
        ORDER BY (c.status = 'needs_reauth' OR c.failure_count > 0) DESC, a.name, u.email
        """
    )
    return [ConnectionHealth(**dict(r)) for r in rows]


@dataclass(frozen=True, slots=True)
class SyncProgress:
    connection_id: int
    provider: str
    status: str
    sync_phase: str
    events_seen: int
    requested: bool
    syncing: bool
    last_synced_at: datetime | None
    failure_count: int
    last_error: str | None


_PROGRESS = """
    SELECT c.id AS connection_id, c.provider, c.status, c.sync_phase, c.events_seen,
           c.sync_requested_at IS NOT NULL AS requested,
           coalesce(c.lease_expires_at > now(), false) AS syncing,
           c.last_synced_at, c.failure_count, c.last_error
    FROM calendar_connections c
"""


async def progress_for_email(db: Executor, email: str) -> SyncProgress | None:
    """The sync progress of the connection of the user with `email` (any account)."""
    record = await db.fetchrow(
        _PROGRESS + " JOIN users u ON u.id = c.user_id WHERE lower(u.email) = lower($1)", email
    )
    return SyncProgress(**dict(record)) if record else None


async def progress(db: Executor, connection_id: int) -> SyncProgress | None:
    record = await db.fetchrow(_PROGRESS + " WHERE c.id = $1", connection_id)
    return SyncProgress(**dict(record)) if record else None
