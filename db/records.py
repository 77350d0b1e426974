"""What deals and tickets share: their contacts, the meetings scheduled from them (their
timeline), listing by sort key, and deletion. Each function takes a `RecordKind`, whose
table and column names are constants of this module, never input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.contacts import search_pattern
from db.timeline import MEETING_COLUMNS, MeetingRow, meeting_row
from db.types import Executor


@dataclass(frozen=True, slots=True)
class RecordKind:
    table: str  # deals
    key: str  # deal_id, in the association tables
    contacts: str  # deal_contacts
    meetings: str  # deal_meetings


DEALS = RecordKind("deals", "deal_id", "deal_contacts", "deal_meetings")
TICKETS = RecordKind("tickets", "ticket_id", "ticket_contacts", "ticket_meetings")


@dataclass(frozen=True, slots=True)
class RecordEntryRow:
    """One meeting of a record's timeline."""

    occurred_at: datetime
    meeting: MeetingRow


async def list_rows(
    db: Executor,
    kind: RecordKind,
    account_id: int,
    *,
    limit: int,
    after: tuple[str, int] | None,
    search: str | None,
) -> list[asyncpg.Record]:
    """Up to `limit` records of the account by sort key (name, subject), strictly after the
    keyset; `search` matches the sort key, case-insensitively."""
    after_key, after_id = after if after else (None, None)
    return list(
        await db.fetch(
            f"""
            SELECT * FROM {kind.table} r
            WHERE r.account_id = $1
              AND ($2::text IS NULL OR (r.sort_key, r.id) > ($2::text, $3::bigint))
              AND ($4::text IS NULL OR r.sort_key LIKE $4)
            ORDER BY r.sort_key, r.id
            LIMIT $5
            """,
            account_id,
            after_key,
            after_id,
            search_pattern(search),
            limit,
        )
    )


async def count_rows(db: Executor, kind: RecordKind, account_id: int, search: str | None) -> int:
    return int(
        await db.fetchval(
            f"SELECT count(*) FROM {kind.table} r WHERE r.account_id = $1 "
            "AND ($2::text IS NULL OR r.sort_key LIKE $2)",
            account_id,
            search_pattern(search),
        )
    )


async def rows_by_ids(
    db: Executor, kind: RecordKind, account_id: int, ids: Sequence[int]
) -> dict[int, asyncpg.Record]:
    """The account's records among `ids`, by id; others' are simply absent."""
    rows = await db.fetch(
        f"SELECT * FROM {kind.table} WHERE account_id = $1 AND id = ANY($2::bigint[])",
        account_id,
        list(ids),
    )
    return {r["id"]: r for r in rows}


async def delete_row(db: Executor, kind: RecordKind, account_id: int, record_id: int) -> bool:
    """Delete the account's record (its contact and meeting links go with it; the contacts,
    the company and the meetings stay); False when there was none."""
    status = await db.execute(
        f"DELETE FROM {kind.table} WHERE account_id = $1 AND id = $2", account_id, record_id
    )
    return bool(status == "DELETE 1")


async def link_contacts(
    conn: asyncpg.Connection,
    kind: RecordKind,
    account_id: int,
    record_id: int,
    contact_ids: Sequence[int],
    *,
    linked: bool,
) -> list[int] | None:
    """Add (`linked`) or remove contacts of the account to or from its record, all or none;
    returns the ids that are none of the account's contacts (nothing changes then), or None
    when the account has no such record."""
    async with conn.transaction():
        found = await conn.fetchval(
            f"SELECT id FROM {kind.table} WHERE account_id = $1 AND id = $2 FOR UPDATE",
            account_id,
            record_id,
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
                f"""
                INSERT INTO {kind.contacts} (account_id, {kind.key}, contact_id)
                SELECT $1, $2, c FROM unnest($3::bigint[]) AS c
                ON CONFLICT DO NOTHING
                """,
                account_id,
                record_id,
                sorted(known),
            )
        else:
            await conn.execute(
                f"DELETE FROM {kind.contacts} WHERE {kind.key} = $1 "
                "AND contact_id = ANY($2::bigint[])",
                record_id,
                sorted(known),
            )
        await conn.execute(f"UPDATE {kind.table} SET updated_at = now() WHERE id = $1", record_id)
    return []


