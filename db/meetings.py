"""Queries on meetings, their attendees and the timeline entries that put them on contacts.

Writes are set-based (one statement per kind of change for a whole page of events) because a
first sync of a large calendar is thousands of events; every function takes the connection
of the caller's transaction, so a page commits together with its cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import orjson

from db import cascade
from db.types import Executor

TIMELINE_CHANNEL = "chronik_timeline"
# The row types below are built once per synced event (or attendee): plain slots classes,
# because frozen dataclasses cost several times more to build. Nothing mutates them.
# pg_notify payloads must stay under 8000 bytes; changes are batched up to this size.
_NOTIFY_BUDGET = 7000


@dataclass(slots=True)
class StoredMeeting:
    meeting_id: int
    provider_event_id: str
    provider_alt_id: str | None
    frozen: bool  # frozen by rule 7, or deleted in Chronik
    cancelled: bool
    etag: str | None
    deleted: bool = False  # deleted in Chronik (which freezes it too)


@dataclass(slots=True)
class AttendeeWrite:
    email: str
    display_name: str | None
    response: str
    is_organizer: bool


@dataclass(slots=True)
class MeetingWrite:
    provider_event_id: str
    # A second key the meeting is found under: a Graph instance's occurrenceId, how Graph
    # names that week once it is cancelled (`ProviderEvent.provider_alt_id`).
    provider_alt_id: str | None
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
    organizer_email: str | None
    provider_created_at: datetime | None
    provider_updated_at: datetime | None
    etag: str | None
    attendees: Sequence[AttendeeWrite]
    contact_ids: frozenset[int]
    # Rule 6: a cancelled occurrence of a series, logged as that week's meeting; its entries
    # follow the series' entry (`refresh_cancelled_weeks`), not `contact_ids`.
    cancelled_week: bool = False
    cancelled_at: datetime | None = None


@dataclass(slots=True)
class TimelineChange:
    contact_id: int
    meeting_id: int
    kind: str  # added | updated | removed


async def stored_meetings(
    conn: Executor, connection_id: int, provider_ids: Sequence[str]
) -> dict[str, StoredMeeting]:
    """The connection's meetings named by `provider_ids` (as main or alternative id)."""
    rows = await conn.fetch(
        """
        SELECT id, provider_event_id, provider_alt_id, frozen OR deleted_at IS NOT NULL AS frozen,
               status = 'cancelled' AS cancelled, etag, deleted_at IS NOT NULL AS deleted
        FROM meetings
        WHERE connection_id = $1
          AND (provider_event_id = ANY($2::text[]) OR provider_alt_id = ANY($2::text[]))
        """,
        connection_id,
        list(provider_ids),
    )
    found: dict[str, StoredMeeting] = {}
    aliases: list[tuple[str, StoredMeeting]] = []
    for r in rows:
        stored = StoredMeeting(
            r["id"],
            r["provider_event_id"],
            r["provider_alt_id"],
            r["frozen"],
            r["cancelled"],
            r["etag"],
            r["deleted"],
        )
        found[r["provider_event_id"]] = stored
        if r["provider_alt_id"]:
            aliases.append((r["provider_alt_id"], stored))
    # A meeting's own id wins over another's alternative id (a Graph cancelled week is keyed
    # by the occurrenceId a moved occurrence of that date carries as its alternative).
    for alt, stored in aliases:
        found.setdefault(alt, stored)
    return found


def meeting_rows_json(writes: Sequence[MeetingWrite]) -> str:
    """The meetings as `upsert_meetings` sends them."""
    # One JSON parameter instead of 18 arrays: asyncpg encodes array parameters element by
    # element in Python (a third of the worker's CPU in a large sync), orjson does this in C.
    return orjson.dumps(
        [
            {
                "p": w.provider_event_id,
                "alt": w.provider_alt_id,
                "uid": w.ical_uid,
                "k": w.kind,
                "s": w.series_id,
                "os": w.original_start,
                "t": w.title,
                "d": w.description,
                "l": w.location,
                "st": w.starts_at,
                "en": w.ends_at,
                "tz": w.time_zone,
                "ad": w.all_day,
                "stt": w.status,
                "org": w.organizer_email,
                "pc": w.provider_created_at,
                "pu": w.provider_updated_at,
                "e": w.etag,
                "cw": w.cancelled_week,
                "ca": w.cancelled_at,
            }
            for w in writes
        ]
    ).decode()


