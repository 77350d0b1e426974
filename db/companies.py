"""Queries on companies, their domains, their contacts, and the timeline of their meetings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from db.contacts import search_pattern
from db.errors import DuplicateError
from db.timeline import MEETING_COLUMNS, MeetingRow, meeting_row
from db.types import Executor


@dataclass(frozen=True, slots=True)
class CompanyRow:
    id: int
    account_id: int
    name: str
    industry: str | None
    phone: str | None
    city: str | None
    created_at: datetime
    updated_at: datetime
    sort_key: str
    domains: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CompanyEntryRow:
    """One meeting of a company's timeline."""

    occurred_at: datetime
    meeting: MeetingRow


@dataclass(frozen=True, slots=True)
class CompanyFields:
    """The writable fields of a company; on update, None means "leave as is"."""

    name: str | None = None
    industry: str | None = None
    phone: str | None = None
    city: str | None = None
    domains: Sequence[str] | None = None
    # The optional fields may be cleared, which None cannot say on update.
    clear: frozenset[str] = frozenset()


# Addresses at these domains are people's own mailboxes, not a company's: a contact at one is
# never found a company by its domain (nor at the account's own domains).
WEBMAIL_DOMAINS = (
    "aol.com",
    "gmail.com",
    "gmx.at",
    "gmx.ch",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hotmail.com",
    "icloud.com",
    "live.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "outlook.com",
    "proton.me",
    "protonmail.com",
    "qq.com",
    "t-online.de",
    "web.de",
    "yahoo.com",
    "yandex.ru",
)


def _domain_members(company: str, account: str, contacts: str = "NULL") -> str:
    """SQL: (company_id, contact_id) of the contacts found by domain, when the account opted
    in: an address of the contact is at a domain of the company, not one of the account's own
    domains and not webmail. `company`/`contacts` are SQL arrays (or NULL: any), `account` an
    id; the webmail list is inlined from the constant above, never from input."""
    webmail = ", ".join(f"'{d}'" for d in WEBMAIL_DOMAINS)
    return f"""
        SELECT d.company_id, e.contact_id
        FROM company_domains d
        JOIN accounts a ON a.id = d.account_id AND a.match_companies_by_domain
        JOIN contact_emails e ON e.account_id = d.account_id
                             AND split_part(e.email, '@', 2) = d.domain
        WHERE d.account_id = {account}
          AND ({company}::bigint[] IS NULL OR d.company_id = ANY({company}::bigint[]))
          AND ({contacts}::bigint[] IS NULL OR e.contact_id = ANY({contacts}::bigint[]))
          AND d.domain NOT IN ({webmail})
          AND NOT EXISTS (SELECT 1 FROM account_domains ad
                          WHERE ad.account_id = d.account_id AND ad.domain = d.domain)
    """


def _members(company: str, account: str, contacts: str = "NULL") -> str:
    """SQL: (company_id, contact_id) of every membership, linked or found by domain."""
    return f"""
        SELECT cc.company_id, cc.contact_id FROM company_contacts cc
        WHERE cc.account_id = {account}
          AND ({company}::bigint[] IS NULL OR cc.company_id = ANY({company}::bigint[]))
          AND ({contacts}::bigint[] IS NULL OR cc.contact_id = ANY({contacts}::bigint[]))
        UNION
        {_domain_members(company, account, contacts)}
    """


_SELECT = """
    SELECT c.id, c.account_id, c.name, c.industry, c.phone, c.city, c.created_at, c.updated_at,
           c.sort_key,
           ARRAY(SELECT d.domain FROM company_domains d
                 WHERE d.company_id = c.id ORDER BY d.position) AS domains
    FROM companies c
"""
_UPDATABLE = ("name", "industry", "phone", "city")


def _company(record: asyncpg.Record) -> CompanyRow:
    return CompanyRow(**dict(record))


async def create_company(
    conn: asyncpg.Connection, account_id: int, fields: CompanyFields
) -> CompanyRow:
    """Insert a company with its domains; `DuplicateError` when a domain already names another
    company of the account."""
    try:
        async with conn.transaction():
            company_id = await conn.fetchval(
                "INSERT INTO companies (account_id, name, industry, phone, city) "
                "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                account_id,
                fields.name,
                fields.industry,
                fields.phone,
                fields.city,
            )
            await _write_domains(conn, account_id, company_id, fields.domains or ())
            record = await conn.fetchrow(_SELECT + " WHERE c.id = $1", company_id)
    except asyncpg.UniqueViolationError as exc:
        raise DuplicateError(exc.constraint_name) from None
    assert record is not None
    return _company(record)