async def contact_ids_of(
    db: Executor, kind: RecordKind, account_id: int, record_ids: Sequence[int]
) -> dict[int, list[int]]:
    """Each record's contact ids (by contact list order), for a page of records at once."""
    rows = await db.fetch(
        f"""
        SELECT x.{kind.key} AS record_id, x.contact_id FROM {kind.contacts} x
        JOIN contacts c ON c.id = x.contact_id
        WHERE x.account_id = $1 AND x.{kind.key} = ANY($2::bigint[])
        ORDER BY c.sort_key, c.id
        """,
        account_id,
        list(record_ids),
    )
    found: dict[int, list[int]] = {}
    for r in rows:
        found.setdefault(r["record_id"], []).append(r["contact_id"])
    return found


async def existing_ids(
    db: Executor, kind: RecordKind, account_id: int, ids: Sequence[int]
) -> set[int]:
    """Which of `ids` are records of the account."""
    rows = await db.fetch(
        f"SELECT id FROM {kind.table} WHERE account_id = $1 AND id = ANY($2::bigint[])",
        account_id,
        list(ids),
    )
    return {r["id"] for r in rows}


async def set_meeting_records(
    conn: asyncpg.Connection,
    kind: RecordKind,
    account_id: int,
    meeting_id: int,
    ids: Sequence[int],
) -> None:
    """Make the records the meeting was scheduled from exactly `ids` (of the account). Links
    that stay are left alone: their records' live timelines hear only of what changed."""
    await conn.execute(
        f"DELETE FROM {kind.meetings} WHERE meeting_id = $1 AND {kind.key} <> ALL($2::bigint[])",
        meeting_id,
        sorted(set(ids)),
    )
    await conn.execute(
        f"""
        INSERT INTO {kind.meetings} (account_id, {kind.key}, meeting_id)
        SELECT $1, r.id, $2 FROM {kind.table} r
        WHERE r.account_id = $1 AND r.id = ANY($3::bigint[])
        ON CONFLICT DO NOTHING
        """,
        account_id,
        meeting_id,
        sorted(set(ids)),
    )


async def timeline_page(
    db: Executor,
    kind: RecordKind,
    account_id: int,
    record_id: int,
    *,
    limit: int,
    after: tuple[datetime, int] | None,
) -> list[RecordEntryRow]:
    """Up to `limit` meetings scheduled from the record, newest first, strictly after the
    (start, meeting id) keyset, while they stand (not cancelled, not deleted in Chronik)."""
    after_at, after_id = after if after else (None, None)
    rows = await db.fetch(
        f"""
        SELECT coalesce(m.starts_at, m.created_at) AS occurred_at, {MEETING_COLUMNS}
        FROM {kind.meetings} x JOIN meetings m ON m.id = x.meeting_id
        WHERE x.{kind.key} = $1 AND x.account_id = $2 AND m.deleted_at IS NULL
          AND m.status <> 'cancelled'
          AND ($3::timestamptz IS NULL
               OR (coalesce(m.starts_at, m.created_at), m.id) < ($3, $4::bigint))
        ORDER BY coalesce(m.starts_at, m.created_at) DESC, m.id DESC
        LIMIT $5
        """,
        record_id,
        account_id,
        after_at,
        after_id,
        limit,
    )
    return [RecordEntryRow(r["occurred_at"], meeting_row(r)) for r in rows]


async def count_timeline(db: Executor, kind: RecordKind, account_id: int, record_id: int) -> int:
    return int(
        await db.fetchval(
            f"""
            SELECT count(*) FROM {kind.meetings} x JOIN meetings m ON m.id = x.meeting_id
            WHERE x.{kind.key} = $1 AND x.account_id = $2 AND m.deleted_at IS NULL
              AND m.status <> 'cancelled'
            """,
            record_id,
            account_id,
        )
    )


async def timeline_entry(
    db: Executor, kind: RecordKind, account_id: int, record_id: int, meeting_id: int
) -> tuple[RecordEntryRow | None, MeetingRow | None]:
    """Whether the meeting is on the record's timeline now: (its entry, or None when it is
    not) and the meeting itself (None when it is gone or deleted in Chronik)."""
    record = await db.fetchrow(
        f"""
        SELECT (SELECT coalesce(m.starts_at, m.created_at) FROM {kind.meetings} x
                WHERE x.{kind.key} = $1 AND x.meeting_id = m.id
                  AND m.status <> 'cancelled') AS occurred_at,
               {MEETING_COLUMNS}
        FROM meetings m
        WHERE m.id = $3 AND m.account_id = $2 AND m.deleted_at IS NULL
        """,
        record_id,
        account_id,
        meeting_id,
    )
    if record is None:
        return None, None
    meeting = meeting_row(record)
    if record["occurred_at"] is None:
        return None, meeting
    return RecordEntryRow(record["occurred_at"], meeting), meeting
