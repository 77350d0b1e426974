"""Companies: read, list, create, update and delete within the caller's account, link their
contacts, and page through the meetings of those contacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from db import companies as companies_db
from db.companies import CompanyEntryRow, CompanyFields, CompanyRow
from db.errors import DuplicateError
from resolvers.context import Context
from resolvers.errors import Conflict, NotFound, ValidationFailed
from resolvers.pagination import Page, page_size, split_page
from resolvers.validation import MAX_PHONE, clean_text, normalize_domain, search_text

MAX_DOMAINS = 20
# Contacts linked or unlinked in one call (a page of the contact list, and then some).
MAX_LINKED_AT_ONCE = 100
_OPTIONAL = ("industry", "phone", "city")


@dataclass(frozen=True, slots=True)
class CompanyChanges:
    """What a caller sent; on update, None means "not sent" and `clear` lists fields set to null."""

    name: str | None = None
    domains: Sequence[str] | None = None
    industry: str | None = None
    phone: str | None = None
    city: str | None = None
    clear: frozenset[str] = frozenset()


async def company(ctx: Context, company_id: int) -> CompanyRow:
    """The caller's company; `NotFound` when missing or another account's."""
    viewer = await ctx.viewer()
    found = await companies_db.companies_by_ids(ctx.pool, viewer.account_id, [company_id])
    if company_id not in found:
        raise NotFound("No company with this id.")
    return found[company_id]


async def companies_page(
    ctx: Context, *, first: int | None, after: tuple[str, int] | None, search: str | None
) -> Page[CompanyRow]:
    viewer = await ctx.viewer()
    size = page_size(first)
    search_text(search)
    rows = await companies_db.list_companies(
        ctx.pool, viewer.account_id, limit=size + 1, after=after, search=search
    )
    return split_page(rows, size)


async def count_companies(ctx: Context, search: str | None) -> int:
    viewer = await ctx.viewer()
    search_text(search)
    return await companies_db.count_companies(ctx.pool, viewer.account_id, search)


def _validated(changes: CompanyChanges, *, creating: bool) -> CompanyFields:
    if "name" in changes.clear:
        raise ValidationFailed("name: a company needs a name", field="name")
    name = clean_text(changes.name, field="name")
    if (creating or changes.name is not None) and not name:
        raise ValidationFailed("name: required", field="name")
    domains = None
    if changes.domains is not None:
        if len(changes.domains) > MAX_DOMAINS:
            raise ValidationFailed(f"domains: at most {MAX_DOMAINS}", field="domains")
        domains = [_domain(d) for d in changes.domains]
    optional = {
        "industry": clean_text(changes.industry, field="industry"),
        "phone": clean_text(changes.phone, field="phone", max_length=MAX_PHONE),
        "city": clean_text(changes.city, field="city"),
    }
    # A blank optional field clears it, exactly like an explicit null.
    clear = set(changes.clear) & set(_OPTIONAL)
    clear |= {f for f in _OPTIONAL if getattr(changes, f) is not None and optional[f] is None}
    return CompanyFields(name=name, domains=domains, clear=frozenset(clear), **optional)


def _domain(value: str) -> str:
    try:
        return normalize_domain(value)
    except ValidationFailed:
        raise ValidationFailed(
            f"domains: {value!r} is not a valid domain name", field="domains"
        ) from None


def _conflict(error: DuplicateError) -> Conflict:
    return Conflict("Another company of this account already has this domain.")


async def create_company(ctx: Context, changes: CompanyChanges) -> CompanyRow:
    viewer = await ctx.viewer()
    fields = _validated(changes, creating=True)
    try:
        async with ctx.pool.acquire() as conn:
            return await companies_db.create_company(conn, viewer.account_id, fields)
    except DuplicateError as exc:
        raise _conflict(exc) from None


async def update_company(ctx: Context, company_id: int, changes: CompanyChanges) -> CompanyRow:
    viewer = await ctx.viewer()
    fields = _validated(changes, creating=False)
    try:
        async with ctx.pool.acquire() as conn:
            row = await companies_db.update_company(conn, viewer.account_id, company_id, fields)
    except DuplicateError as exc:
        raise _conflict(exc) from None
    if row is None:
        raise NotFound("No company with this id.")
    return row


async def delete_company(ctx: Context, company_id: int) -> None:
    """Delete the company; its contacts and every meeting stay."""
    viewer = await ctx.viewer()
    if not await companies_db.delete_company(ctx.pool, viewer.account_id, company_id):
        raise NotFound("No company with this id.")


async def link_contacts(
    ctx: Context, company_id: int, contact_ids: Sequence[int], *, linked: bool
) -> CompanyRow:
    """Add (`linked`) or remove contacts of the account to or from its company, all or none;
    `NotFound` names the first id that is no contact of the caller's account."""
    viewer = await ctx.viewer()
    if not 1 <= len(contact_ids) <= MAX_LINKED_AT_ONCE:
        raise ValidationFailed(
            f"contactIds: between 1 and {MAX_LINKED_AT_ONCE} contacts", field="contactIds"
        )
    async with ctx.pool.acquire() as conn:
        unknown = await companies_db.link_contacts(
            conn, viewer.account_id, company_id, contact_ids, linked=linked
        )
    if unknown is None:
        raise NotFound("No company with this id.")
    if unknown:
        raise NotFound("No contact with this id.")
    return await company(ctx, company_id)


async def timeline(
    ctx: Context, company_id: int, *, first: int | None, after: tuple[datetime, int] | None
) -> Page[CompanyEntryRow]:
    """A page of the company's timeline (its contacts' meetings), newest first."""
    viewer = await ctx.viewer()
    size = page_size(first)
    rows = await companies_db.timeline_page(
        ctx.pool, viewer.account_id, company_id, limit=size + 1, after=after
    )
    for row in rows:
        ctx.loaders.meeting_by_id.prime(row.meeting.id, row.meeting)
    return split_page(rows, size)


async def count_timeline(ctx: Context, company_id: int) -> int:
    viewer = await ctx.viewer()
    return await companies_db.count_timeline(ctx.pool, viewer.account_id, company_id)
