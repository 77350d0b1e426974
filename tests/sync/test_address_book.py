"""The address book of a sync run: each address is looked up once, in one query per page."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg

from sync.address_book import AddressBook
from sync.rules import MEMBER, verdict
from tests.conftest import TestUser
from tests.support.workers import add_bulk_contacts


async def _logged(statements: list[str]) -> int:
    await asyncio.sleep(0)  # asyncpg calls query loggers soon after the query, not during it
    return len(statements)


def _book(user: TestUser, **extra: Any) -> AddressBook:
    return AddressBook(
        user.account_id,
        calendar_email=user.email,
        linked_at=datetime(2026, 1, 1, tzinfo=UTC),
        excluded_domains=frozenset({"resource.calendar.google.com"}),
        **extra,
    )


async def test_addresses_are_looked_up_once_per_run_in_one_query_per_page(
    db: asyncpg.Connection, alice: TestUser, bob: TestUser
) -> None:
    await add_bulk_contacts(db, alice.account_id, 3)
    await add_bulk_contacts(db, bob.account_id, 5)  # Bob's contact4 is no contact of Acme's
    first = await db.fetchval("SELECT id FROM contacts WHERE email = 'contact0@example.com'")
    statements: list[str] = []
    db.add_query_logger(lambda logged: statements.append(logged.query))
    book = _book(alice)

    page = [
        "contact0@example.com",
        "alice@acme.test",
        "x@branch.test",
        "contact4@example.com",
    ]
    ctx = await book.context_for(db, page)
    assert await _logged(statements) == 1
    assert [verdict(e, ctx) for e in page] == [
        first,
        MEMBER,  # the calendar owner, a user of the account
        None,
        None,  # another account's contact
    ]
    statements.clear()
    # A page of addresses already met costs no query; a new one costs one for the new ones.
    await book.context_for(db, ["contact0@example.com", "alice@acme.test"])
    assert await _logged(statements) == 0
    ctx = await book.context_for(db, ["contact1@example.com", "contact0@example.com"])
    assert await _logged(statements) == 1
    assert verdict("contact1@example.com", ctx) not in (None, MEMBER)


async def test_internal_domains_and_users_are_members(
    db: asyncpg.Connection, alice: TestUser
) -> None:
    await db.execute(
        "INSERT INTO users (account_id, email) VALUES ($1, 'colleague@elsewhere.test')",
        alice.account_id,
    )
    ctx = await _book(alice).context_for(
        db, ["someone@acme.test", "colleague@elsewhere.test", "room@resource.calendar.google.com"]
    )
    assert verdict("someone@acme.test", ctx) == MEMBER  # at the account's own domain
    assert verdict("colleague@elsewhere.test", ctx) == MEMBER  # a user of the account
    assert verdict("room@resource.calendar.google.com", ctx) == MEMBER  # an excluded domain


async def test_contacts_made_during_a_run_are_known_without_asking_again(
    db: asyncpg.Connection, alice: TestUser
) -> None:
    book = _book(alice)
    ctx = await book.context_for(db, ["new@guest.test"])
    assert verdict("new@guest.test", ctx) is None
    book.learn_contacts({"new@guest.test": 42})
    ctx = await book.context_for(db, ["new@guest.test"])
    assert verdict("new@guest.test", ctx) == 42


async def test_the_memo_is_bounded(db: asyncpg.Connection, alice: TestUser) -> None:
    await add_bulk_contacts(db, alice.account_id, 10)
    book = _book(alice, max_remembered=4)
    for n in range(10):
        ctx = await book.context_for(db, [f"contact{n}@example.com", f"stranger{n}@x.test"])
        # Whatever was forgotten, the page's own addresses are always known.
        assert verdict(f"contact{n}@example.com", ctx) not in (None, MEMBER)
    assert len(ctx.contact_ids_by_email) <= 4
