"""What the deal and ticket types share: their list cursors, contacts, company and timeline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import asyncpg
import strawberry
from strawberry.types import Info

from db.records import RecordKind
from resolvers import companies as resolve_companies
from resolvers import records as resolve_records
from resolvers.context import Context
from resolvers.pagination import Page
from schema.ids import decode_id
from schema.linked_nodes import Company, Contact, TimelineEntry, timeline_of_meetings
from schema.pagination import Connection, Edge, PageInfo, encode_cursor, name_keyset, time_keyset

Node = TypeVar("Node")


# Deals and tickets list by name like contacts and companies.
keyset = name_keyset


def contact_ids(ids: Iterable[strawberry.ID]) -> list[int]:
    return [decode_id("Contact", contact_id) for contact_id in ids]


def connection(
    page: Page[asyncpg.Record],
    node: Callable[[asyncpg.Record], Node],
    after: str | None,
    count_all: Callable[[], Awaitable[int]],
) -> Connection[Node]:
    """A page of records by sort key as a connection."""
    edges = [
        Edge(cursor=encode_cursor([row["sort_key"], row["id"]]), node=node(row))
        for row in page.rows
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count_all=count_all,
    )


async def company_of(ctx: Context, company_id: int | None) -> Company | None:
    """The company a record names (the foreign key keeps it the record's account's)."""
    if company_id is None:
        return None
    return Company.from_row(await resolve_companies.company(ctx, company_id))


async def contacts_of(ctx: Context, kind: RecordKind, record_id: int) -> list[Contact]:
    """A record's contacts, by name."""
    ids = await resolve_records.contact_ids(ctx, kind, record_id)
    rows = await ctx.loaders.contact_by_id.load_many(ids)
    return [Contact.from_row(row) for row in rows if row is not None]


async def record_timeline(
    info: Info[Context, None],
    kind: RecordKind,
    record_id: int,
    first: int | None,
    after: str | None,
) -> Connection[TimelineEntry]:
    """The meetings scheduled from a deal or a ticket, paged like a contact's timeline."""
    page = await resolve_records.timeline(
        info.context, kind, record_id, first=first, after=time_keyset(after)
    )
    return await timeline_of_meetings(
        info,
        page,
        f"{kind.table.capitalize()}TimelineEntry",
        after,
        lambda: resolve_records.count_timeline(info.context, kind, record_id),
    )
