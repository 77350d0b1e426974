"""The sync work queue on its own: when a connection is due, and how requests collapse.

End to end (real webhooks, worker processes) in tests/security/test_webhooks.py and
tests/sync/test_workers.py; here each rule of `claim_due` is shown on one synced connection,
with polling an hour away so only the rule under test can make it due.
"""

from __future__ import annotations

import asyncpg
import pytest

from db import sync_state
from tests.conftest import make_user

POLL = 3600.0
LEASE = 60.0


@pytest.fixture
async def connection(db: asyncpg.Connection) -> int:
    """A connection that synced a moment ago and is idle."""
    user = await make_user(db, "Queue", "queue@queue.test")
    return int(
        await db.fetchval(
            """
            INSERT INTO calendar_connections
                (account_id, user_id, provider, calendar_email, status, linked_at, last_synced_at,
                 sync_phase)
            VALUES ($1, $2, 'google', $3, 'active', now(), now(), 'incremental') RETURNING id
            """,
            user.account_id,
            user.user_id,
            user.email,
        )
    )


async def claim(
    db: asyncpg.Connection, worker: str = "w1", *, quiet: float = 3600.0, max_wait: float = 3600.0
) -> int | None:
    job = await sync_state.claim_due(
        db,
        worker=worker,
        lease_seconds=LEASE,
        poll_seconds=POLL,
        push_quiet_seconds=quiet,
        push_max_wait_seconds=max_wait,
    )
    return job.connection_id if job else None


async def test_a_push_to_an_idle_connection_makes_it_due_at_once(
    db: asyncpg.Connection, connection: int
) -> None:
    assert await claim(db) is None
    await sync_state.note_push(db, connection)
    assert await claim(db) == connection


async def test_pushes_during_a_run_make_one_follow_up_once_they_are_quiet(
    db: asyncpg.Connection, connection: int
) -> None:
    await sync_state.note_push(db, connection)
    assert await claim(db, "w1") == connection
    for _ in range(5):
        await sync_state.note_push(db, connection)
    await sync_state.finish_run(db, connection, "w1")
    # Requested, but pushes were heard a moment ago: the follow-up waits for them to stop ...
    assert await claim(db, "w2") is None
    # ... or for the longest wait, when they keep coming.
    assert await claim(db, "w2", max_wait=0) == connection
    await sync_state.finish_run(db, connection, "w2")
    assert await claim(db, "w3", quiet=0, max_wait=0) is None  # one follow-up, not five


async def test_a_follow_up_waiting_for_quiet_starts_when_pushes_stop(
    db: asyncpg.Connection, connection: int
) -> None:
    await sync_state.note_push(db, connection)
    assert await claim(db, "w1") == connection
    await sync_state.note_push(db, connection)
    await sync_state.finish_run(db, connection, "w1")
    assert await claim(db, "w2", quiet=0) == connection


async def test_asking_for_a_sync_cuts_the_wait_for_quiet_short(
    db: asyncpg.Connection, connection: int
) -> None:
    await sync_state.note_push(db, connection)
    assert await claim(db, "w1") == connection
    await sync_state.note_push(db, connection)
    await sync_state.finish_run(db, connection, "w1")
    assert await claim(db, "w2") is None
    assert await sync_state.request_sync(db, connection)  # syncCalendarNow
    assert await claim(db, "w2") == connection


async def test_a_dead_workers_run_is_resumed_once_its_lease_expires(
    db: asyncpg.Connection, connection: int
) -> None:
    await sync_state.note_push(db, connection)
    assert await claim(db, "dead") == connection
    assert await claim(db, "w2") is None  # the lease still holds
    await db.execute(
        "UPDATE calendar_connections SET lease_expires_at = now() - interval '1 second'"
    )
    assert await claim(db, "w2") == connection


async def test_a_stopped_run_is_resumed_at_once(db: asyncpg.Connection, connection: int) -> None:
    await sync_state.note_push(db, connection)
    assert await claim(db, "w1") == connection
    await sync_state.release(db, connection, "w1", resume=True)  # shutdown between pages
    assert await claim(db, "w2") == connection


async def test_a_failed_run_is_retried_after_its_backoff_not_the_poll(
    db: asyncpg.Connection, connection: int
) -> None:
    await sync_state.note_push(db, connection)
    assert await claim(db, "w1") == connection
    await sync_state.fail_run(db, connection, "w1", "provider unavailable", 30)
    await sync_state.note_push(db, connection)  # pushes do not cut a backoff short
    assert await claim(db, "w2", quiet=0, max_wait=0) is None
    await db.execute("UPDATE calendar_connections SET next_attempt_at = now()")
    assert await claim(db, "w2") == connection


async def test_a_full_reconciliation_is_due_after_its_interval_never_mid_round(
    db: asyncpg.Connection, connection: int
) -> None:
    week = 7 * 24 * 3600.0
    await db.execute("UPDATE calendar_connections SET sync_cursor = 'c'")

    async def reconcile_due(reconcile_seconds: float | None) -> bool:
        await sync_state.request_sync(db, connection)
        job = await sync_state.claim_due(
            db,
            worker="w1",
            lease_seconds=LEASE,
            poll_seconds=POLL,
            reconcile_seconds=reconcile_seconds,
        )
        assert job is not None
        await sync_state.release(db, connection, "w1")
        return job.reconcile_due

    await db.execute("UPDATE calendar_connections SET full_round_at = now() - interval '6 days'")
    assert not await reconcile_due(week)
    await db.execute("UPDATE calendar_connections SET full_round_at = now() - interval '8 days'")
    assert await reconcile_due(week)
    assert not await reconcile_due(None)  # turned off
    await db.execute("UPDATE calendar_connections SET cursor_mid_round = true")
    assert not await reconcile_due(week)  # a round under way finishes first
