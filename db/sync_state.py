"""Queries on the sync side of calendar connections: the work queue, leases, cursors, push.

A connection is due when a sync was requested (push, syncCalendarNow), when it never synced,
when the polling interval has passed, or when its last run was cut short (its worker died
holding the lease, and the lease has expired). A worker takes it with FOR UPDATE SKIP LOCKED
and holds a lease (owner + expiry) for the whole run; every page commit extends the lease and
checks the owner, so a worker that lost its lease (paused too long) cannot write any more.

Requests collapse: one queued run covers every request made before it starts. Pushes that
arrive while a run is going ask for one follow-up run, which waits until the pushes have been
quiet for a moment, so a burst or a replay of any size costs one follow-up run (and pushes
that never stop, one run per `push_max_wait_seconds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.types import Executor

SYNC_CHANNEL = "chronik_sync"
# Progress of a connection's sync, for live sync-state subscriptions (see db/listen.py).
SYNC_STATE_CHANNEL = "chronik_sync_state"
_ANNOUNCE_STATE = f"""
    SELECT pg_notify('{SYNC_STATE_CHANNEL}',
                     json_build_object('a', account_id, 'u', user_id, 'c', id)::text)
"""


@dataclass(frozen=True, slots=True)
class SyncJob:
    connection_id: int
    account_id: int
    user_id: int
    provider: str
    calendar_email: str
    linked_at: datetime
    sync_cursor: str | None
    sync_phase: str
    sync_round: int
    round_is_full: bool
    cursor_mid_round: bool
    events_seen: int
    window_start: datetime | None
    push_channel_id: str | None
    push_resource_id: str | None
    push_expires_at: datetime | None
    # The last full round is older than the reconciliation interval: this run starts a new
    # one instead of reading the delta (never in the middle of a round).
    reconcile_due: bool = False


_JOB_COLUMNS = """
    id AS connection_id, account_id, user_id, provider, calendar_email, linked_at, sync_cursor,
    sync_phase, sync_round, round_is_full, cursor_mid_round, events_seen, window_start,
    push_channel_id, push_resource_id, push_expires_at,
    (sync_cursor IS NOT NULL AND NOT cursor_mid_round AND $6::float8 IS NOT NULL
     AND (full_round_at IS NULL OR full_round_at < now() - make_interval(secs => $6)))
        AS reconcile_due
"""


async def claim_due(
    db: Executor,
    *,
    worker: str,
    lease_seconds: float,
    poll_seconds: float,
    push_quiet_seconds: float = 0.0,
    push_max_wait_seconds: float = 0.0,
    reconcile_seconds: float | None = None,
) -> SyncJob | None:
    """Lease one due, active, unleased connection to `worker`; None when nothing is due.

    A follow-up run asked for by pushes (see `note_push`) is due once no push came for
    `push_quiet_seconds`, or `push_max_wait_seconds` after the first of them. The job says
    `reconcile_due` when its last full round finished more than `reconcile_seconds` ago
    (None: never reconcile)."""
    record = await db.fetchrow(
        f"""
        UPDATE calendar_connections c
        SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
            sync_requested_at = NULL, push_seen_at = NULL
        WHERE c.id = (
            SELECT id FROM calendar_connections
            WHERE status = 'active'
              AND (lease_expires_at IS NULL OR lease_expires_at < now())
              AND (next_attempt_at IS NULL OR next_attempt_at <= now())
              AND ((sync_requested_at IS NOT NULL
                    AND (push_seen_at IS NULL
                         OR push_seen_at <= now() - make_interval(secs => $4)
                         OR sync_requested_at <= now() - make_interval(secs => $5)))
                   -- A run cut short: its worker died holding the lease, which has expired.
                   -- Resume it now, not at the next poll (its request was taken at its start).
                   OR lease_owner IS NOT NULL
                   OR last_synced_at IS NULL
                   -- Polled at the workers' interval, or the provider's own when shorter
                   -- (a provider without push: calendar_providers.poll_seconds).
                   OR last_synced_at < now() - make_interval(secs => LEAST($3, (
                        SELECT p.poll_seconds FROM calendar_providers p
                        WHERE p.name = calendar_connections.provider))))
            ORDER BY sync_requested_at NULLS LAST, last_synced_at NULLS FIRST
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        )
        RETURNING {_JOB_COLUMNS}
        """,
        worker,
        lease_seconds,
        poll_seconds,
        push_quiet_seconds,
        push_max_wait_seconds,
        reconcile_seconds,
    )
    return SyncJob(**dict(record)) if record else None


async def extend_lease(
    conn: Executor,
    connection_id: int,
    worker: str,
    lease_seconds: float,
    *,
    cursor: str | None = None,
) -> bool:
    """Extend our lease; False when it is no longer ours (the caller must stop writing).
    With `cursor`: only if it is the connection's saved cursor (the page before the caller's
    committed)."""
    status = await conn.execute(
        """
        UPDATE calendar_connections SET lease_expires_at = now() + make_interval(secs => $3)
        WHERE id = $1 AND lease_owner = $2 AND status = 'active'
          AND ($4::text IS NULL OR sync_cursor = $4)
        """,
        connection_id,
        worker,
        lease_seconds,
        cursor,
    )
    return status == "UPDATE 1"


async def save_cursor(
    conn: asyncpg.Connection,
    connection_id: int,
    *,
    cursor: str | None,
    phase: str,
    sync_round: int,
    round_is_full: bool,
    mid_round: bool,
    events_seen: int,
    window_start: datetime | None,
) -> None:
    await conn.execute(
        """
        UPDATE calendar_connections
        SET sync_cursor = $2, sync_phase = $3, sync_round = $4, round_is_full = $5,
            events_seen = $6, window_start = $7, cursor_mid_round = $8, updated_at = now()
        WHERE id = $1
        """,
        connection_id,
        cursor,
        phase,
        sync_round,
        round_is_full,
        events_seen,
        window_start,
        mid_round,
    )


async def record_full_round(conn: Executor, connection_id: int) -> None:
    """A full round just finished (in the transaction of its last page)."""
    await conn.execute(
        "UPDATE calendar_connections SET full_round_at = now() WHERE id = $1", connection_id
    )


async def finish_run(db: Executor, connection_id: int, worker: str) -> None:
    """A successful run: record it, clear the failure streak, release the lease. A connection
    that lost its grant while the run went on keeps the reason (the person must relink)."""
    await db.execute(
        """
        WITH done AS (
            UPDATE calendar_connections
            SET last_synced_at = now(), failure_count = 0,
                last_error = CASE WHEN status = 'active' THEN NULL ELSE last_error END,
                last_error_at = CASE WHEN status = 'active' THEN NULL ELSE last_error_at END,
                next_attempt_at = NULL, lease_owner = NULL,
                lease_expires_at = NULL
            WHERE id = $1 AND lease_owner = $2
            RETURNING account_id, user_id, id
        )
        """
        + _ANNOUNCE_STATE
        + " FROM done",
        connection_id,
        worker,
    )


async def announce_state(conn: Executor, connection_id: int) -> None:
    """Tell live subscribers the connection's sync state changed (delivered on commit)."""
    await conn.execute(_ANNOUNCE_STATE + " FROM calendar_connections WHERE id = $1", connection_id)