@dataclass(slots=True)
class UpsertedMeetings:
    ids: list[int]  # in the order of the writes
    # Those of them the upsert created: no attendees and no timeline entries yet.
    inserted: set[int]


async def upsert_meetings(
    conn: asyncpg.Connection,
    *,
    account_id: int,
    connection_id: int,
    source: str,
    seen_round: int,
    writes: Sequence[MeetingWrite],
    created_by_user_id: int | None = None,
) -> list[int]:
    """Insert or update the meetings (keyed by connection and provider id) and replace their
    attendees; return the meeting ids in `writes` order."""
    upserted = await write_meetings(
        conn,
        account_id=account_id,
        connection_id=connection_id,
        source=source,
        seen_round=seen_round,
        writes=writes,
        created_by_user_id=created_by_user_id,
    )
    return upserted.ids


async def write_meetings(
    conn: asyncpg.Connection,
    *,
    account_id: int,
    connection_id: int,
    source: str,
    seen_round: int,
    writes: Sequence[MeetingWrite],
    rows_json: str | None = None,
    created_by_user_id: int | None = None,
) -> UpsertedMeetings:
    """`upsert_meetings`, also telling which meetings are new. `rows_json`:
    `meeting_rows_json` of `writes`, when the caller built it ahead (the sync engine does,
    beside the previous page's transaction)."""
    if not writes:
        return UpsertedMeetings([], set())
    if rows_json is None:
        rows_json = meeting_rows_json(writes)
    rows = await conn.fetch(
        """
        INSERT INTO meetings AS m (
            account_id, connection_id, source, seen_round, created_by_user_id,
            provider_event_id, provider_alt_id, ical_uid, kind, series_id, original_start,
            title, description, location, starts_at, ends_at, time_zone, all_day, status,
            organizer_email, provider_created_at, provider_updated_at, etag,
            cancelled_week, cancelled_at)
        SELECT $1, $2, $3, $4, $6, u.p, u.alt, u.uid, u.k, u.s, u.os, u.t, u.d, u.l, u.st, u.en,
               u.tz, u.ad, u.stt, u.org, u.pc, u.pu, u.e, u.cw,
               CASE WHEN u.stt = 'cancelled' THEN coalesce(u.ca, now()) END
        FROM json_to_recordset($5::json) AS u(
            p text, alt text, uid text, k text, s text, os timestamptz, t text, d text,
            l text, st timestamptz, en timestamptz, tz text, ad boolean, stt text, org text,
            pc timestamptz, pu timestamptz, e text, cw boolean, ca timestamptz)
        ON CONFLICT (connection_id, provider_event_id) DO UPDATE SET
            provider_alt_id = excluded.provider_alt_id, ical_uid = excluded.ical_uid,
            kind = excluded.kind, series_id = excluded.series_id,
            original_start = excluded.original_start, title = excluded.title,
            description = excluded.description, location = excluded.location,
            starts_at = excluded.starts_at, ends_at = excluded.ends_at,
            time_zone = excluded.time_zone, all_day = excluded.all_day,
            status = excluded.status, organizer_email = excluded.organizer_email,
            provider_created_at = excluded.provider_created_at,
            provider_updated_at = excluded.provider_updated_at, etag = excluded.etag,
            seen_round = greatest(m.seen_round, excluded.seen_round), updated_at = now(),
            cancelled_week = excluded.cancelled_week,
            -- When it was first seen cancelled; restored, it is not cancelled any more.
            cancelled_at = CASE WHEN excluded.status = 'cancelled'
                                THEN coalesce(m.cancelled_at, excluded.cancelled_at) END,
            -- Scheduled from Chronik stays so, whoever stored the event first (the sync may
            -- see a new event before the scheduling request has saved it).
            source = CASE WHEN excluded.source = 'crm' THEN 'crm' ELSE m.source END,
            created_by_user_id = coalesce(m.created_by_user_id, excluded.created_by_user_id)
        -- xmax is 0 on a row this statement inserted (an updated row carries our lock).
        RETURNING id, provider_event_id, xmax = 0 AS inserted
        """,
        account_id,
        connection_id,
        source,
        seen_round,
        rows_json,
        created_by_user_id,
    )
    ids_by_provider = {}
    inserted = set()
    for r in rows:
        ids_by_provider[r[1]] = r[0]
        if r[2]:
            inserted.add(r[0])
    meeting_ids = [ids_by_provider[w.provider_event_id] for w in writes]
    await _replace_attendees(conn, meeting_ids, writes, inserted)
    return UpsertedMeetings(meeting_ids, inserted)


