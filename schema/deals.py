"""Deals: the `Deal` type, its inputs, and the deal queries and mutations."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum

import asyncpg
import strawberry
from strawberry.types import Info

from db.deals import DealRow, deal_row
from db.records import DEALS
from resolvers import deals as resolve
from resolvers import records as resolve_records
from resolvers.context import Context
from resolvers.deals import DealChanges
from schema import records
from schema.ids import decode_id, encode_id
from schema.linked_nodes import Company, Contact, TimelineEntry
from schema.pagination import Connection
from schema.permissions import AnyUser, guarded_by

ChronikInfo = Info[Context, None]


@strawberry.enum(description="Where a deal stands (the default sales pipeline).")
class DealStage(Enum):
    APPOINTMENT_SCHEDULED = "appointment_scheduled"
    QUALIFIED_TO_BUY = "qualified_to_buy"
    PRESENTATION_SCHEDULED = "presentation_scheduled"
    DECISION_MAKER_BOUGHT_IN = "decision_maker_bought_in"
    CONTRACT_SENT = "contract_sent"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"


@strawberry.type(description="A sale in progress, with its contacts and company.")
class Deal:
    id: strawberry.ID
    pk: strawberry.Private[int]
    company_pk: strawberry.Private[int | None]
    name: str
    stage: DealStage
    amount: Decimal | None = strawberry.field(description="Two decimals, never negative.")
    close_date: date | None
    created_at: datetime
    updated_at: datetime

    @strawberry.field
    async def company(self, info: ChronikInfo) -> Company | None:
        return await records.company_of(info.context, self.company_pk)

    @strawberry.field(description="The deal's contacts, by name.")
    async def contacts(self, info: ChronikInfo) -> list[Contact]:
        return await records.contacts_of(info.context, DEALS, self.pk)

    @strawberry.field(description="The meetings scheduled from the deal, newest first.")
    async def timeline(
        self, info: ChronikInfo, first: int | None = None, after: str | None = None
    ) -> Connection[TimelineEntry]:
        return await records.record_timeline(info, DEALS, self.pk, first, after)

    @staticmethod
    def from_row(row: DealRow) -> Deal:
        return Deal(
            id=encode_id("Deal", row.id),
            pk=row.id,
            company_pk=row.company_id,
            name=row.name,
            stage=DealStage(row.stage),
            amount=row.amount,
            close_date=row.close_date,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @staticmethod
    def from_record(record: asyncpg.Record) -> Deal:
        return Deal.from_row(deal_row(record))


@strawberry.input
class CreateDealInput:
    name: str
    stage: DealStage = DealStage.APPOINTMENT_SCHEDULED
    amount: Decimal | None = None
    close_date: date | None = None
    company_id: strawberry.ID | None = None


@strawberry.input(
    description="Only the fields sent change; null clears amount, closeDate or companyId."
)
class UpdateDealInput:
    name: str | None = strawberry.UNSET
    stage: DealStage | None = strawberry.UNSET
    amount: Decimal | None = strawberry.UNSET
    close_date: date | None = strawberry.UNSET
    company_id: strawberry.ID | None = strawberry.UNSET


@strawberry.type
class DeleteDealPayload:
    deleted_deal_id: strawberry.ID


def _changes(data: CreateDealInput | UpdateDealInput) -> DealChanges:
    sent = {name: value for name, value in vars(data).items() if value is not strawberry.UNSET}
    cleared = frozenset(name for name, value in sent.items() if value is None)
    values = {name: value for name, value in sent.items() if value is not None}
    if "stage" in values:
        values["stage"] = values["stage"].value
    if "company_id" in values:
        values["company_id"] = decode_id("Company", values["company_id"])
    return DealChanges(**values, clear=cleared)


@strawberry.type
class DealQueries:
    @strawberry.field(
        description="The account's deals by name, `search` matching names.",
        extensions=guarded_by(AnyUser()),
    )
    async def deals(
        self,
        info: ChronikInfo,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> Connection[Deal]:
        ctx = info.context
        page = await resolve_records.page(
            ctx, DEALS, first=first, after=records.keyset(after), search=search
        )
        return records.connection(
            page, Deal.from_record, after, lambda: resolve_records.count(ctx, DEALS, search)
        )

    @strawberry.field(extensions=guarded_by(AnyUser()))
    async def deal(self, info: ChronikInfo, id: strawberry.ID) -> Deal:
        return Deal.from_row(await resolve.deal(info.context, decode_id("Deal", id)))


@strawberry.type
class DealMutations:
    @strawberry.mutation(extensions=guarded_by(AnyUser()))
    async def create_deal(self, info: ChronikInfo, input: CreateDealInput) -> Deal:
        return Deal.from_row(await resolve.create_deal(info.context, _changes(input)))

    @strawberry.mutation(extensions=guarded_by(AnyUser()))
    async def update_deal(
        self, info: ChronikInfo, id: strawberry.ID, input: UpdateDealInput
    ) -> Deal:
        row = await resolve.update_deal(info.context, decode_id("Deal", id), _changes(input))
        return Deal.from_row(row)

    @strawberry.mutation(
        description="Delete a deal; its contacts, company and meetings stay.",
        extensions=guarded_by(AnyUser()),
    )
    async def delete_deal(self, info: ChronikInfo, id: strawberry.ID) -> DeleteDealPayload:
        await resolve_records.delete(info.context, DEALS, decode_id("Deal", id))
        return DeleteDealPayload(deleted_deal_id=id)

    @strawberry.mutation(
        description="Associate contacts with a deal (all or none).",
        extensions=guarded_by(AnyUser()),
    )
    async def add_deal_contacts(
        self, info: ChronikInfo, deal_id: strawberry.ID, contact_ids: list[strawberry.ID]
    ) -> Deal:
        pk = decode_id("Deal", deal_id)
        ids = records.contact_ids(contact_ids)
        await resolve_records.link_contacts(info.context, DEALS, pk, ids, linked=True)
        return Deal.from_row(await resolve.deal(info.context, pk))

    @strawberry.mutation(
        description="Take contacts off a deal (the contacts themselves stay).",
        extensions=guarded_by(AnyUser()),
    )
    async def remove_deal_contacts(
        self, info: ChronikInfo, deal_id: strawberry.ID, contact_ids: list[strawberry.ID]
    ) -> Deal:
        pk = decode_id("Deal", deal_id)
        ids = records.contact_ids(contact_ids)
        await resolve_records.link_contacts(info.context, DEALS, pk, ids, linked=False)
        return Deal.from_row(await resolve.deal(info.context, pk))
