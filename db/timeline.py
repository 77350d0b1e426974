"""Reads behind timelines and meetings: pages of entries, meetings, attendees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import asyncpg

from db.contacts import ContactRow
from db.types import Executor


@dataclass(frozen=True, slots=True)
class MeetingRow:
    id: int
    account_id: int
    connection_id: int | None
    source: str
    provider_event_id: str | None
    ical_uid: str | None
    kind: str
    series_id: str | None
    original_start: datetime | None
    title: str | None
    description: str | None
    location: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    time_zone: str | None
    all_day: bool
    status: str
    frozen: bool
    organizer_email: str | None
    created_at: datetime
    updated_at: datetime
    etag: str | None
    cancelled_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttendeeRow:
    meeting_id: int
    email: str
    display_name: str | None
    response: str
    is_organizer: bool


@dataclass(frozen=True, slots=True)
class EntryRow:
    id: int
    contact_id: int
    occurred_at: datetime
    meeting: MeetingRow


_MEETING_COLUMNS = """
    m.id, m.account_id, m.connection_id, m.source, m.provider_event_id, m.ical_uid, m.kind,
    m.series_id, m.original_start, m.title, m.description, m.location, m.starts_at, m.ends_at,
    m.time_zone, m.all_day, m.status, m.frozen, m.organizer_email, m.created_at, m.updated_at,
    m.etag, m.cancelled_at
"""
_MEETING_FIELDS = [f.strip().removeprefix("m.") for f in _MEETING_COLUMNS.split(",")]


def _meeting(record: asyncpg.Record) -> MeetingRow:
    return MeetingRow(*(record[name] for name in _MEETING_FIELDS))


# For the other record types' timelines (db/companies.py): the same columns, the same rows.
MEETING_COLUMNS = _MEETING_COLUMNS
meeting_row = _meeting


async def timeline_page(
    db: Executor,
    account_id: int,
    contact_id: int,
    *,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> list[EntryRow]:
    """Up to `limit` entries of the contact, newest first, strictly after the keyset."""
    after_at, after_id = after if after else (None, None)
    rows = await db.fetch(
        f"""
        SELECT e.id AS entry_id, e.contact_id, e.occurred_at, {_MEETING_COLUMNS}
        FROM timeline_entries e JOIN meetings m ON m.id = e.meeting_id
        WHERE e.contact_id = $1 AND e.account_id = $2 AND m.deleted_at IS NULL
          AND ($3::timestamptz IS NULL OR (e.occurred_at, e.id) < ($3, $4::bigint))
        ORDER BY e.occurred_at DESC, e.id DESC
        LIMIT $5
        """,
        contact_id,
        account_id,
        after_at,
        after_id,
        limit,
    )
    return [EntryRow(r["entry_id"], r["contact_id"], r["occurred_at"], _meeting(r)) for r in rows]


async def meetings_by_ids(
    db: Executor, account_id: int, meeting_ids: Sequence[int]
) -> dict[int, MeetingRow]:
    rows = await db.fetch(
        f"SELECT {_MEETING_COLUMNS} FROM meetings m "
        "WHERE m.account_id = $1 AND m.id = ANY($2::bigint[]) AND m.deleted_at IS NULL",
        account_id,
        list(meeting_ids),
    )
    return {r["id"]: _meeting(r) for r in rows}


@dataclass(frozen=True, slots=True)
class MeetingOwners:
    """Whose a meeting is: the user whose linked calendar holds it, and who scheduled it from
    Chronik (each None when there is none)."""

    calendar_user_id: int | None
    scheduled_by_user_id: int | None


async def meeting_owners(db: Executor, account_id: int, meeting_id: int) -> MeetingOwners | None:
    """The owners of the account's meeting; None when the account has no such meeting."""
    row = await db.fetchrow(
        "SELECT c.user_id, m.created_by_user_id FROM meetings m "
        "LEFT JOIN calendar_connections c ON c.id = m.connection_id "
        "WHERE m.account_id = $1 AND m.id = $2 AND m.deleted_at IS NULL",
        account_id,
        meeting_id,
    )
    return MeetingOwners(row[0], row[1]) if row else None