async def _replace_attendees(
    conn: asyncpg.Connection,
    meeting_ids: Sequence[int],
    writes: Sequence[MeetingWrite],
    inserted: AbstractSet[int],
) -> None:
    # A meeting just inserted has no attendees to delete (ids are never reused).
    stale = [meeting_id for meeting_id in meeting_ids if meeting_id not in inserted]
    if stale:
        await conn.execute(
            "DELETE FROM meeting_attendees WHERE meeting_id = ANY($1::bigint[])", stale
        )
    rows = [
        (meeting_id, a.email, a.display_name, a.response, a.is_organizer, position)
        for meeting_id, write in zip(meeting_ids, writes, strict=True)
        for position, a in enumerate(write.attendees)
    ]
    if rows:
        await conn.copy_records_to_table(
            "meeting_attendees",
            records=rows,
            columns=["meeting_id", "email", "display_name", "response", "is_organizer", "position"],
        )


async def set_timelines(
    conn: asyncpg.Connection,
    account_id: int,
    wanted: Sequence[tuple[int, datetime | None, frozenset[int]]],
    *,
    new_meetings: AbstractSet[int] = frozenset(),
) -> list[TimelineChange]:
    """Make each meeting's entries exactly the given contacts; return what changed.

    `wanted` holds (meeting id, occurred at, contact ids). Entries that stay are reported as
    updated (the meeting itself changed), new ones as added, dropped ones as removed.
    `new_meetings`: meetings known to have no entries yet (inserted by this transaction).
    """
    if not wanted:
        return []
    meeting_ids = [m for m, _, _ in wanted if m not in new_meetings]
    existing = (
        await conn.fetch(
            "SELECT contact_id, meeting_id FROM timeline_entries"
            " WHERE meeting_id = ANY($1::bigint[])",
            meeting_ids,
        )
        if meeting_ids
        else []
    )
    have: dict[int, set[int]] = {}
    for r in existing:
        have.setdefault(r["meeting_id"], set()).add(r["contact_id"])
    changes: list[TimelineChange] = []
    fresh: list[tuple[int, int, datetime | None]] = []  # entries of the new meetings
    add: list[tuple[int, int, datetime | None]] = []
    keep: list[tuple[int, int, datetime | None]] = []
    drop: list[tuple[int, int]] = []
    for meeting_id, occurred_at, contacts in wanted:
        if meeting_id in new_meetings:
            for contact_id in contacts:
                fresh.append((contact_id, meeting_id, occurred_at))
                changes.append(TimelineChange(contact_id, meeting_id, "added"))
            continue
        current = have.get(meeting_id, set())
        for contact_id in contacts - current:
            add.append((contact_id, meeting_id, occurred_at))
            changes.append(TimelineChange(contact_id, meeting_id, "added"))
        for contact_id in contacts & current:
            keep.append((contact_id, meeting_id, occurred_at))
            changes.append(TimelineChange(contact_id, meeting_id, "updated"))
        for contact_id in current - contacts:
            drop.append((contact_id, meeting_id))
            changes.append(TimelineChange(contact_id, meeting_id, "removed"))
    if fresh:
        await _insert_fresh_entries(conn, account_id, fresh)
    if add:
        await conn.execute(
            """
            WITH u AS (
                SELECT * FROM json_to_recordset($2::json) AS u(c bigint, m bigint, t timestamptz)
            ),
            -- Only contacts that still exist: one deleted meanwhile simply gets no entry. The
            -- lock (taken once per contact, where a foreign key took one per row) makes a
            -- concurrent delete_contact wait for this page, then remove its entries too.
            -- By the ids' array, not a join: an index probe per contact at any account size.
            live AS (SELECT id FROM contacts WHERE id = ANY($3::bigint[]) FOR KEY SHARE)
            INSERT INTO timeline_entries (account_id, contact_id, meeting_id, occurred_at)
            SELECT $1, u.c, u.m, coalesce(u.t, now())
            FROM u JOIN live ON live.id = u.c
            ON CONFLICT (contact_id, meeting_id) DO UPDATE SET occurred_at = excluded.occurred_at
            """,
            account_id,
            orjson.dumps([{"c": c, "m": m, "t": t} for c, m, t in add]).decode(),
            sorted({c for c, _, _ in add}),
        )
    if keep:
        contact_ids, ids, times = zip(*keep, strict=True)
        await conn.execute(
            """
            UPDATE timeline_entries e SET occurred_at = coalesce(u.t, e.occurred_at)
            FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS u(c, m, t)
            WHERE e.contact_id = u.c AND e.meeting_id = u.m AND e.occurred_at <> u.t
            """,
            list(contact_ids),
            list(ids),
            list(times),
        )
    if drop:
        await _delete_entries(conn, drop)
    return changes


