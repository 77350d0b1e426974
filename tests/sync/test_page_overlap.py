"""A sync running alone writes its next page while the previous page's transaction is still
open (sync/engine.py `_independent`), and commits it only after that one has committed: a
failure of either leaves the connection as if the pages had been written one by one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from db import sync_state
from db.pool import SYNC_SESSION, create_pool
from db.write_slots import take_write_slot
from sync import apply
from sync.engine import EngineSettings, SyncEngine
from sync.model import Attendee, ChangePage, EventStatus, ProviderEvent
from tests.conftest import TestUser
from tests.support.workers import add_bulk_contacts

LINKED = datetime(2026, 1, 1, tzinfo=UTC)
SOON = datetime(2026, 3, 2, 9, tzinfo=UTC)
PAGES = 4  # of 3 events each: a0 a1 a2, b0 b1 b2, …


def _event(event_id: str) -> ProviderEvent:
    return ProviderEvent(
        provider_event_id=event_id,
        title=event_id,
        starts_at=SOON,
        ends_at=SOON + timedelta(minutes=30),
        created_at=LINKED + timedelta(days=1),
        attendees=(Attendee("contact0@example.com"),),
    )


class PagedCalendar:
    """A change feed of PAGES pages; the cursor is the number of pages read."""

    def __init__(self) -> None:
        self.pages = [[_event(f"{'abcd'[p]}{i}") for i in range(3)] for p in range(PAGES)]

    async def fetch_changes(self, cursor: str | None, *, window_start: datetime) -> ChangePage:
        read = int(cursor or 0)
        if read >= PAGES:
            return ChangePage([], str(PAGES), complete=True)
        return ChangePage(self.pages[read], str(read + 1), complete=read + 1 == PAGES)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=6, server_settings=SYNC_SESSION)
    yield pool
    await pool.close()


@pytest.fixture
async def connection_id(db: asyncpg.Connection, alice: TestUser) -> int:
    await add_bulk_contacts(db, alice.account_id, 1)
    return int(
        await db.fetchval(
            """
            INSERT INTO calendar_connections
                (account_id, user_id, provider, calendar_email, status, linked_at)
            VALUES ($1, $2, 'google', $3, 'active', $4) RETURNING id
            """,
            alice.account_id,
            alice.user_id,
            alice.email,
            LINKED,
        )
    )


async def _sync(
    pool: asyncpg.Pool, db: asyncpg.Connection, calendar: PagedCalendar, slots: int = 0
) -> None:
    engine = SyncEngine(
        pool,
        {"google": SimpleNamespace(sandbox=False)},  # type: ignore[dict-item]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        EngineSettings(public_url="http://chronik.test", deployment_pages_at_once=slots),
        worker_id="overlap",
    )
    engine.client_for = lambda job: calendar  # type: ignore[assignment,method-assign,return-value]
    job = await sync_state.claim_due(db, worker="overlap", lease_seconds=60, poll_seconds=0)
    assert job is not None
    try:
        await engine.run(job)
    finally:  # what the worker does after a run (sync/worker.py), for the next one
        await db.execute(
            "UPDATE calendar_connections SET lease_owner = NULL, lease_expires_at = NULL"
        )


async def _stored(db: asyncpg.Connection) -> list[str]:
    rows = await db.fetch("SELECT provider_event_id FROM meetings ORDER BY 1")
    return [r[0] for r in rows]


def _slow_and_failing_on(
    monkeypatch: pytest.MonkeyPatch, event_id: str, started: dict[str, float]
) -> None:
    """write_plan notes when each page's writing started; the page holding `event_id`
    writes slowly, then fails."""
    original: Callable[..., Awaitable[Any]] = apply.write_plan

    async def write_plan(conn: Any, target: Any, book: Any, plan: Any) -> Any:
        first = plan.events[0].provider_event_id
        started[first] = time.monotonic()
        if any(e.provider_event_id == event_id for e in plan.events):
            await asyncio.sleep(0.5)
            started["failed"] = time.monotonic()
            raise RuntimeError("the disk is full")
        return await original(conn, target, book, plan)

    monkeypatch.setattr(apply, "write_plan", write_plan)


async def test_the_page_after_a_failing_page_is_written_meanwhile_but_never_committed(
    pool: asyncpg.Pool,
    db: asyncpg.Connection,
    connection_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calendar = PagedCalendar()
    started: dict[str, float] = {}
    _slow_and_failing_on(monkeypatch, "b1", started)
    with pytest.raises(RuntimeError, match="disk is full"):
        await _sync(pool, db, calendar)

    # Page c was written while page b's transaction was still open…
    assert started["c0"] < started["failed"]
    # …and rolled back with it: the connection stands after page a, as if read one by one.
    assert await _stored(db) == ["a0", "a1", "a2"]
    assert await db.fetchval("SELECT sync_cursor FROM calendar_connections") == "1"

    monkeypatch.undo()
    await _sync(pool, db, calendar)  # the next run goes on from page b
    assert await _stored(db) == [f"{p}{i}" for p in "abcd" for i in range(3)]
    assert await db.fetchval("SELECT sync_cursor FROM calendar_connections") == str(PAGES)
    entries = await db.fetchval("SELECT count(*) FROM timeline_entries")
    assert entries == 3 * PAGES  # each meeting once on the contact's timeline


async def test_a_page_is_not_committed_once_the_lease_is_lost_before_it(
    pool: asyncpg.Pool,
    db: asyncpg.Connection,
    connection_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calendar = PagedCalendar()
    original = apply.write_plan

    async def write_plan(conn: Any, target: Any, book: Any, plan: Any) -> Any:
        if plan.events[0].provider_event_id == "c0":
            # Another worker took the connection over while page c was being written.
            await db.execute("UPDATE calendar_connections SET lease_owner = 'other'")
        return await original(conn, target, book, plan)

    monkeypatch.setattr(apply, "write_plan", write_plan)
    with pytest.raises(Exception, match="no longer leased"):
        await _sync(pool, db, calendar)
    stored = await _stored(db)
    assert "c0" not in stored and "d0" not in stored
    assert await db.fetchval("SELECT sync_cursor FROM calendar_connections") in ("1", "2")


async def test_no_page_is_written_while_another_worker_holds_the_deployments_only_slot(
    pool: asyncpg.Pool, db: asyncpg.Connection, connection_id: int, database_url: str
) -> None:
    other_worker = await asyncpg.connect(database_url)
    try:
        writing = other_worker.transaction()
        await writing.start()
        await take_write_slot(other_worker, 1)
        syncing = asyncio.create_task(_sync(pool, db, PagedCalendar(), slots=1))
        await asyncio.sleep(0.5)
        assert not syncing.done() and await _stored(db) == []
        await writing.commit()  # the other worker's page is written: the slot is free
        await asyncio.wait_for(syncing, timeout=30)
        assert len(await _stored(db)) == 3 * PAGES
    finally:
        await other_worker.close()


async def test_a_page_planned_before_an_earlier_page_committed_is_planned_again(
    pool: asyncpg.Pool,
    db: asyncpg.Connection,
    connection_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Page c is planned ahead while page a's transaction is still open, and lists a1 again,
    cancelled meanwhile (a feed may list an event twice in one sync: Graph's delta does, and
    so does the round that follows a resumed one). The plan saw no a1 stored, so it would
    ignore the cancellation; it is made again once page a has committed, and a1 leaves the
    contact's timeline."""
    calendar = PagedCalendar()
    calendar.pages[2][1] = replace(calendar.pages[0][1], status=EventStatus.CANCELLED)
    c_planned = asyncio.Event()
    planned_ahead: list[str] = []
    original_plan, original_write = apply.plan_page, apply.write_plan

    async def plan_page(conn: Any, target: Any, book: Any, events: Any) -> Any:
        plan = await original_plan(conn, target, book, events)
        if events and events[0].provider_event_id == "c0":
            planned_ahead.append(",".join(await _stored(db)))
            c_planned.set()
        return plan

    async def write_plan(conn: Any, target: Any, book: Any, plan: Any) -> Any:
        if plan.events and plan.events[0].provider_event_id == "a0":
            # Page a commits only once page c has been planned (or after 5 s).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(c_planned.wait(), 5)
        return await original_write(conn, target, book, plan)

    monkeypatch.setattr(apply, "plan_page", plan_page)
    monkeypatch.setattr(apply, "write_plan", write_plan)
    await _sync(pool, db, calendar)

    # The first plan of page c was made before page a committed…
    assert planned_ahead[0] == ""
    # …and what was written is what the rules say of a1 as it stands: cancelled, off the
    # timeline; every other meeting on it once (c1's place on page c is a1's).
    timeline = await db.fetch(
        "SELECT m.provider_event_id FROM timeline_entries e JOIN meetings m"
        " ON m.id = e.meeting_id ORDER BY 1"
    )
    assert [r[0] for r in timeline] == sorted(
        f"{p}{i}" for p in "abcd" for i in range(3) if f"{p}{i}" not in ("a1", "c1")
    )
    assert (
        await db.fetchval("SELECT status FROM meetings WHERE provider_event_id = 'a1'")
        == "cancelled"
    )