async def update_company(
    conn: asyncpg.Connection, account_id: int, company_id: int, fields: CompanyFields
) -> CompanyRow | None:
    """Apply the given fields to the account's company; None when it has no such company."""
    assignments = ["updated_at = now()"]
    args: list[object] = [account_id, company_id]
    for name in _UPDATABLE:
        value = getattr(fields, name)
        if value is not None or name in fields.clear:
            args.append(value)
            assignments.append(f"{name} = ${len(args)}")
    try:
        async with conn.transaction():
            found = await conn.fetchval(
                f"UPDATE companies SET {', '.join(assignments)} "
                "WHERE account_id = $1 AND id = $2 RETURNING id",
                *args,
            )
            if found is None:
                return None
            if fields.domains is not None:
                await conn.execute("DELETE FROM company_domains WHERE company_id = $1", company_id)
                await _write_domains(conn, account_id, company_id, fields.domains)
            record = await conn.fetchrow(_SELECT + " WHERE c.id = $1", company_id)
    except asyncpg.UniqueViolationError as exc:
        raise DuplicateError(exc.constraint_name) from None
    assert record is not None
    return _company(record)


async def _write_domains(
    conn: asyncpg.Connection, account_id: int, company_id: int, domains: Sequence[str]
) -> None:
    await conn.execute(
        """
        INSERT INTO company_domains (account_id, company_id, domain, position)
        SELECT $1, $2, d.domain, d.pos FROM unnest($3::text[]) WITH ORDINALITY AS d(domain, pos)
        """,
        account_id,
        company_id,
        list(dict.fromkeys(domains)),
    )


async def delete_company(db: Executor, account_id: int, company_id: int) -> bool:
    """Delete the account's company (its domains and contact links go with it; its contacts
    and their meetings stay); False when there was none."""
    status = await db.execute(
        "DELETE FROM companies WHERE account_id = $1 AND id = $2", account_id, company_id
    )
    return bool(status == "DELETE 1")


async def companies_by_ids(
    db: Executor, account_id: int, company_ids: Sequence[int]
) -> dict[int, CompanyRow]:
    """The account's companies among `company_ids`, by id; others' are simply absent."""
    rows = await db.fetch(
        _SELECT + " WHERE c.account_id = $1 AND c.id = ANY($2::bigint[])",
        account_id,
        list(company_ids),
    )
    return {row["id"]: _company(row) for row in rows}


def _matches_search(param: str) -> str:
    """SQL: company `c` matches the LIKE pattern in `param` (or the pattern is NULL)."""
    return f"""({param}::text IS NULL
               OR c.sort_key LIKE {param}
               OR EXISTS (SELECT 1 FROM company_domains d
                          WHERE d.company_id = c.id AND d.domain LIKE {param}))"""


async def list_companies(
    db: Executor,
    account_id: int,
    *,
    limit: int,
    after: tuple[str, int] | None = None,
    search: str | None = None,
) -> list[CompanyRow]:
    """Up to `limit` companies of the account by name, strictly after the `after` keyset;
    `search` matches the name and any domain, case-insensitively."""
    after_key, after_id = after if after else (None, None)
    rows = await db.fetch(
        _SELECT
        + """
        WHERE c.account_id = $1
          AND ($2::text IS NULL OR (c.sort_key, c.id) > ($2::text, $3::bigint))
          AND """
        + _matches_search("$4")
        + """
        ORDER BY c.sort_key, c.id
        LIMIT $5
        """,
        account_id,
        after_key,
        after_id,
        search_pattern(search),
        limit,
    )
    return [_company(row) for row in rows]


async def count_companies(db: Executor, account_id: int, search: str | None = None) -> int:
    """How many companies `list_companies` would page through in all."""
    return int(
        await db.fetchval(
            "SELECT count(*) FROM companies c WHERE c.account_id = $1 AND " + _matches_search("$2"),
            account_id,
            search_pattern(search),
        )
    )


