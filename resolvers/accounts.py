"""The caller, their account and the account's internal email domains.

Who may call what is checked before these run (schema/permissions.py).
"""

from __future__ import annotations

from db import accounts as accounts_db
from db.accounts import AccountRow
from resolvers.context import Context, Viewer
from resolvers.errors import NotFound
from resolvers.validation import normalize_domain


async def me(ctx: Context) -> Viewer:
    return await ctx.viewer()


async def account(ctx: Context) -> AccountRow:
    viewer = await ctx.viewer()
    row = await accounts_db.get_account(ctx.pool, viewer.account_id)
    assert row is not None  # a user always belongs to an existing account (ON DELETE CASCADE)
    return row


async def domains(ctx: Context) -> list[str]:
    viewer = await ctx.viewer()
    return await accounts_db.list_domains(ctx.pool, viewer.account_id)


async def add_domain(ctx: Context, domain: str) -> AccountRow:
    """Add an internal domain (idempotent): its addresses are never logged on timelines."""
    viewer = await ctx.viewer()
    await accounts_db.add_domain(ctx.pool, viewer.account_id, normalize_domain(domain))
    return await account(ctx)


async def remove_domain(ctx: Context, domain: str) -> AccountRow:
    viewer = await ctx.viewer()
    if not await accounts_db.remove_domain(ctx.pool, viewer.account_id, normalize_domain(domain)):
        raise NotFound("The account has no such internal domain.")
    return await account(ctx)


async def update_settings(
    ctx: Context,
    *,
    auto_create_contacts: bool | None = None,
    match_companies_by_domain: bool | None = None,
) -> AccountRow:
    """Opt in (or out) of creating contacts for unknown meeting guests, and of finding a
    contact's companies by the domain of its addresses (both off by default); a setting not
    given stays as it is."""
    viewer = await ctx.viewer()
    if auto_create_contacts is not None:
        await accounts_db.set_auto_create_contacts(
            ctx.pool, viewer.account_id, auto_create_contacts
        )
    if match_companies_by_domain is not None:
        await accounts_db.set_match_companies_by_domain(
            ctx.pool, viewer.account_id, match_companies_by_domain
        )
    return await account(ctx)
