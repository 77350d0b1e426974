"""Contacts: read, list, create, update and delete within the caller's account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db import contacts as contacts_db
from db.contacts import ContactFields, ContactRow
from db.errors import DuplicateError
from resolvers.context import Context
from resolvers.errors import Conflict, NotFound, ValidationFailed
from resolvers.pagination import Page, page_size, split_page
from resolvers.validation import (
    MAX_EXTRA_EMAILS,
    MAX_PHONE,
    clean_text,
    normalize_email,
    search_text,
)


@dataclass(frozen=True, slots=True)
class ContactChanges:
    """What a caller sent; on update, None means "not sent" and `clear` lists fields set to null."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    extra_emails: Sequence[str] | None = None
    company_name: str | None = None
    phone: str | None = None
    clear: frozenset[str] = frozenset()


async def contact(ctx: Context, contact_id: int) -> ContactRow:
    """The caller's contact; `NotFound` when missing or another account's."""
    await ctx.viewer()
    row = await ctx.loaders.contact_by_id.load(contact_id)
    if row is None:
        raise NotFound("No contact with this id.")
    return row


async def contacts_page(
    ctx: Context, *, first: int | None, after: tuple[str, int] | None, search: str | None
) -> Page[ContactRow]:
    viewer = await ctx.viewer()
    size = page_size(first)
    search_text(search)
    rows = await contacts_db.list_contacts(
        ctx.pool, viewer.account_id, limit=size + 1, after=after, search=search
    )
    for row in rows:
        ctx.loaders.contact_by_id.prime(row.id, row)
    return split_page(rows, size)


async def check_page_arguments(ctx: Context, *, first: int | None, search: str | None) -> None:
    """The checks of `contacts_page`, for a query that asks only for the count."""
    await ctx.viewer()
    page_size(first)
    search_text(search)


async def count_contacts(ctx: Context, search: str | None) -> tuple[int, bool]:
    """(count, whether exact): counted up to `contacts_db.COUNT_CAP`."""
    viewer = await ctx.viewer()
    search_text(search)
    return await contacts_db.count_contacts(ctx.pool, viewer.account_id, search)


def _validated(changes: ContactChanges, *, creating: bool) -> ContactFields:
    if creating and not changes.email:
        raise ValidationFailed("email: required", field="email")
    if "email" in changes.clear:
        raise ValidationFailed("email: a contact needs a primary email", field="email")
    extras = None
    if changes.extra_emails is not None:
        if len(changes.extra_emails) > MAX_EXTRA_EMAILS:
            raise ValidationFailed(f"extraEmails: at most {MAX_EXTRA_EMAILS}", field="extraEmails")
        extras = [normalize_email(e, field="extraEmails") for e in changes.extra_emails]
    company = clean_text(changes.company_name, field="companyName")
    phone = clean_text(changes.phone, field="phone", max_length=MAX_PHONE)
    # A blank company or phone clears it, exactly like an explicit null.
    clear = set(changes.clear) & {"company_name", "phone"}
    if changes.company_name is not None and company is None:
        clear.add("company_name")
    if changes.phone is not None and phone is None:
        clear.add("phone")
    return ContactFields(
        first_name=clean_text(changes.first_name, field="firstName", blank=""),
        last_name=clean_text(changes.last_name, field="lastName", blank=""),
        email=normalize_email(changes.email) if changes.email is not None else None,
        company_name=company,
        phone=phone,
        extra_emails=extras,
        clear=frozenset(clear),
    )


def _conflict(error: DuplicateError) -> Conflict:
    return Conflict("Another contact of this account already has this email address.")


async def create_contact(ctx: Context, changes: ContactChanges) -> ContactRow:
    viewer = await ctx.viewer()
    fields = _validated(changes, creating=True)
    try:
        return await contacts_db.create_contact(ctx.pool, viewer.account_id, fields)
    except DuplicateError as exc:
        raise _conflict(exc) from None


async def update_contact(ctx: Context, contact_id: int, changes: ContactChanges) -> ContactRow:
    viewer = await ctx.viewer()
    fields = _validated(changes, creating=False)
    try:
        async with ctx.pool.acquire() as conn:
            row = await contacts_db.update_contact(conn, viewer.account_id, contact_id, fields)
    except DuplicateError as exc:
        raise _conflict(exc) from None
    if row is None:
        raise NotFound("No contact with this id.")
    return row


async def delete_contact(ctx: Context, contact_id: int) -> None:
    viewer = await ctx.viewer()
    if not await contacts_db.delete_contact(ctx.pool, viewer.account_id, contact_id):
        raise NotFound("No contact with this id.")
