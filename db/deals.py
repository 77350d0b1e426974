"""Queries on deals (their contacts, meetings and listing are in db/records.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import asyncpg

from db import records
from db.types import Executor


@dataclass(frozen=True, slots=True)
class DealRow:
    id: int
    account_id: int
    name: str
    stage: str
    amount: Decimal | None
    close_date: date | None
    company_id: int | None
    created_at: datetime
    updated_at: datetime
    sort_key: str


@dataclass(frozen=True, slots=True)
class DealFields:
    """The writable fields of a deal; on update, None means "leave as is"."""

    name: str | None = None
    stage: str | None = None
    amount: Decimal | None = None
    close_date: date | None = None
    company_id: int | None = None
    # amount, close_date and company_id may be cleared, which None cannot say on update.
    clear: frozenset[str] = frozenset()


_UPDATABLE = ("name", "stage", "amount", "close_date", "company_id")


def deal_row(record: asyncpg.Record) -> DealRow:
    return DealRow(**dict(record))


async def create_deal(db: Executor, account_id: int, fields: DealFields) -> DealRow:
    record = await db.fetchrow(
        "INSERT INTO deals (account_id, name, stage, amount, close_date, company_id) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        account_id,
        fields.name,
        fields.stage,
        fields.amount,
        fields.close_date,
        fields.company_id,
    )
    assert record is not None
    return deal_row(record)


async def update_deal(
    db: Executor, account_id: int, deal_id: int, fields: DealFields
) -> DealRow | None:
    """Apply the given fields to the account's deal; None when it has no such deal."""
    assignments = ["updated_at = now()"]
    args: list[object] = [account_id, deal_id]
    for name in _UPDATABLE:
        value = getattr(fields, name)
        if value is not None or name in fields.clear:
            args.append(value)
            assignments.append(f"{name} = ${len(args)}")
    record = await db.fetchrow(
        f"UPDATE deals SET {', '.join(assignments)} WHERE account_id = $1 AND id = $2 RETURNING *",
        *args,
    )
    return deal_row(record) if record is not None else None


async def deals_by_ids(db: Executor, account_id: int, deal_ids: list[int]) -> dict[int, DealRow]:
    found = await records.rows_by_ids(db, records.DEALS, account_id, deal_ids)
    return {deal_id: deal_row(r) for deal_id, r in found.items()}