async def _insert_fresh_entries(
    conn: asyncpg.Connection, account_id: int, entries: Sequence[tuple[int, int, datetime | None]]
) -> None:
    """Entries of meetings this transaction inserted, COPYed: none of them can exist yet, so
    there is no conflict to arbitrate and no JSON to decode (a third of PostgreSQL's time
    for them). Only for contacts that still exist, locked as above."""
    live = {
        r[0]
        for r in await conn.fetch(
            "SELECT id FROM contacts WHERE id = ANY($1::bigint[]) FOR KEY SHARE",
            sorted({contact_id for contact_id, _, _ in entries}),
        )
    }
    now = datetime.now(UTC)
    records = [
        (account_id, contact_id, meeting_id, now if occurred_at is None else occurred_at)
        for contact_id, meeting_id, occurred_at in entries
        if contact_id in live
    ]
    if records:
        await conn.copy_records_to_table(
            "timeline_entries",
            records=records,
            columns=("account_id", "contact_id", "meeting_id", "occurred_at"),
        )


async def _delete_entries(conn: asyncpg.Connection, pairs: Sequence[tuple[int, int]]) -> None:
    contact_ids, meeting_ids = zip(*pairs, strict=True)
    await conn.execute(
        """
        DELETE FROM timeline_entries e
        USING unnest($1::bigint[], $2::bigint[]) AS u(c, m)
        WHERE e.contact_id = u.c AND e.meeting_id = u.m
        """,
        list(contact_ids),
        list(meeting_ids),
    )


async def remove_meetings(
    conn: asyncpg.Connection, meeting_ids: Sequence[int], *, seen_round: int | None = None
) -> list[TimelineChange]:
    """Mark the meetings cancelled and take them off every timeline; return the removals."""
    if not meeting_ids:
        return []
    await conn.execute(
        """
        UPDATE meetings SET status = 'cancelled', updated_at = now(),
                            seen_round = coalesce($2, seen_round), cancelled_week = false,
                            cancelled_at = coalesce(cancelled_at, now())
        WHERE id = ANY($1::bigint[])
        """,
        list(meeting_ids),
        seen_round,
    )
    rows = await conn.fetch(
        "DELETE FROM timeline_entries WHERE meeting_id = ANY($1::bigint[]) "
        "RETURNING contact_id, meeting_id",
        list(meeting_ids),
    )
    return [TimelineChange(r["contact_id"], r["meeting_id"], "removed") for r in rows]


