"""A change costs what it touches: the rows PostgreSQL reads for one calendar change (or one
scheduled meeting) do not grow with the account's contacts, users or domains."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.sync import LinkedCalendar, linked_calendar
from tests.support.workers import add_bulk_contacts

SOON = (datetime.now(UTC) + timedelta(days=4)).replace(hour=10, minute=0, second=0, microsecond=0)
# The tables an account-wide load would read in full.
ADDRESS_TABLES = ["contacts", "contact_emails", "users", "account_domains"]
SCHEDULE = """
mutation($input: ScheduleMeetingInput!) { scheduleMeeting(input: $input) { id } }"""


async def _publish_stats(pool: asyncpg.Pool) -> None:
    """Make every backend of `pool` publish its table statistics now (PostgreSQL buffers
    them per backend and publishes them at most once a second, or when told to)."""
    held = await asyncio.gather(*(pool.acquire() for _ in range(pool.get_max_size())))
    try:
        for conn in held:
            await conn.execute("SELECT pg_stat_force_next_flush()")
    finally:
        for conn in held:
            await pool.release(conn)


async def _rows_read(chronik: RunningChronik, db: asyncpg.Connection) -> int:
    """Rows read so far from the address tables, by sequential and index scans."""
    services = chronik.app.state.services
    await _publish_stats(services.pool)
    await _publish_stats(services.sync_pool)
    await db.execute("SELECT pg_stat_force_next_flush()")  # what the test itself wrote
    return int(
        await db.fetchval(
            """
            SELECT (SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables
                    WHERE relname = ANY($1::text[]))
                 + (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes
                    WHERE relname = ANY($1::text[]))
            """,
            ADDRESS_TABLES,
        )
    )


async def _read_by(
    chronik: RunningChronik, db: asyncpg.Connection, step: Callable[[], Awaitable[None]]
) -> int:
    before = await _rows_read(chronik, db)
    await step()
    return await _rows_read(chronik, db) - before


async def _sync_until_on_timeline(cal: LinkedCalendar, title: str) -> None:
    """Ask for a sync (as syncCalendarNow does) and wait, reading only sync state tables."""
    db = cal.db
    await db.execute(
        "UPDATE calendar_connections SET sync_requested_at = now() WHERE user_id = $1",
        cal.user.user_id,
    )
    await db.execute("SELECT pg_notify('chronik_sync', id::text) FROM calendar_connections")
    for _ in range(1500):
        logged = await db.fetchval(
            "SELECT count(*) FROM meetings m JOIN timeline_entries e ON e.meeting_id = m.id "
            "WHERE m.title = $1",
            title,
        )
        if logged:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{title!r} never reached a timeline")


async def _grow_account(db: asyncpg.Connection, account_id: int) -> None:
    """5,000 contacts, 1,000 users and 2,000 internal domains more."""
    await add_bulk_contacts(db, account_id, 5000)
    await db.execute(
        "INSERT INTO users (account_id, email) "
        "SELECT $1, 'user' || n || '@acme.test' FROM generate_series(1, 1000) AS n",
        account_id,
    )
    await db.execute(
        "INSERT INTO account_domains (account_id, domain) "
        "SELECT $1, 'branch' || n || '.acme.test' FROM generate_series(1, 2000) AS n",
        account_id,
    )
    # As autovacuum does within a minute of a bulk load: the planner sees the account's size.
    await db.execute("ANALYZE contacts, contact_emails, users, account_domains")


async def test_a_calendar_change_reads_as_few_rows_in_a_big_account_as_in_a_small_one(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    await cal.contact("carla@client.test")
    guests = ["carla@client.test", "stranger@elsewhere.test", "colleague@acme.test"]

    async def change(title: str) -> None:
        await cal.calendar.create(title=title, start=SOON, guests=guests)
        await _sync_until_on_timeline(cal, title)

    small = await _read_by(chronik, db, lambda: change("Small account"))
    await _grow_account(db, alice.account_id)
    big = await _read_by(chronik, db, lambda: change("Big account"))
    print(f"\nrows read for one change: {small} at 1 contact, {big} at 5,001 contacts")
    # An account-wide load would read every one of the 8,000 rows added.
    assert big <= small + 10 and big < 40, (small, big)


async def test_scheduling_a_meeting_reads_as_few_rows_in_a_big_account_as_in_a_small_one(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test")

    async def schedule() -> None:
        meeting = {
            "title": "Review",
            "startsAt": SOON.isoformat(),
            "endsAt": (SOON + timedelta(hours=1)).isoformat(),
            "timeZone": "UTC",
            "attendees": [{"contactId": carla}, {"email": "stranger@elsewhere.test"}],
        }
        made = await chronik.graphql(SCHEDULE, {"input": meeting}, token=alice.token)
        made.ok()

    small = await _read_by(chronik, db, schedule)
    await _grow_account(db, alice.account_id)
    big = await _read_by(chronik, db, schedule)
    print(f"\nrows read for scheduleMeeting: {small} at 1 contact, {big} at 5,001 contacts")
    assert big <= small + 10 and big < 40, (small, big)
    on_timeline = await db.fetchval("SELECT count(*) FROM timeline_entries")
    assert on_timeline == 2  # both meetings, on Carla's timeline