# $1 account, $2/$3 keyset, $4 contact, $5/$6 start range, $7 include cancelled.
_MEETING_FILTER = """
    WHERE m.account_id = $1 AND m.deleted_at IS NULL
      AND ($2::timestamptz IS NULL OR (m.starts_at, m.id) < ($2, $3::bigint))
      AND ($4::bigint IS NULL OR EXISTS (
            SELECT 1 FROM timeline_entries e WHERE e.meeting_id = m.id AND e.contact_id = $4))
      AND ($5::timestamptz IS NULL OR m.starts_at >= $5)
      AND ($6::timestamptz IS NULL OR m.starts_at < $6)
      AND ($7 OR m.status <> 'cancelled')
      AND m.starts_at IS NOT NULL
"""


async def count_meetings(
    db: Executor,
    account_id: int,
    *,
    contact_id: int | None,
    starts_from: datetime | None,
    starts_before: datetime | None,
    include_cancelled: bool,
) -> int:
    """How many meetings `list_meetings` pages through in all."""
    value = await db.fetchval(
        f"SELECT count(*) FROM meetings m {_MEETING_FILTER}",
        account_id,
        None,
        None,
        contact_id,
        starts_from,
        starts_before,
        include_cancelled,
    )
    return int(value)


async def count_timeline(db: Executor, account_id: int, contact_id: int) -> int:
    value = await db.fetchval(
        """
        SELECT count(*) FROM timeline_entries e JOIN meetings m ON m.id = e.meeting_id
        WHERE e.contact_id = $1 AND e.account_id = $2 AND m.deleted_at IS NULL
        """,
        contact_id,
        account_id,
    )
    return int(value)


async def list_meetings(
    db: Executor,
    account_id: int,
    *,
    limit: int,
    after: tuple[datetime, int] | None,
    contact_id: int | None,
    starts_from: datetime | None,
    starts_before: datetime | None,
    include_cancelled: bool,
) -> list[MeetingRow]:
    """The account's meetings, latest start first, filtered."""
    after_at, after_id = after if after else (None, None)
    rows = await db.fetch(
        f"SELECT {_MEETING_COLUMNS} FROM meetings m {_MEETING_FILTER}"
        " ORDER BY m.starts_at DESC, m.id DESC LIMIT $8",
        account_id,
        after_at,
        after_id,
        contact_id,
        starts_from,
        starts_before,
        include_cancelled,
        limit,
    )
    return [_meeting(r) for r in rows]


async def attendees_for_meetings(
    db: Executor, meeting_ids: Sequence[int]
) -> dict[int, list[AttendeeRow]]:
    rows = await db.fetch(
        """
        SELECT meeting_id, email, display_name, response, is_organizer FROM meeting_attendees
        WHERE meeting_id = ANY($1::bigint[]) ORDER BY meeting_id, position
        """,
        list(meeting_ids),
    )
    found: dict[int, list[AttendeeRow]] = {}
    for r in rows:
        found.setdefault(r["meeting_id"], []).append(AttendeeRow(*r.values()))
    return found


async def contact_ids_by_emails(
    db: Executor, account_id: int, emails: Sequence[str]
) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT email, contact_id FROM contact_emails "
        "WHERE account_id = $1 AND email = ANY($2::text[])",
        account_id,
        list(emails),
    )
    return {r["email"]: r["contact_id"] for r in rows}


async def entry_for(
    db: Executor, account_id: int, contact_id: int, meeting_id: int
) -> EntryRow | None:
    """The contact's entry for a meeting, if it is (still) on the timeline."""
    record = await db.fetchrow(
        f"""
        SELECT e.id AS entry_id, e.contact_id, e.occurred_at, {_MEETING_COLUMNS}
        FROM timeline_entries e JOIN meetings m ON m.id = e.meeting_id
        WHERE e.account_id = $1 AND e.contact_id = $2 AND e.meeting_id = $3
          AND m.deleted_at IS NULL
        """,
        account_id,
        contact_id,
        meeting_id,
    )
    if record is None:
        return None
    return EntryRow(
        record["entry_id"], record["contact_id"], record["occurred_at"], _meeting(record)
    )


async def entries_by_ids(
    db: Executor, account_id: int, entry_ids: Sequence[int]
) -> dict[int, EntryRow]:
    """The account's timeline entries of these ids (of meetings not deleted), by id."""
    rows = await db.fetch(
        f"""
        SELECT e.id AS entry_id, e.contact_id, e.occurred_at, {_MEETING_COLUMNS}
        FROM timeline_entries e JOIN meetings m ON m.id = e.meeting_id
        WHERE e.account_id = $1 AND e.id = ANY($2::bigint[]) AND m.deleted_at IS NULL
        """,
        account_id,
        list(entry_ids),
    )
    return {
        r["entry_id"]: EntryRow(r["entry_id"], r["contact_id"], r["occurred_at"], _meeting(r))
        for r in rows
    }