async def refresh_cancelled_weeks(
    conn: asyncpg.Connection,
    account_id: int,
    connection_id: int,
    series_ids: Sequence[str] | None,
) -> list[TimelineChange]:
    """Rule 6: give the cancelled weeks of the named series (every series of the connection
    when `series_ids` is None) exactly the contacts on their series' entry — none when the
    series is cancelled or deleted in Chronik — and what they lack of the series' details
    (Google may send a cancelled occurrence with its ids and times only). A frozen week
    (rule 7: frozen with its series) is left as it is."""
    if series_ids is not None and not series_ids:
        return []
    rows = await conn.fetch(
        """
        WITH weeks AS (
            SELECT w.id, w.series_id FROM meetings w
            WHERE w.connection_id = $1 AND w.cancelled_week AND NOT w.frozen
              AND ($2::text[] IS NULL OR w.series_id = ANY($2::text[]))
        ),
        series AS (
            SELECT s.id, s.provider_event_id, s.title, s.description, s.location,
                   s.ends_at - s.starts_at AS length, s.time_zone, s.organizer_email
            FROM meetings s
            WHERE s.connection_id = $1 AND s.kind = 'series' AND s.status <> 'cancelled'
              AND NOT s.frozen AND s.deleted_at IS NULL
              AND s.provider_event_id IN (SELECT series_id FROM weeks)
        ),
        filled AS (
            UPDATE meetings w SET
                title = coalesce(w.title, s.title),
                description = coalesce(w.description, s.description),
                location = coalesce(w.location, s.location),
                ends_at = coalesce(w.ends_at, w.starts_at + s.length),
                time_zone = coalesce(w.time_zone, s.time_zone),
                organizer_email = coalesce(w.organizer_email, s.organizer_email)
            FROM weeks JOIN series s ON s.provider_event_id = weeks.series_id
            WHERE w.id = weeks.id
              AND (w.title IS NULL OR w.ends_at IS NULL OR w.organizer_email IS NULL)
            RETURNING w.id
        )
        SELECT weeks.id AS meeting_id, m.starts_at, e.contact_id
        FROM weeks
        JOIN meetings m ON m.id = weeks.id
        LEFT JOIN series s ON s.provider_event_id = weeks.series_id
        LEFT JOIN timeline_entries e ON e.meeting_id = s.id
        """,
        connection_id,
        None if series_ids is None else list(series_ids),
    )
    wanted: dict[int, tuple[datetime | None, set[int]]] = {}
    for r in rows:
        _, contacts = wanted.setdefault(r["meeting_id"], (r["starts_at"], set()))
        if r["contact_id"] is not None:
            contacts.add(r["contact_id"])
    return await set_timelines(
        conn,
        account_id,
        [(mid, starts, frozenset(contacts)) for mid, (starts, contacts) in wanted.items()],
    )


async def delete_meetings(conn: asyncpg.Connection, meeting_ids: Sequence[int]) -> list[int]:
    """Delete the meetings for good, with their attendees and timeline entries (db/cascade.py;
    scheduling requests by their foreign key); return the ids that existed."""
    async with conn.transaction():
        rows = await conn.fetch(
            "DELETE FROM meetings WHERE id = ANY($1::bigint[]) RETURNING id", list(meeting_ids)
        )
        deleted = [r["id"] for r in rows]
        await cascade.meetings_deleted(conn, deleted)
    return deleted


async def freeze_meetings(
    conn: asyncpg.Connection, meeting_ids: Sequence[int], seen_round: int
) -> None:
    """Rule 7: freeze the meetings, and the cancelled weeks of the series among them (a
    series is frozen with its weeks: they keep their entries, `refresh_cancelled_weeks` and
    `unseen_meetings` leave them be)."""
    if meeting_ids:
        await conn.execute(
            """
            WITH frozen AS (
                UPDATE meetings SET frozen = true, seen_round = $2, updated_at = now()
                WHERE id = ANY($1::bigint[])
                RETURNING kind, connection_id, provider_event_id
            )
            UPDATE meetings w SET frozen = true, seen_round = $2, updated_at = now()
            FROM frozen s
            WHERE s.kind = 'series' AND w.connection_id = s.connection_id
              AND w.series_id = s.provider_event_id AND w.cancelled_week AND NOT w.frozen
              AND w.id <> ALL($1::bigint[])
            """,
            list(meeting_ids),
            seen_round,
        )