async def fail_run(
    db: Executor, connection_id: int, worker: str, message: str, retry_in_seconds: float
) -> None:
    """A failed run: count it, keep the reason for people, back off, release the lease; the
    connection is requested again, so the retry comes after the backoff, not the next poll."""
    await db.execute(
        """
        WITH failed AS (
            UPDATE calendar_connections
            SET failure_count = failure_count + 1, last_error = $3, last_error_at = now(),
                next_attempt_at = now() + make_interval(secs => $4),
                -- The run's request still stands: it is retried after the backoff.
                sync_requested_at = coalesce(sync_requested_at, now()),
                lease_owner = NULL, lease_expires_at = NULL
            WHERE id = $1 AND lease_owner = $2
            RETURNING account_id, user_id, id
        )
        """
        + _ANNOUNCE_STATE
        + " FROM failed",
        connection_id,
        worker,
        message,
        retry_in_seconds,
    )


async def failure_count(db: Executor, connection_id: int) -> int:
    value = await db.fetchval(
        "SELECT failure_count FROM calendar_connections WHERE id = $1", connection_id
    )
    return int(value or 0)


async def release(db: Executor, connection_id: int, worker: str, *, resume: bool = False) -> None:
    """Give the lease back without recording anything (shutdown, lost grant). With `resume`
    (a run stopped before it finished), the connection is requested again at once."""
    await db.execute(
        """
        UPDATE calendar_connections
        SET lease_owner = NULL, lease_expires_at = NULL,
            sync_requested_at = CASE WHEN $3 THEN coalesce(sync_requested_at, now())
                                     ELSE sync_requested_at END
        WHERE id = $1 AND lease_owner = $2
        """,
        connection_id,
        worker,
        resume,
    )


async def request_sync(db: Executor, connection_id: int) -> bool:
    """Ask for a sync now (idempotent) and wake the workers; False for an inactive one.

    A person asked (syncCalendarNow, `chronik sync`): a failing connection's backoff and a
    follow-up waiting for pushes to go quiet are both cut short."""
    status = await db.execute(
        """
        WITH requested AS (
            UPDATE calendar_connections
            SET sync_requested_at = coalesce(sync_requested_at, now()), push_seen_at = NULL,
                next_attempt_at = NULL
            WHERE id = $1 AND status = 'active'
            RETURNING id
        )
        SELECT pg_notify($2, id::text) FROM requested
        """,
        connection_id,
        SYNC_CHANNEL,
    )
    return status == "SELECT 1"


