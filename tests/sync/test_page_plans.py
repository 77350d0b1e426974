"""Pages planned ahead (sync/apply.py `PagePlan`): the engine decides page k+1 while page k's
transaction runs. A plan that read a meeting page k writes is not used; page k+1 is then
decided again against what page k committed, so the timelines end as if read one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from db import contacts as contacts_db
from db.orphans import orphaned_rows
from sync import apply
from sync.address_book import AddressBook
from sync.model import Attendee, EventStatus, ProviderEvent
from tests.conftest import make_user
from tests.support.workers import add_bulk_contacts

LINKED = datetime(2026, 1, 1, tzinfo=UTC)
SOON = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
async def target(db: asyncpg.Connection) -> tuple[apply.Target, AddressBook]:
    user = await make_user(db, "Plans", "plans@plans.test")
    await add_bulk_contacts(db, user.account_id, 2)
    connection_id = await db.fetchval(
        """
        INSERT INTO calendar_connections
            (account_id, user_id, provider, calendar_email, status, linked_at, sync_phase)
        VALUES ($1, $2, 'google', $3, 'active', $4, 'incremental') RETURNING id
        """,
        user.account_id,
        user.user_id,
        user.email,
        LINKED,
    )
    book = AddressBook(
        user.account_id,
        calendar_email=user.email,
        linked_at=LINKED,
        excluded_domains=frozenset(),
    )
    return apply.Target(user.account_id, connection_id, "google", 1), book


def _event(event_id: str, *, status: EventStatus = EventStatus.CONFIRMED) -> ProviderEvent:
    return ProviderEvent(
        provider_event_id=event_id,
        status=status,
        title=event_id,
        starts_at=SOON,
        ends_at=SOON + timedelta(minutes=30),
        created_at=LINKED + timedelta(days=1),
        attendees=(Attendee("contact0@example.com"),),
    )


async def _timeline(db: asyncpg.Connection) -> list[str]:
    rows = await db.fetch(
        "SELECT m.title FROM timeline_entries e JOIN meetings m ON m.id = e.meeting_id "
        "ORDER BY m.title"
    )
    return [r["title"] for r in rows]


async def test_a_page_planned_before_the_previous_page_wrote_its_event_is_decided_again(
    db: asyncpg.Connection, target: tuple[apply.Target, AddressBook]
) -> None:
    where, book = target
    # Page k creates "x"; page k+1 (planned while page k commits) cancels it.
    page_k = [_event("x"), _event("y")]
    page_next = [_event("x", status=EventStatus.CANCELLED)]
    plan_k = await apply.plan_page(db, where, book, page_k)
    ahead = await apply.plan_page(db, where, book, page_next)  # "x" is not stored yet
    async with db.transaction():
        await apply.write_plan(db, where, book, plan_k)
    assert await _timeline(db) == ["x", "y"]

    # Written as planned, the cancellation would be ignored (nothing was stored for "x").
    assert not ahead.removes
    assert not ahead.still_holds(book, plan_k.touched)
    async with db.transaction():
        replanned = await apply.plan_page(db, where, book, page_next)
        await apply.write_plan(db, where, book, replanned)
    assert await _timeline(db) == ["y"]


async def test_a_plan_holds_when_the_previous_page_wrote_other_meetings_only(
    db: asyncpg.Connection, target: tuple[apply.Target, AddressBook]
) -> None:
    where, book = target
    plan_k = await apply.plan_page(db, where, book, [_event("a")])
    ahead = await apply.plan_page(db, where, book, [_event("b")])
    async with db.transaction():
        await apply.write_plan(db, where, book, plan_k)
    assert ahead.still_holds(book, plan_k.touched)
    # After a page that may have written anything (a full round's sweep), nothing holds.
    assert not ahead.still_holds(book, None)
    async with db.transaction():
        await apply.write_plan(db, where, book, ahead)
    assert await _timeline(db) == ["a", "b"]


async def test_a_plan_made_before_a_contact_was_learnt_does_not_hold(
    db: asyncpg.Connection, target: tuple[apply.Target, AddressBook]
) -> None:
    where, book = target
    ahead = await apply.plan_page(db, where, book, [_event("b")])
    book.learn_contacts({"guest@elsewhere.test": 1})  # a guest auto-created by page k
    assert not ahead.still_holds(book, frozenset())


# What happens between planning a page and writing it must not change what is stored.


async def _meetings(db: asyncpg.Connection) -> list[tuple[str, str, int]]:
    rows = await db.fetch(
        "SELECT provider_event_id, source, seen_round FROM meetings ORDER BY provider_event_id"
    )
    return [(r["provider_event_id"], r["source"], r["seen_round"]) for r in rows]


async def test_a_new_meeting_stored_by_scheduling_after_its_page_was_planned_is_stored_once(
    db: asyncpg.Connection, target: tuple[apply.Target, AddressBook]
) -> None:
    where, book = target
    ahead = await apply.plan_page(db, where, book, [_event("x"), _event("y")])
    # Meanwhile the user schedules "x" from Chronik, and the confirmation is stored first.
    user_id = await db.fetchval("SELECT id FROM users WHERE account_id = $1", where.account_id)
    scheduled = apply.Target(where.account_id, where.connection_id, "crm", 0)
    async with db.transaction():
        await apply.apply_scheduled(db, scheduled, book, _event("x"), created_by_user_id=user_id)

    async with db.transaction():
        await apply.write_plan(db, where, book, ahead)
    # One meeting per event, still the scheduled one; each on the contact's timeline once.
    assert await _meetings(db) == [("x", "crm", 1), ("y", "google", 1)]
    assert await _timeline(db) == ["x", "y"]


async def test_a_page_planned_for_the_previous_round_is_written_as_seen_by_this_one(
    db: asyncpg.Connection, target: tuple[apply.Target, AddressBook]
) -> None:
    where, book = target
    ahead = await apply.plan_page(db, where, book, [_event("x")])
    # The cursor expired meanwhile: the page is written in a new full round, whose end
    # removes every meeting it did not see.
    next_round = apply.Target(where.account_id, where.connection_id, "google", 2)
    async with db.transaction():
        await apply.write_plan(db, next_round, book, ahead)
    assert await _meetings(db) == [("x", "google", 2)]


async def test_a_contact_deleted_after_the_page_was_planned_gets_no_entry(
    db: asyncpg.Connection, target: tuple[apply.Target, AddressBook]
) -> None:
    where, book = target
    guests = (Attendee("contact0@example.com"), Attendee("contact1@example.com"))
    event = ProviderEvent(
        provider_event_id="x",
        title="x",
        starts_at=SOON,
        ends_at=SOON + timedelta(minutes=30),
        created_at=LINKED + timedelta(days=1),
        attendees=guests,
    )
    ahead = await apply.plan_page(db, where, book, [event])
    gone = await db.fetchval(
        "SELECT contact_id FROM contact_emails WHERE email = $1", "contact0@example.com"
    )
    assert await contacts_db.delete_contact(db, where.account_id, gone)

    async with db.transaction():
        await apply.write_plan(db, where, book, ahead)
    entries = await db.fetch("SELECT contact_id FROM timeline_entries")
    assert [r["contact_id"] for r in entries] != [] and gone not in {
        r["contact_id"] for r in entries
    }
    assert await orphaned_rows(db) == {}
