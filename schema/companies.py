"""Companies: the company inputs, queries and mutations (the `Company` type is in
linked_nodes.py)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from resolvers import companies as resolve
from resolvers.companies import CompanyChanges
from resolvers.context import Context
from schema.ids import decode_id
from schema.linked_nodes import Company
from schema.pagination import Connection, Edge, PageInfo, encode_cursor, name_keyset
from schema.permissions import AnyUser, guarded_by

ChronikInfo = Info[Context, None]


@strawberry.input
class CreateCompanyInput:
    name: str
    domains: list[str] | None = None
    industry: str | None = None
    phone: str | None = None
    city: str | None = None


@strawberry.input(description="Only the fields sent change; null clears an optional field.")
class UpdateCompanyInput:
    name: str | None = strawberry.UNSET
    domains: list[str] | None = strawberry.UNSET
    industry: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET


@strawberry.type
class DeleteCompanyPayload:
    deleted_company_id: strawberry.ID


def _changes(data: CreateCompanyInput | UpdateCompanyInput) -> CompanyChanges:
    sent = {name: value for name, value in vars(data).items() if value is not strawberry.UNSET}
    cleared = frozenset(name for name, value in sent.items() if value is None)
    if "domains" in cleared:  # null domains: no domains
        sent["domains"] = []
        cleared -= {"domains"}
    values = {name: value for name, value in sent.items() if value is not None}
    return CompanyChanges(**values, clear=cleared)


@strawberry.type
class CompanyQueries:
    @strawberry.field(
        description="The account's companies by name, `search` matching names and domains.",
        extensions=guarded_by(AnyUser()),
    )
    async def companies(
        self,
        info: ChronikInfo,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> Connection[Company]:
        ctx = info.context
        page = await resolve.companies_page(
            ctx, first=first, after=name_keyset(after), search=search
        )
        edges = [
            Edge(cursor=encode_cursor([row.sort_key, row.id]), node=Company.from_row(row))
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
            count_all=lambda: resolve.count_companies(ctx, search),
        )

    @strawberry.field(extensions=guarded_by(AnyUser()))
    async def company(self, info: ChronikInfo, id: strawberry.ID) -> Company:
        row = await resolve.company(info.context, decode_id("Company", id))
        return Company.from_row(row)


def _contact_ids(ids: list[strawberry.ID]) -> list[int]:
    return [decode_id("Contact", contact_id) for contact_id in ids]


@strawberry.type
class CompanyMutations:
    @strawberry.mutation(extensions=guarded_by(AnyUser()))
    async def create_company(self, info: ChronikInfo, input: CreateCompanyInput) -> Company:
        row = await resolve.create_company(info.context, _changes(input))
        return Company.from_row(row)

    @strawberry.mutation(extensions=guarded_by(AnyUser()))
    async def update_company(
        self, info: ChronikInfo, id: strawberry.ID, input: UpdateCompanyInput
    ) -> Company:
        row = await resolve.update_company(info.context, decode_id("Company", id), _changes(input))
        return Company.from_row(row)

    @strawberry.mutation(
        description="Delete a company; its contacts and their meetings stay.",
        extensions=guarded_by(AnyUser()),
    )
    async def delete_company(self, info: ChronikInfo, id: strawberry.ID) -> DeleteCompanyPayload:
        await resolve.delete_company(info.context, decode_id("Company", id))
        return DeleteCompanyPayload(deleted_company_id=id)

    @strawberry.mutation(
        description="Associate contacts with a company (all or none; already there is fine).",
        extensions=guarded_by(AnyUser()),
    )
    async def add_company_contacts(
        self, info: ChronikInfo, company_id: strawberry.ID, contact_ids: list[strawberry.ID]
    ) -> Company:
        row = await resolve.link_contacts(
            info.context, decode_id("Company", company_id), _contact_ids(contact_ids), linked=True
        )
        return Company.from_row(row)

    @strawberry.mutation(
        description="Take contacts off a company (the contacts themselves stay).",
        extensions=guarded_by(AnyUser()),
    )
    async def remove_company_contacts(
        self, info: ChronikInfo, company_id: strawberry.ID, contact_ids: list[strawberry.ID]
    ) -> Company:
        row = await resolve.link_contacts(
            info.context, decode_id("Company", company_id), _contact_ids(contact_ids), linked=False
        )
        return Company.from_row(row)