async def entries_for_pairs(
    db: Executor, account_id: int, pairs: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], EntryRow]:
    """`entry_for` of many (contact, meeting) pairs in one query: {pair: entry} for the pairs
    whose entry is (still) on the timeline."""
    rows = await db.fetch(
        f"""
        SELECT e.id AS entry_id, e.contact_id, e.occurred_at, {_MEETING_COLUMNS}
        FROM unnest($2::bigint[], $3::bigint[]) AS p (contact_id, meeting_id)
        JOIN timeline_entries e
          ON e.account_id = $1 AND e.contact_id = p.contact_id AND e.meeting_id = p.meeting_id
        JOIN meetings m ON m.id = e.meeting_id
        WHERE m.deleted_at IS NULL
        """,
        account_id,
        [contact for contact, _ in pairs],
        [meeting for _, meeting in pairs],
    )
    return {
        (r["contact_id"], r["id"]): EntryRow(
            r["entry_id"], r["contact_id"], r["occurred_at"], _meeting(r)
        )
        for r in rows
    }


class PageAttendee(NamedTuple):
    """An attendee of a page's meeting with the account's contact of that address, if any.

    A tuple, not a frozen dataclass: a page of 50 meetings has ~300 of them, and a frozen
    dataclass's `__init__` costs a `object.__setattr__` per field.
    """

    meeting_id: int
    email: str
    display_name: str | None
    response: str
    is_organizer: bool
    contact: ContactRow | None


async def attendees_with_contacts(
    db: Executor, account_id: int, meeting_ids: Sequence[int]
) -> dict[int, list[PageAttendee]]:
    """The meetings' attendees in order, each with the account's contact of that address.

    One statement for a whole page of meetings, where the loaders take three rounds (attendees,
    then contact ids by address, then contacts): a timeline page is read in a constant number
    of statements, and its attendee subtree is served without an await per field.
    """
    # A contact's columns come on the first of its rows only (`nth`, in the order of the
    # result): the page's contact attends every meeting of it, and each value costs decoding.
    rows = await db.fetch(
        """
        WITH att AS (
            SELECT a.meeting_id, a.position, a.email, a.display_name, a.response,
                   a.is_organizer, ce.contact_id,
                   row_number() OVER (PARTITION BY ce.contact_id
                                      ORDER BY a.meeting_id, a.position, a.email) AS nth
            FROM meeting_attendees a
            LEFT JOIN contact_emails ce ON ce.account_id = $1 AND ce.email = a.email
            WHERE a.meeting_id = ANY($2::bigint[])
        )
        SELECT att.meeting_id, att.email, att.display_name, att.response, att.is_organizer,
               att.contact_id, c.id, c.first_name, c.last_name, c.email, c.company_name, c.phone,
               c.created_at, c.updated_at, c.sort_key,
               CASE WHEN c.id IS NULL THEN NULL ELSE
                   ARRAY(SELECT x.email FROM contact_emails x
                         WHERE x.contact_id = c.id AND NOT x.is_primary ORDER BY x.position)
               END
        FROM att
        LEFT JOIN contacts c ON att.nth = 1 AND c.id = att.contact_id AND c.account_id = $1
        ORDER BY att.meeting_id, att.position, att.email
        """,
        account_id,
        list(meeting_ids),
    )
    contacts: dict[int, ContactRow] = {}
    found: dict[int, list[PageAttendee]] = {}
    for r in rows:
        # Positional: the columns of the SELECT above, in order.
        meeting_id, email, display_name, response, is_organizer, contact_id, found_id = r[:7]
        if found_id is not None:  # the first row of this contact, and it is the account's
            first, last, primary, company, phone, created, updated, sort_key, extra = r[7:]
            contacts[found_id] = ContactRow(
                found_id, account_id, first, last, primary, company, phone,
                created, updated, sort_key, extra,
            )  # fmt: skip
        contact = contacts.get(contact_id) if contact_id is not None else None
        attendees = found.get(meeting_id)
        if attendees is None:
            attendees = found[meeting_id] = []
        attendees.append(
            PageAttendee(meeting_id, email, display_name, response, is_organizer, contact)
        )
    return found
