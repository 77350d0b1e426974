"""Objects by id for `node` / `nodes`: each kind read in one statement, within the caller's
account (another account's ids find nothing)."""

from __future__ import annotations

from collections.abc import Sequence

from db import connections as connections_db
from db import timeline as timeline_db
from db.connections import ConnectionRow
from db.contacts import ContactRow
from db.timeline import EntryRow, MeetingRow
from resolvers.context import Context
from resolvers.errors import ValidationFailed

# Ids one `nodes` call may ask for (a page of a list is at most 100 long).
MAX_NODES = 100


def check_count(ids: Sequence[object]) -> None:
    if len(ids) > MAX_NODES:
        raise ValidationFailed(f"ids: at most {MAX_NODES} ids at once", field="ids")


async def contacts(ctx: Context, ids: Sequence[int]) -> dict[int, ContactRow]:
    await ctx.viewer()
    rows = await ctx.loaders.contact_by_id.load_many(list(ids))
    return {row.id: row for row in rows if row is not None}


async def meetings(ctx: Context, ids: Sequence[int]) -> dict[int, MeetingRow]:
    await ctx.viewer()
    rows = await ctx.loaders.meeting_by_id.load_many(list(ids))
    return {row.id: row for row in rows if row is not None}


async def timeline_entries(ctx: Context, ids: Sequence[int]) -> dict[int, EntryRow]:
    viewer = await ctx.viewer()
    return await timeline_db.entries_by_ids(ctx.pool, viewer.account_id, ids)


async def calendar_connections(ctx: Context, ids: Sequence[int]) -> dict[int, ConnectionRow]:
    """The account's connections of these ids: a member's own only (a colleague's is for
    admins, as in `calendarConnections`; the permission rule refuses it first)."""
    viewer = await ctx.viewer()
    found = await connections_db.connections_by_ids(ctx.pool, viewer.account_id, ids)
    return {
        pk: row for pk, row in found.items() if viewer.is_admin or row.user_id == viewer.user_id
    }


async def colleagues_connections(ctx: Context, ids: Sequence[int]) -> bool:
    """Whether any of these ids is a colleague's calendar connection, for a member."""
    viewer = await ctx.viewer()
    if viewer.is_admin or not ids:
        return False
    found = await connections_db.connections_by_ids(ctx.pool, viewer.account_id, ids)
    return any(row.user_id != viewer.user_id for row in found.values())
