"""Meetings and timelines within the caller's account, and asking for a sync."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from db import connections as connections_db
from db import sync_state
from db import timeline as timeline_db
from db.connections import ConnectionRow
from db.timeline import AttendeeRow, EntryRow, MeetingRow, PageAttendee
from resolvers.contacts import contact as caller_contact
from resolvers.context import Context
from resolvers.errors import NotFound, PreconditionFailed
from resolvers.pagination import Page, page_size, split_page
from resolvers.validation import instant


async def timeline(
    ctx: Context, contact_id: int, *, first: int | None, after: tuple[datetime, int] | None
) -> Page[EntryRow]:
    """A page of the contact's timeline, newest first; `NotFound` for another account's."""
    viewer = await ctx.viewer()
    await caller_contact(ctx, contact_id)
    size = page_size(first)
    async with ctx.statement_slot():
        rows = await timeline_db.timeline_page(
            ctx.pool, viewer.account_id, contact_id, limit=size + 1, after=after
        )
    for row in rows:
        ctx.loaders.meeting_by_id.prime(row.meeting.id, row.meeting)
    return split_page(rows, size)


async def timeline_attendees(ctx: Context, meeting_ids: list[int]) -> dict[int, list[PageAttendee]]:
    """The attendees of a page of the caller's meetings, each with its contact, in one read."""
    viewer = await ctx.viewer()
    # Callers pass ids of meetings they read through this account (a page of its timeline).
    async with ctx.statement_slot():
        return await timeline_db.attendees_with_contacts(ctx.pool, viewer.account_id, meeting_ids)


async def meeting(ctx: Context, meeting_id: int) -> MeetingRow:
    await ctx.viewer()
    row = await ctx.loaders.meeting_by_id.load(meeting_id)
    if row is None:
        raise NotFound("No meeting with this id.")
    return row


class Whose(Enum):
    """Whose a meeting is, seen from the caller."""

    OWN = "own"  # in the caller's linked calendar, or scheduled by the caller from Chronik
    COLLEAGUES = "colleagues"  # another user's of the account


async def whose_meeting(ctx: Context, meeting_id: int) -> Whose | None:
    """Whether the meeting is the caller's own or a colleague's; None when the caller's account
    has no such meeting (the operation then answers NOT_FOUND itself)."""
    viewer = await ctx.viewer()
    owners = await timeline_db.meeting_owners(ctx.pool, viewer.account_id, meeting_id)
    if owners is None:
        return None
    if viewer.user_id in (owners.calendar_user_id, owners.scheduled_by_user_id):
        return Whose.OWN
    return Whose.COLLEAGUES


@dataclass(frozen=True)
class MeetingFilters:
    contact_id: int | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    include_cancelled: bool = False


async def meetings_page(
    ctx: Context,
    *,
    first: int | None,
    after: tuple[datetime, int] | None,
    filters: MeetingFilters,
) -> Page[MeetingRow]:
    viewer = await ctx.viewer()
    if filters.contact_id is not None:
        await caller_contact(ctx, filters.contact_id)
    size = page_size(first)
    # A naive bound would be read as UTC by the database: refused, like in freeBusy.
    instant(filters.starts_from, field="startsFrom")
    instant(filters.starts_before, field="startsBefore")
    rows = await timeline_db.list_meetings(
        ctx.pool,
        viewer.account_id,
        limit=size + 1,
        after=after,
        contact_id=filters.contact_id,
        starts_from=filters.starts_from,
        starts_before=filters.starts_before,
        include_cancelled=filters.include_cancelled,
    )
    return split_page(rows, size)


async def attendees(ctx: Context, meeting_id: int) -> list[AttendeeRow]:
    return await ctx.loaders.attendees_by_meeting.load(meeting_id)


async def attendee_contact_id(ctx: Context, email: str) -> int | None:
    return await ctx.loaders.contact_id_by_email.load(email)


async def sync_now(ctx: Context) -> ConnectionRow:
    """Queue a sync of the caller's calendar right away."""
    viewer = await ctx.viewer()
    row = await connections_db.connection_for_user(ctx.pool, viewer.user_id)
    if row is None or row.status == "disconnected":
        raise NotFound("You have no linked calendar.")
    if row.status != "active":
        raise PreconditionFailed(
            "Your calendar link needs to be renewed: link the calendar again, then sync."
        )
    await sync_state.request_sync(ctx.pool, row.id)
    updated = await connections_db.connection_by_id(ctx.pool, row.id)
    assert updated is not None
    return updated


async def count_timeline(ctx: Context, contact_id: int) -> int:
    viewer = await ctx.viewer()
    async with ctx.statement_slot():
        return await timeline_db.count_timeline(ctx.pool, viewer.account_id, contact_id)


async def count_meetings(ctx: Context, filters: MeetingFilters) -> int:
    viewer = await ctx.viewer()
    return await timeline_db.count_meetings(
        ctx.pool,
        viewer.account_id,
        contact_id=filters.contact_id,
        starts_from=filters.starts_from,
        starts_before=filters.starts_before,
        include_cancelled=filters.include_cancelled,
    )