async def mark_seen(conn: asyncpg.Connection, meeting_ids: Sequence[int], seen_round: int) -> None:
    if meeting_ids:
        await conn.execute(
            "UPDATE meetings SET seen_round = $2 WHERE id = ANY($1::bigint[]) AND seen_round <> $2",
            list(meeting_ids),
            seen_round,
        )


async def series_of_removed(
    conn: Executor, connection_id: int, provider_ids: Sequence[str]
) -> tuple[int, set[str]]:
    """Of the removed items `provider_ids`: how many name a meeting of the connection, and the
    series those meetings belong to."""
    record = await conn.fetchrow(
        """
        SELECT count(DISTINCT provider_event_id) AS known,
               coalesce(array_agg(DISTINCT series_id) FILTER (WHERE series_id IS NOT NULL),
                        '{}') AS series
        FROM meetings
        WHERE connection_id = $1 AND provider_event_id = ANY($2::text[])
        """,
        connection_id,
        list(provider_ids),
    )
    assert record is not None
    return int(record["known"]), set(record["series"])


async def live_series_ids(conn: Executor, connection_id: int) -> list[str]:
    """Provider ids of the connection's recurring series still on timelines (not cancelled,
    not frozen, not deleted in Chronik)."""
    rows = await conn.fetch(
        """
        SELECT provider_event_id FROM meetings
        WHERE connection_id = $1 AND kind = 'series' AND status <> 'cancelled'
          AND NOT frozen AND deleted_at IS NULL
        ORDER BY provider_event_id
        """,
        connection_id,
    )
    return [r["provider_event_id"] for r in rows]


async def unseen_meetings(
    conn: asyncpg.Connection,
    connection_id: int,
    seen_round: int,
    *,
    listed_until: datetime | None = None,
) -> list[int]:
    """Live meetings (and cancelled weeks) of the connection a full round did not see: gone
    at the provider, or (a cancelled week) restored to an unchanged occurrence. With
    `listed_until`, only those starting before it: the round did not list later ones."""
    rows = await conn.fetch(
        """
        SELECT id FROM meetings
        WHERE connection_id = $1 AND seen_round < $2 AND NOT frozen
          AND (status <> 'cancelled' OR cancelled_week)
          AND ($3::timestamptz IS NULL OR starts_at IS NULL OR starts_at < $3)
        """,
        connection_id,
        seen_round,
        listed_until,
    )
    return [r["id"] for r in rows]


async def record_changes(
    conn: asyncpg.Connection, account_id: int, changes: Iterable[TimelineChange]
) -> None:
    """Append the changes to `timeline_changes` and announce them with pg_notify.

    Notifications are sent by this transaction, so PostgreSQL delivers them only if it
    commits: a subscriber never hears of a change that did not happen.
    """
    changes = list(changes)
    if not changes:
        return
    # COPYed: an append-only log, nothing to arbitrate.
    await conn.copy_records_to_table(
        "timeline_changes",
        records=[(account_id, c.contact_id, c.meeting_id, c.kind) for c in changes],
        columns=("account_id", "contact_id", "meeting_id", "kind"),
    )
    # All of a page's payloads in one statement (a round trip each cost more than sending).
    await conn.execute(
        "SELECT pg_notify($1, p.payload) FROM unnest($2::text[]) WITH ORDINALITY AS p(payload, n)"
        " ORDER BY p.n",
        TIMELINE_CHANNEL,
        _notify_payloads(account_id, changes),
    )


def _notify_payloads(account_id: int, changes: Sequence[TimelineChange]) -> list[str]:
    """Small JSON payloads of ids: {"a": account, "c": [[contact, meeting, kind], …]}."""
    payloads: list[str] = []
    batch: list[list[object]] = []
    size = 0
    for change in changes:
        item: list[object] = [change.contact_id, change.meeting_id, change.kind[0]]
        item_size = len(orjson.dumps(item)) + 1
        if batch and size + item_size > _NOTIFY_BUDGET:
            payloads.append(orjson.dumps({"a": account_id, "c": batch}).decode())
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        payloads.append(orjson.dumps({"a": account_id, "c": batch}).decode())
    return payloads
