"""Queries on tickets (their contacts, meetings and listing are in db/records.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db import records
from db.types import Executor


@dataclass(frozen=True, slots=True)
class TicketRow:
    id: int
    account_id: int
    subject: str
    status: str
    priority: str
    company_id: int | None
    created_at: datetime
    updated_at: datetime
    sort_key: str


@dataclass(frozen=True, slots=True)
class TicketFields:
    """The writable fields of a ticket; on update, None means "leave as is"."""

    subject: str | None = None
    status: str | None = None
    priority: str | None = None
    company_id: int | None = None
    # company_id may be cleared, which None cannot say on update.
    clear: frozenset[str] = frozenset()


_UPDATABLE = ("subject", "status", "priority", "company_id")


def ticket_row(record: asyncpg.Record) -> TicketRow:
    return TicketRow(**dict(record))


async def create_ticket(db: Executor, account_id: int, fields: TicketFields) -> TicketRow:
    record = await db.fetchrow(
        "INSERT INTO tickets (account_id, subject, status, priority, company_id) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING *",
        account_id,
        fields.subject,
        fields.status,
        fields.priority,
        fields.company_id,
    )
    assert record is not None
    return ticket_row(record)


async def update_ticket(
    db: Executor, account_id: int, ticket_id: int, fields: TicketFields
) -> TicketRow | None:
    """Apply the given fields to the account's ticket; None when it has no such ticket."""
    assignments = ["updated_at = now()"]
    args: list[object] = [account_id, ticket_id]
    for name in _UPDATABLE:
        value = getattr(fields, name)
        if value is not None or name in fields.clear:
            args.append(value)
            assignments.append(f"{name} = ${len(args)}")
    record = await db.fetchrow(
        f"UPDATE tickets SET {', '.join(assignments)} WHERE account_id = $1 AND id = $2 "
        "RETURNING *",
        *args,
    )
    return ticket_row(record) if record is not None else None


async def tickets_by_ids(
    db: Executor, account_id: int, ticket_ids: list[int]
) -> dict[int, TicketRow]:
    found = await records.rows_by_ids(db, records.TICKETS, account_id, ticket_ids)
    return {ticket_id: ticket_row(r) for ticket_id, r in found.items()}
