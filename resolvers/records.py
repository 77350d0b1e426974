"""What the deal and ticket resolvers share: listing, contacts, the company they name, and
their timelines (the meetings scheduled from them), all within the caller's account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from db import companies as companies_db
from db import records as records_db
from db.records import RecordEntryRow, RecordKind
from resolvers.context import Context
from resolvers.errors import NotFound, ValidationFailed
from resolvers.pagination import Page, page_size, split_page
from resolvers.validation import search_text

# Contacts linked or unlinked in one call.
MAX_LINKED_AT_ONCE = 100
_NAMES = {"deals": "deal", "tickets": "ticket"}


def not_found(kind: RecordKind) -> NotFound:
    return NotFound(f"No {_NAMES[kind.table]} with this id.")


async def page(
    ctx: Context,
    kind: RecordKind,
    *,
    first: int | None,
    after: tuple[str, int] | None,
    search: str | None,
) -> Page[asyncpg.Record]:
    viewer = await ctx.viewer()
    size = page_size(first)
    search_text(search)
    rows = await records_db.list_rows(
        ctx.pool, kind, viewer.account_id, limit=size + 1, after=after, search=search
    )
    return split_page(rows, size)


async def count(ctx: Context, kind: RecordKind, search: str | None) -> int:
    viewer = await ctx.viewer()
    search_text(search)
    return await records_db.count_rows(ctx.pool, kind, viewer.account_id, search)


async def checked_company(ctx: Context, company_id: int | None) -> None:
    """A company the record names must be one of the caller's account."""
    if company_id is None:
        return
    viewer = await ctx.viewer()
    if not await companies_db.existing_company_ids(ctx.pool, viewer.account_id, [company_id]):
        raise NotFound("No company with this id.")


async def delete(ctx: Context, kind: RecordKind, record_id: int) -> None:
    viewer = await ctx.viewer()
    if not await records_db.delete_row(ctx.pool, kind, viewer.account_id, record_id):
        raise not_found(kind)


async def link_contacts(
    ctx: Context, kind: RecordKind, record_id: int, contact_ids: Sequence[int], *, linked: bool
) -> None:
    """Add (`linked`) or remove contacts of the account, all or none."""
    viewer = await ctx.viewer()
    if not 1 <= len(contact_ids) <= MAX_LINKED_AT_ONCE:
        raise ValidationFailed(
            f"contactIds: between 1 and {MAX_LINKED_AT_ONCE} contacts", field="contactIds"
        )
    async with ctx.pool.acquire() as conn:
        unknown = await records_db.link_contacts(
            conn, kind, viewer.account_id, record_id, contact_ids, linked=linked
        )
    if unknown is None:
        raise not_found(kind)
    if unknown:
        raise NotFound("No contact with this id.")


async def contact_ids(ctx: Context, kind: RecordKind, record_id: int) -> list[int]:
    viewer = await ctx.viewer()
    found = await records_db.contact_ids_of(ctx.pool, kind, viewer.account_id, [record_id])
    return found.get(record_id, [])


async def timeline(
    ctx: Context,
    kind: RecordKind,
    record_id: int,
    *,
    first: int | None,
    after: tuple[datetime, int] | None,
) -> Page[RecordEntryRow]:
    """A page of the meetings scheduled from the record, newest first."""
    viewer = await ctx.viewer()
    size = page_size(first)
    rows = await records_db.timeline_page(
        ctx.pool, kind, viewer.account_id, record_id, limit=size + 1, after=after
    )
    for row in rows:
        ctx.loaders.meeting_by_id.prime(row.meeting.id, row.meeting)
    return split_page(rows, size)


async def count_timeline(ctx: Context, kind: RecordKind, record_id: int) -> int:
    viewer = await ctx.viewer()
    return await records_db.count_timeline(ctx.pool, kind, viewer.account_id, record_id)


async def checked_ids(
    ctx: Context, kind: RecordKind, ids: Sequence[int] | None, *, field: str, most: int
) -> None:
    """Before the calendar is touched: every record named is the caller's account's."""
    if ids is None:
        return
    if len(ids) > most:
        raise ValidationFailed(f"{field}: at most {most}", field=field)
    viewer = await ctx.viewer()
    if set(ids) - await records_db.existing_ids(ctx.pool, kind, viewer.account_id, ids):
        raise not_found(kind)