async def link_contacts(
    conn: asyncpg.Connection,
    account_id: int,
    company_id: int,
    contact_ids: Sequence[int],
    *,
    linked: bool,
) -> list[int] | None:
    """Add (`linked`) or remove the account's contacts to or from its company; returns the
    ids among `contact_ids` that are none of the account's contacts (nothing changes then),
    or None when the account has no such company."""
    async with conn.transaction():
        found = await conn.fetchval(
            "SELECT id FROM companies WHERE account_id = $1 AND id = $2 FOR UPDATE",
            account_id,
            company_id,
        )
        if found is None:
            return None
        known = {
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM contacts WHERE account_id = $1 AND id = ANY($2::bigint[])",
                account_id,
                list(contact_ids),
            )
        }
        unknown = [c for c in contact_ids if c not in known]
        if unknown:
            return unknown
        if linked:
            await conn.execute(
                """
                INSERT INTO company_contacts (account_id, company_id, contact_id)
                SELECT $1, $2, c FROM unnest($3::bigint[]) AS c
                ON CONFLICT DO NOTHING
                """,
                account_id,
                company_id,
                sorted(known),
            )
        else:
            await conn.execute(
                "DELETE FROM company_contacts WHERE company_id = $1 "
                "AND contact_id = ANY($2::bigint[])",
                company_id,
                sorted(known),
            )
        await conn.execute("UPDATE companies SET updated_at = now() WHERE id = $1", company_id)
    return []


async def contact_ids_of_companies(
    db: Executor, account_id: int, company_ids: Sequence[int]
) -> dict[int, list[int]]:
    """Each company's contact ids (by contact list order), for a page of companies at once:
    those linked, and those found by domain when the account opted in."""
    rows = await db.fetch(
        f"""
        SELECT m.company_id, m.contact_id FROM ({_members("$2", "$1")}) m
        JOIN contacts c ON c.id = m.contact_id
        ORDER BY c.sort_key, c.id
        """,
        account_id,
        list(company_ids),
    )
    found: dict[int, list[int]] = {}
    for r in rows:
        found.setdefault(r["company_id"], []).append(r["contact_id"])
    return found


async def company_ids_of_contacts(
    db: Executor, account_id: int, contact_ids: Sequence[int]
) -> dict[int, list[int]]:
    """Each contact's company ids (by company name), for a page of contacts at once: linked,
    and found by domain when the account opted in."""
    rows = await db.fetch(
        f"""
        SELECT m.contact_id, m.company_id FROM ({_members("NULL", "$1", "$2")}) m
        JOIN companies c ON c.id = m.company_id
        ORDER BY c.sort_key, c.id
        """,
        account_id,
        list(contact_ids),
    )
    found: dict[int, list[int]] = {}
    for r in rows:
        found.setdefault(r["contact_id"], []).append(r["company_id"])
    return found


async def set_meeting_companies(
    conn: asyncpg.Connection, account_id: int, meeting_id: int, company_ids: Sequence[int]
) -> None:
    """Make the companies the meeting was scheduled from exactly `company_ids` (ids the
    caller checked are the account's: `existing_company_ids`). Links that stay are left
    alone: their companies' live timelines hear only of what changed."""
    await conn.execute(
        "DELETE FROM company_meetings WHERE meeting_id = $1 AND company_id <> ALL($2::bigint[])",
        meeting_id,
        sorted(set(company_ids)),
    )
    await conn.execute(
        """
        INSERT INTO company_meetings (account_id, company_id, meeting_id)
        SELECT $1, c.id, $2 FROM companies c
        WHERE c.account_id = $1 AND c.id = ANY($3::bigint[])
        ON CONFLICT DO NOTHING
        """,
        account_id,
        meeting_id,
        sorted(set(company_ids)),
    )


async def existing_company_ids(
    db: Executor, account_id: int, company_ids: Sequence[int]
) -> set[int]:
    """Which of `company_ids` are companies of the account."""
    rows = await db.fetch(
        "SELECT id FROM companies WHERE account_id = $1 AND id = ANY($2::bigint[])",
        account_id,
        list(company_ids),
    )
    return {r["id"] for r in rows}


async def meeting_company_ids(
    db: Executor, account_id: int, meeting_ids: Sequence[int]
) -> dict[int, list[int]]:
    """The companies each meeting was scheduled from, by company name."""
    rows = await db.fetch(
        """
        SELECT cm.meeting_id, cm.company_id FROM company_meetings cm
        JOIN companies c ON c.id = cm.company_id
        WHERE cm.account_id = $1 AND cm.meeting_id = ANY($2::bigint[])
        ORDER BY c.sort_key, c.id
        """,
        account_id,
        list(meeting_ids),
    )
    found: dict[int, list[int]] = {}
    for r in rows:
        found.setdefault(r["meeting_id"], []).append(r["company_id"])
    return found


