"""The caller (`User`), their `Account`, and the account's internal domains."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from db.accounts import AccountRow
from resolvers import accounts as resolve
from resolvers.context import Context, Viewer
from schema.enums import CalendarProvider
from schema.ids import encode_id
from schema.permissions import AdminOnly, AnyUser, guarded_by

ChronikInfo = Info[Context, None]


@strawberry.type(description="A company using Chronik.")
class Account:
    id: strawberry.ID
    name: str
    auto_create_contacts: bool = strawberry.field(
        description="Unknown meeting guests become contacts (off by default)."
    )
    match_companies_by_domain: bool = strawberry.field(
        description="A contact also belongs to the companies at the domain of its addresses "
        "(never the account's own domains or webmail; off by default)."
    )
    integration_provider: CalendarProvider | None = strawberry.field(
        description="The calendar provider the account installed, if any."
    )

    @strawberry.field(description="Internal email domains: their addresses are never logged.")
    async def domains(self, info: ChronikInfo) -> list[str]:
        return await resolve.domains(info.context)

    @staticmethod
    def from_row(row: AccountRow) -> Account:
        return Account(
            id=encode_id("Account", row.id),
            name=row.name,
            auto_create_contacts=row.auto_create_contacts,
            match_companies_by_domain=row.match_companies_by_domain,
            integration_provider=(
                CalendarProvider(row.integration_provider) if row.integration_provider else None
            ),
        )


@strawberry.type(description="A person signed in to Chronik.")
class User:
    id: strawberry.ID
    email: str
    is_admin: bool

    @strawberry.field
    async def account(self, info: ChronikInfo) -> Account:
        return Account.from_row(await resolve.account(info.context))

    @staticmethod
    def from_viewer(viewer: Viewer) -> User:
        return User(
            id=encode_id("User", viewer.user_id), email=viewer.email, is_admin=viewer.is_admin
        )


@strawberry.type
class AccountQueries:
    @strawberry.field(description="The caller.", extensions=guarded_by(AnyUser()))
    async def me(self, info: ChronikInfo) -> User:
        return User.from_viewer(await resolve.me(info.context))

    @strawberry.field(description="The caller's account.", extensions=guarded_by(AnyUser()))
    async def account(self, info: ChronikInfo) -> Account:
        return Account.from_row(await resolve.account(info.context))


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        description="Add an internal email domain (admins only; idempotent).",
        extensions=guarded_by(AdminOnly("change the account's internal domains")),
    )
    async def add_account_domain(self, info: ChronikInfo, domain: str) -> Account:
        return Account.from_row(await resolve.add_domain(info.context, domain))

    @strawberry.mutation(
        description="Create contacts for unknown meeting guests, or stop; find contacts' "
        "companies by the domain of their addresses, or stop (admins only; both off by "
        "default; a setting not given stays).",
        extensions=guarded_by(AdminOnly("change the account's settings")),
    )
    async def update_account_settings(
        self,
        info: ChronikInfo,
        auto_create_contacts: bool | None = None,
        match_companies_by_domain: bool | None = None,
    ) -> Account:
        return Account.from_row(
            await resolve.update_settings(
                info.context,
                auto_create_contacts=auto_create_contacts,
                match_companies_by_domain=match_companies_by_domain,
            )
        )

    @strawberry.mutation(
        description="Remove an internal email domain (admins only).",
        extensions=guarded_by(AdminOnly("change the account's internal domains")),
    )
    async def remove_account_domain(self, info: ChronikInfo, domain: str) -> Account:
        return Account.from_row(await resolve.remove_domain(info.context, domain))
