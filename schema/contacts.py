"""Contacts: the contact inputs, queries and mutations (the `Contact` type is in
linked_nodes.py)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from resolvers import contacts as resolve
from resolvers.contacts import ContactChanges
from resolvers.context import Context
from schema.ids import decode_id
from schema.linked_nodes import Contact
from schema.pagination import Connection, Edge, PageInfo, encode_cursor, name_keyset
from schema.permissions import AnyUser, guarded_by
from schema.selections import selects

ChronikInfo = Info[Context, None]


@strawberry.input
class CreateContactInput:
    email: str
    first_name: str | None = None
    last_name: str | None = None
    extra_emails: list[str] | None = None
    company_name: str | None = None
    phone: str | None = None


@strawberry.input(description="Only the fields sent change; null clears companyName or phone.")
class UpdateContactInput:
    email: str | None = strawberry.UNSET
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    extra_emails: list[str] | None = strawberry.UNSET
    company_name: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET


@strawberry.type
class DeleteContactPayload:
    deleted_contact_id: strawberry.ID


def _changes(data: CreateContactInput | UpdateContactInput) -> ContactChanges:
    sent = {name: value for name, value in vars(data).items() if value is not strawberry.UNSET}
    cleared = frozenset(name for name, value in sent.items() if value is None)
    if "extra_emails" in cleared:  # null extra emails: no extra emails
        sent["extra_emails"] = []
        cleared -= {"extra_emails"}
    values = {name: value for name, value in sent.items() if value is not None}
    return ContactChanges(**values, clear=cleared)


def _asks_for_page(info: ChronikInfo) -> bool:
    """Whether the query selects the list's edges or page info (not only its count)."""
    return any(
        selects(node.selection_set, "edges", info) or selects(node.selection_set, "pageInfo", info)
        for node in info._raw_info.field_nodes
    )


@strawberry.type
class ContactQueries:
    @strawberry.field(
        description="The account's contacts by name, `search` matching names, "
        "addresses and company.",
        extensions=guarded_by(AnyUser()),
    )
    async def contacts(
        self,
        info: ChronikInfo,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> Connection[Contact]:
        ctx = info.context
        keyset = name_keyset(after)
        if not _asks_for_page(info):
            # `totalCount` alone: the page would cost a search of its own for nothing.
            await resolve.check_page_arguments(ctx, first=first, search=search)
            return Connection(
                edges=[],
                page_info=PageInfo(
                    has_next_page=False,
                    has_previous_page=after is not None,
                    start_cursor=None,
                    end_cursor=None,
                ),
                count_all=lambda: resolve.count_contacts(ctx, search),
            )
        page = await resolve.contacts_page(ctx, first=first, after=keyset, search=search)
        edges = [
            Edge(cursor=encode_cursor([row.sort_key, row.id]), node=Contact.from_row(row))
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
            count_all=lambda: resolve.count_contacts(ctx, search),
        )

    @strawberry.field(extensions=guarded_by(AnyUser()))
    async def contact(self, info: ChronikInfo, id: strawberry.ID) -> Contact:
        row = await resolve.contact(info.context, decode_id("Contact", id))
        return Contact.from_row(row)


@strawberry.type
class ContactMutations:
    @strawberry.mutation(extensions=guarded_by(AnyUser()))
    async def create_contact(self, info: ChronikInfo, input: CreateContactInput) -> Contact:
        row = await resolve.create_contact(info.context, _changes(input))
        return Contact.from_row(row)

    @strawberry.mutation(extensions=guarded_by(AnyUser()))
    async def update_contact(
        self, info: ChronikInfo, id: strawberry.ID, input: UpdateContactInput
    ) -> Contact:
        row = await resolve.update_contact(info.context, decode_id("Contact", id), _changes(input))
        return Contact.from_row(row)

    @strawberry.mutation(
        description="Delete a contact; meetings stay in the calendar.",
        extensions=guarded_by(AnyUser()),
    )
    async def delete_contact(self, info: ChronikInfo, id: strawberry.ID) -> DeleteContactPayload:
        await resolve.delete_contact(info.context, decode_id("Contact", id))
        return DeleteContactPayload(deleted_contact_id=id)