async def timeline_page(
    db: Executor,
    account_id: int,
    company_id: int,
    *,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> list[CompanyEntryRow]:
    """Up to `limit` meetings on the timelines of the company's contacts, newest first, each
    once, strictly after the (occurred at, meeting id) keyset. One statement: each contact's
    own timeline index gives its first `limit` entries after the keyset, and the page is the
    first `limit` distinct meetings of those (a meeting among the page's is among the first
    `limit` of each of its contacts), so a page costs (contacts * limit) index rows at most,
    whatever the company's history. Meetings scheduled from the company join them."""
    after_at, after_id = after if after else (None, None)
    rows = await db.fetch(
        f"""
        WITH members AS (
            SELECT contact_id FROM ({_members("ARRAY[$1::bigint]", "$2")}) m
        ),
        hits AS (
            SELECT h.meeting_id, h.occurred_at
            FROM members CROSS JOIN LATERAL (
                SELECT e.meeting_id, e.occurred_at
                FROM timeline_entries e JOIN meetings m ON m.id = e.meeting_id
                WHERE e.contact_id = members.contact_id AND m.deleted_at IS NULL
                  AND ($3::timestamptz IS NULL OR (e.occurred_at, e.meeting_id) < ($3, $4::bigint))
                ORDER BY e.occurred_at DESC, e.meeting_id DESC
                LIMIT $5
            ) h
            UNION ALL
            -- Scheduled from the company: on its timeline while the meeting stands.
            SELECT * FROM (
                SELECT cm.meeting_id, coalesce(m.starts_at, m.created_at)
                FROM company_meetings cm JOIN meetings m ON m.id = cm.meeting_id
                WHERE cm.company_id = $1 AND cm.account_id = $2 AND m.deleted_at IS NULL
                  AND m.status <> 'cancelled'
                  AND ($3::timestamptz IS NULL
                       OR (coalesce(m.starts_at, m.created_at), m.id) < ($3, $4::bigint))
                ORDER BY coalesce(m.starts_at, m.created_at) DESC, m.id DESC
                LIMIT $5
            ) direct
        ),
        page AS (
            SELECT DISTINCT ON (occurred_at, meeting_id) meeting_id, occurred_at
            FROM hits
            ORDER BY occurred_at DESC, meeting_id DESC
            LIMIT $5
        )
        SELECT page.occurred_at, {MEETING_COLUMNS}
        FROM page JOIN meetings m ON m.id = page.meeting_id
        ORDER BY page.occurred_at DESC, page.meeting_id DESC
        """,
        company_id,
        account_id,
        after_at,
        after_id,
        limit,
    )
    return [CompanyEntryRow(r["occurred_at"], meeting_row(r)) for r in rows]


async def count_timeline(db: Executor, account_id: int, company_id: int) -> int:
    """How many meetings the company's timeline holds."""
    return int(
        await db.fetchval(
            f"""
            SELECT count(DISTINCT meeting_id) FROM (
                SELECT e.meeting_id
                FROM ({_members("ARRAY[$1::bigint]", "$2")}) cc
                JOIN timeline_entries e ON e.contact_id = cc.contact_id
                JOIN meetings m ON m.id = e.meeting_id AND m.deleted_at IS NULL
                UNION ALL
                SELECT cm.meeting_id
                FROM company_meetings cm
                JOIN meetings m ON m.id = cm.meeting_id
                WHERE cm.company_id = $1 AND cm.account_id = $2 AND m.deleted_at IS NULL
                  AND m.status <> 'cancelled'
            ) meetings
            """,
            company_id,
            account_id,
        )
    )


async def timeline_entry(
    db: Executor, account_id: int, company_id: int, meeting_id: int
) -> tuple[CompanyEntryRow | None, MeetingRow | None]:
    """Whether the meeting is on the company's timeline now: (its entry, or None when it is
    not) and the meeting itself (None when it is gone or deleted in Chronik)."""
    record = await db.fetchrow(
        f"""
        SELECT coalesce(
                   (SELECT max(e.occurred_at) FROM timeline_entries e
                    WHERE e.meeting_id = m.id AND e.contact_id IN (
                        SELECT contact_id FROM ({_members("ARRAY[$1::bigint]", "$2")}) x)),
                   (SELECT coalesce(m.starts_at, m.created_at) FROM company_meetings cm
                    WHERE cm.company_id = $1 AND cm.meeting_id = m.id
                      AND m.status <> 'cancelled')
               ) AS occurred_at,
               {MEETING_COLUMNS}
        FROM meetings m
        WHERE m.id = $3 AND m.account_id = $2 AND m.deleted_at IS NULL
        """,
        company_id,
        account_id,
        meeting_id,
    )
    if record is None:
        return None, None
    meeting = meeting_row(record)
    if record["occurred_at"] is None:
        return None, meeting
    return CompanyEntryRow(record["occurred_at"], meeting), meeting
