"""Queries for explaining one event: what Chronik holds for it (what the rules need to know
about its addresses is db/addresses.py). Each reads only what the one event touches."""

from __future__ import annotations

from dataclasses import dataclass

from db.types import Executor


@dataclass(frozen=True, slots=True)
class HeldMeeting:
    meeting_id: int
    frozen: bool
    deleted: bool  # removed in Chronik while the calendar event stays
    cancelled: bool
    contact_ids: frozenset[int]  # the timelines that show it now


async def held_meeting(
    db: Executor, account_id: int, connection_id: int, provider_event_id: str
) -> HeldMeeting | None:
    """The connection's meeting stored under `provider_event_id` (main or alternative id)."""
    record = await db.fetchrow(
        """
        SELECT m.id, m.frozen, m.deleted_at IS NOT NULL AS deleted,
               m.status = 'cancelled' AS cancelled,
               coalesce(array_agg(e.contact_id) FILTER (WHERE e.contact_id IS NOT NULL), '{}')
                   AS contact_ids
        FROM meetings m
        LEFT JOIN timeline_entries e ON e.meeting_id = m.id AND e.account_id = $1
        WHERE m.account_id = $1 AND m.connection_id = $2
          AND (m.provider_event_id = $3 OR m.provider_alt_id = $3)
        GROUP BY m.id
        ORDER BY m.provider_event_id = $3 DESC
        LIMIT 1
        """,
        account_id,
        connection_id,
        provider_event_id,
    )
    if record is None:
        return None
    return HeldMeeting(
        record["id"],
        record["frozen"],
        record["deleted"],
        record["cancelled"],
        frozenset(record["contact_ids"]),
    )
