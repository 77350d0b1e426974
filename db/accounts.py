"""Queries on accounts and their internal email domains."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from db import cascade
from db.types import Executor


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    name: str
    integration_provider: str | None
    auto_create_contacts: bool
    match_companies_by_domain: bool


_COLUMNS = "id, name, integration_provider, auto_create_contacts, match_companies_by_domain"


def _account(record: asyncpg.Record) -> AccountRow:
    return AccountRow(**dict(record))


async def get_or_create_account(db: Executor, name: str) -> tuple[AccountRow, bool]:
    """The account named `name` (case-insensitively), created when missing; and whether it was."""
    created = await db.fetchrow(
        f"INSERT INTO accounts (name) VALUES ($1) ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
        name,
    )
    if created is not None:
        return _account(created), True
    existing = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM accounts WHERE lower(name) = lower($1)", name
    )
    assert existing is not None
    return _account(existing), False


async def get_account(db: Executor, account_id: int) -> AccountRow | None:
    record = await db.fetchrow(f"SELECT {_COLUMNS} FROM accounts WHERE id = $1", account_id)
    return _account(record) if record else None


async def list_domains(db: Executor, account_id: int) -> list[str]:
    """The account's internal email domains, alphabetically."""
    rows = await db.fetch(
        "SELECT domain FROM account_domains WHERE account_id = $1 ORDER BY domain", account_id
    )
    return [row["domain"] for row in rows]


async def add_domain(db: Executor, account_id: int, domain: str) -> bool:
    """Add a lower-cased domain; False when the account already had it."""
    status = await db.execute(
        "INSERT INTO account_domains (account_id, domain) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        account_id,
        domain,
    )
    return bool(status == "INSERT 0 1")


async def remove_domain(db: Executor, account_id: int, domain: str) -> bool:
    """Remove a domain; False when the account did not have it."""
    status = await db.execute(
        "DELETE FROM account_domains WHERE account_id = $1 AND domain = $2", account_id, domain
    )
    return bool(status == "DELETE 1")


async def install_integration(db: Executor, account_id: int, provider: str) -> bool:
    """Set the account's calendar provider; False (and no change) when another is installed."""
    record = await db.fetchrow(
        """
        UPDATE accounts SET integration_provider = $2
        WHERE id = $1 AND (integration_provider IS NULL OR integration_provider = $2)
        RETURNING id
        """,
        account_id,
        provider,
    )
    return record is not None


async def uninstall_integration(db: Executor, account_id: int) -> None:
    await db.execute("UPDATE accounts SET integration_provider = NULL WHERE id = $1", account_id)


async def set_auto_create_contacts(db: Executor, account_id: int, enabled: bool) -> None:
    await db.execute(
        "UPDATE accounts SET auto_create_contacts = $2 WHERE id = $1", account_id, enabled
    )


async def set_match_companies_by_domain(db: Executor, account_id: int, enabled: bool) -> None:
    await db.execute(
        "UPDATE accounts SET match_companies_by_domain = $2 WHERE id = $1", account_id, enabled
    )


async def delete_account(db: Executor, account_id: int) -> bool:
    """Delete the account and everything in it: the foreign keys cascade to its domains, users,
    contacts and connections; db/cascade.py does the bulk tables. False when there was none."""
    async with cascade.transaction(db) as conn:
        status = await conn.execute("DELETE FROM accounts WHERE id = $1", account_id)
        if status != "DELETE 1":
            return False
        await cascade.account_deleted(conn, account_id)
    return True
