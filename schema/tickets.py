"""Tickets: the `Ticket` type, its inputs, and the ticket queries and mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import asyncpg
import strawberry
from strawberry.types import Info

from db.records import TICKETS
from db.tickets import TicketRow, ticket_row
from resolvers import records as resolve_records
from resolvers import tickets as resolve
from resolvers.context import Context
from resolvers.tickets import TicketChanges
from schema import records
from schema.ids import decode_id, encode_id
from schema.linked_nodes import Company, Contact, TimelineEntry
from schema.pagination import Connection
from schema.permissions import AnyUser, guarded_by

ChronikInfo = Info[Context, None]


@strawberry.enum
class TicketStatus(Enum):
    NEW = "new"
    WAITING_ON_CONTACT = "waiting_on_contact"
    WAITING_ON_US = "waiting_on_us"
    CLOSED = "closed"


@strawberry.enum
class TicketPriority(Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


@strawberry.type(description="A customer's request, with its contacts and company.")
class Ticket:
    id: strawberry.ID
    pk: strawberry.Private[int]
    company_pk: strawberry.Private[int | None]
    subject: str
    status: TicketStatus
    priority: TicketPriority
    created_at: datetime
    updated_at: datetime

    @strawberry.field
    async def company(self, info: ChronikInfo) -> Company | None:
        return await records.company_of(info.context, self.company_pk)

    @strawberry.field(description="The ticket's contacts, by name.")
    async def contacts(self, info: ChronikInfo) -> list[Contact]:
        return await records.contacts_of(info.context, TICKETS, self.pk)

    @strawberry.field(description="The meetings scheduled from the ticket, newest first.")
    async def timeline(
        self, info: ChronikInfo, first: int | None = None, after: str | None = None
    ) -> Connection[TimelineEntry]:
        return await records.record_timeline(info, TICKETS, self.pk, first, after)

    @staticmethod
    def from_row(row: TicketRow) -> Ticket:
        return Ticket(
            id=encode_id("Ticket", row.id),
            pk=row.id,
            company_pk=row.company_id,
            subject=row.subject,
            status=TicketStatus(row.status),
            priority=TicketPriority(row.priority),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @staticmethod
    def from_record(record: asyncpg.Record) -> Ticket:
        return Ticket.from_row(ticket_row(record))


@strawberry.input
class CreateTicketInput:
    subject: str
    status: TicketStatus = TicketStatus.NEW
    priority: TicketPriority = TicketPriority.MEDIUM
    company_id: strawberry.ID | None = None


@strawberry.input(description="Only the fields sent change; null clears companyId.")
class UpdateTicketInput:
    subject: str | None = strawberry.UNSET
    status: TicketStatus | None = strawberry.UNSET
    priority: TicketPriority | None = strawberry.UNSET
    company_id: strawberry.ID | None = strawberry.UNSET


@strawberry.type
class DeleteTicketPayload:
    deleted_ticket_id: strawberry.ID


def _changes(data: CreateTicketInput | UpdateTicketInput) -> TicketChanges:
    sent = {name: value for name, value in vars(data).items() if value is not strawberry.UNSET}
    cleared = frozenset(name for name, value in sent.items() if value is None)
    values = {name: value for name, value in sent.items() if value is not None}
    for enum_field in ("status", "priority"):
        if enum_field in values:
            values[enum_field] = values[enum_field].value
    if "company_id" in values:
        values["company_id"] = decode_id("Company", values["company_id"])
    return TicketChanges(**values, clear=cleared)


@strawberry.type
class TicketQueries:
    @strawberry.field(
        description="The account's tickets by subject, `search` matching subjects.",
        extensions=guarded_by(AnyUser()),
    )
    async def tickets(
        self,
        info: ChronikInfo,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> Connection[Ticket]:
        ctx = info.context
        page = await resolve_records.page(
            ctx, TICKETS, first=first, after=records.keyset(after), search=search
        )
        return records.connection(
            page, Ticket.from_record, after, lambda: resolve_records.count(ctx, TICKETS, search)
        )

    @strawberry.field(extensions=guarded_by(AnyUser()))
    async def ticket(self, info: ChronikInfo, id: strawberry.ID) -> Ticket:
        return Ticket.from_row(await resolve.ticket(info.context, decode_id("Ticket", id)))


@strawberry.type
class TicketMutations:
    @strawberry.mutation(extensions=guarded_by(AnyUser()))
    async def create_ticket(self, info: ChronikInfo, input: CreateTicketInput) -> Ticket:
        return Ticket.from_row(await resolve.create_ticket(info.context, _changes(input)))

    @strawberry.mutation(extensions=guarded_by(AnyUser()))
    async def update_ticket(
        self, info: ChronikInfo, id: strawberry.ID, input: UpdateTicketInput
    ) -> Ticket:
        row = await resolve.update_ticket(info.context, decode_id("Ticket", id), _changes(input))
        return Ticket.from_row(row)

    @strawberry.mutation(
        description="Delete a ticket; its contacts, company and meetings stay.",
        extensions=guarded_by(AnyUser()),
    )
    async def delete_ticket(self, info: ChronikInfo, id: strawberry.ID) -> DeleteTicketPayload:
        await resolve_records.delete(info.context, TICKETS, decode_id("Ticket", id))
        return DeleteTicketPayload(deleted_ticket_id=id)

    @strawberry.mutation(
        description="Associate contacts with a ticket (all or none).",
        extensions=guarded_by(AnyUser()),
    )
    async def add_ticket_contacts(
        self, info: ChronikInfo, ticket_id: strawberry.ID, contact_ids: list[strawberry.ID]
    ) -> Ticket:
        pk = decode_id("Ticket", ticket_id)
        ids = records.contact_ids(contact_ids)
        await resolve_records.link_contacts(info.context, TICKETS, pk, ids, linked=True)
        return Ticket.from_row(await resolve.ticket(info.context, pk))

    @strawberry.mutation(
        description="Take contacts off a ticket (the contacts themselves stay).",
        extensions=guarded_by(AnyUser()),
    )
    async def remove_ticket_contacts(
        self, info: ChronikInfo, ticket_id: strawberry.ID, contact_ids: list[strawberry.ID]
    ) -> Ticket:
        pk = decode_id("Ticket", ticket_id)
        ids = records.contact_ids(contact_ids)
        await resolve_records.link_contacts(info.context, TICKETS, pk, ids, linked=False)
        return Ticket.from_row(await resolve.ticket(info.context, pk))