async def note_push(db: Executor, connection_id: int) -> None:
    """A verified push says the calendar changed: make sure a run will read the change.

    - Idle: a run is requested at once (and the workers woken).
    - A run is queued and has not started: it will read the change; nothing is written.
    - A run is going (or a follow-up already waits for pushes to go quiet): one follow-up run
      is requested, due once pushes have been quiet for a moment (see `claim_due`).
    A push never cuts a failing connection's backoff short: replays must not hammer a provider
    that asked us to wait."""
    await db.execute(
        """
        WITH noted AS (
            UPDATE calendar_connections
            SET sync_requested_at = coalesce(sync_requested_at, now()),
                push_seen_at = CASE
                    WHEN push_seen_at IS NOT NULL OR coalesce(lease_expires_at > now(), false)
                    THEN now() END
            WHERE id = $1 AND status = 'active'
              AND NOT (sync_requested_at IS NOT NULL AND push_seen_at IS NULL)
            RETURNING id, push_seen_at
        )
        SELECT pg_notify($2, id::text) FROM noted WHERE push_seen_at IS NULL
        """,
        connection_id,
        SYNC_CHANNEL,
    )


async def save_push_channel(
    db: Executor,
    connection_id: int,
    *,
    channel_id: str | None,
    resource_id: str | None,
    token_hash: bytes | None,
    expires_at: datetime | None,
) -> None:
    await db.execute(
        """
        UPDATE calendar_connections
        SET push_channel_id = $2, push_resource_id = $3,
            push_token_hash = coalesce($4, push_token_hash), push_expires_at = $5
        WHERE id = $1
        """,
        connection_id,
        channel_id,
        resource_id,
        token_hash,
        expires_at,
    )


async def push_channel_gone(db: Executor, connection_id: int, channel_id: str) -> None:
    """The provider removed the push channel `channel_id`: forget it, so the next run
    registers a new one (only if it is still the connection's channel)."""
    await db.execute(
        """
        UPDATE calendar_connections
        SET push_channel_id = NULL, push_resource_id = NULL, push_expires_at = NULL
        WHERE id = $1 AND push_channel_id = $2
        """,
        connection_id,
        channel_id,
    )


async def push_renewal_due(db: Executor, connection_id: int, channel_id: str) -> None:
    """The provider asks for the push channel `channel_id` to be renewed now (e.g. Graph's
    reauthorizationRequired): the next run renews it. Its expiry is brought within the
    renewal margin but kept ahead, so the run renews it in place rather than taking it for
    expired (a run that comes later than that registers a new one, which also does)."""
    await db.execute(
        """
        UPDATE calendar_connections
        SET push_expires_at = least(push_expires_at, now() + interval '10 minutes')
        WHERE id = $1 AND push_channel_id = $2
        """,
        connection_id,
        channel_id,
    )


async def forget_push(db: Executor, connection_id: int) -> None:
    """Forget the connection's push registration entirely (it was stopped at the provider)."""
    await db.execute(
        """
        UPDATE calendar_connections
        SET push_channel_id = NULL, push_resource_id = NULL, push_expires_at = NULL,
            push_token_hash = NULL
        WHERE id = $1
        """,
        connection_id,
    )


async def relinked(db: Executor, connection_id: int) -> None:
    """A calendar was linked again (e.g. after NEEDS_REAUTH): its push registration may have
    died with the old grant, so the next run registers a new one; and that run is now, not at
    the next poll."""
    await db.execute(
        """
        UPDATE calendar_connections SET push_expires_at = least(push_expires_at, now())
        WHERE id = $1
        """,
        connection_id,
    )
    await request_sync(db, connection_id)


@dataclass(frozen=True, slots=True)
class StoredPush:
    channel_id: str
    resource_id: str | None
    expires_at: datetime


async def stored_push(db: Executor, connection_id: int) -> StoredPush | None:
    """The connection's push registration as last saved, None when it has none."""
    record = await db.fetchrow(
        "SELECT push_channel_id, push_resource_id, push_expires_at FROM calendar_connections "
        "WHERE id = $1 AND push_channel_id IS NOT NULL AND push_expires_at IS NOT NULL",
        connection_id,
    )
    if record is None:
        return None
    return StoredPush(
        record["push_channel_id"], record["push_resource_id"], record["push_expires_at"]
    )


@dataclass(frozen=True, slots=True)
class PushTarget:
    connection_id: int
    provider: str
    token_hash: bytes | None


async def push_target(db: Executor, channel_id: str) -> PushTarget | None:
    record = await db.fetchrow(
        "SELECT id, provider, push_token_hash FROM calendar_connections "
        "WHERE push_channel_id = $1 AND status = 'active'",
        channel_id,
    )
    if record is None:
        return None
    token_hash = bytes(record["push_token_hash"]) if record["push_token_hash"] else None
    return PushTarget(record["id"], record["provider"], token_hash)
