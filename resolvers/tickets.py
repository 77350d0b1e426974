"""Tickets: read, list, create, update and delete within the caller's account (contacts,
timelines and listing through resolvers/records.py)."""

from __future__ import annotations

from dataclasses import dataclass

from db import tickets as tickets_db
from db.records import TICKETS
from db.tickets import TicketFields, TicketRow
from resolvers import records
from resolvers.context import Context
from resolvers.errors import ValidationFailed
from resolvers.validation import clean_text


@dataclass(frozen=True, slots=True)
class TicketChanges:
    """What a caller sent; on update, None means "not sent" and `clear` lists fields set to null."""

    subject: str | None = None
    status: str | None = None
    priority: str | None = None
    company_id: int | None = None
    clear: frozenset[str] = frozenset()


async def ticket(ctx: Context, ticket_id: int) -> TicketRow:
    """The caller's ticket; `NotFound` when missing or another account's."""
    viewer = await ctx.viewer()
    found = await tickets_db.tickets_by_ids(ctx.pool, viewer.account_id, [ticket_id])
    if ticket_id not in found:
        raise records.not_found(TICKETS)
    return found[ticket_id]


async def _validated(ctx: Context, changes: TicketChanges, *, creating: bool) -> TicketFields:
    for field in ("subject", "status", "priority"):
        if field in changes.clear:
            raise ValidationFailed(f"{field}: a ticket needs one", field=field)
    subject = clean_text(changes.subject, field="subject")
    if (creating or changes.subject is not None) and not subject:
        raise ValidationFailed("subject: required", field="subject")
    await records.checked_company(ctx, changes.company_id)
    return TicketFields(
        subject=subject,
        status=changes.status,
        priority=changes.priority,
        company_id=changes.company_id,
        clear=changes.clear & {"company_id"},
    )


async def create_ticket(ctx: Context, changes: TicketChanges) -> TicketRow:
    viewer = await ctx.viewer()
    fields = await _validated(ctx, changes, creating=True)
    return await tickets_db.create_ticket(ctx.pool, viewer.account_id, fields)


async def update_ticket(ctx: Context, ticket_id: int, changes: TicketChanges) -> TicketRow:
    viewer = await ctx.viewer()
    fields = await _validated(ctx, changes, creating=False)
    row = await tickets_db.update_ticket(ctx.pool, viewer.account_id, ticket_id, fields)
    if row is None:
        raise records.not_found(TICKETS)
    return row
