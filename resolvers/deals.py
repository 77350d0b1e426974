"""Deals: read, list, create, update and delete within the caller's account (contacts,
timelines and listing through resolvers/records.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from db import deals as deals_db
from db.deals import DealFields, DealRow
from db.records import DEALS
from resolvers import records
from resolvers.context import Context
from resolvers.errors import ValidationFailed
from resolvers.validation import clean_text

# numeric(18, 2): sixteen digits before the point.
MAX_AMOUNT = Decimal("9999999999999999.99")


@dataclass(frozen=True, slots=True)
class DealChanges:
    """What a caller sent; on update, None means "not sent" and `clear` lists fields set to null."""

    name: str | None = None
    stage: str | None = None
    amount: Decimal | None = None
    close_date: date | None = None
    company_id: int | None = None
    clear: frozenset[str] = frozenset()


async def deal(ctx: Context, deal_id: int) -> DealRow:
    """The caller's deal; `NotFound` when missing or another account's."""
    viewer = await ctx.viewer()
    found = await deals_db.deals_by_ids(ctx.pool, viewer.account_id, [deal_id])
    if deal_id not in found:
        raise records.not_found(DEALS)
    return found[deal_id]


def _amount(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    try:
        rounded = value.quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationFailed("amount: not a number", field="amount") from None
    if not rounded.is_finite() or not Decimal(0) <= rounded <= MAX_AMOUNT:
        raise ValidationFailed(f"amount: between 0 and {MAX_AMOUNT}", field="amount")
    return rounded


async def _validated(ctx: Context, changes: DealChanges, *, creating: bool) -> DealFields:
    if {"name", "stage"} & changes.clear:
        field = "name" if "name" in changes.clear else "stage"
        raise ValidationFailed(f"{field}: a deal needs one", field=field)
    name = clean_text(changes.name, field="name")
    if (creating or changes.name is not None) and not name:
        raise ValidationFailed("name: required", field="name")
    await records.checked_company(ctx, changes.company_id)
    return DealFields(
        name=name,
        stage=changes.stage,
        amount=_amount(changes.amount),
        close_date=changes.close_date,
        company_id=changes.company_id,
        clear=changes.clear & {"amount", "close_date", "company_id"},
    )


async def create_deal(ctx: Context, changes: DealChanges) -> DealRow:
    viewer = await ctx.viewer()
    fields = await _validated(ctx, changes, creating=True)
    return await deals_db.create_deal(ctx.pool, viewer.account_id, fields)


async def update_deal(ctx: Context, deal_id: int, changes: DealChanges) -> DealRow:
    viewer = await ctx.viewer()
    fields = await _validated(ctx, changes, creating=False)
    row = await deals_db.update_deal(ctx.pool, viewer.account_id, deal_id, fields)
    if row is None:
        raise records.not_found(DEALS)
    return row
