"""Queries for explaining one event: what Chronik holds for it, and what the rules need to
know about its addresses. Each reads only what the one event touches (no account-wide set)."""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True, slots=True)
class AddressFacts:
    contact_ids_by_email: dict[str, int]
    internal_domains: frozenset[str]
    user_emails: frozenset[str]  # those of `emails` that are the account's users
    auto_create_contacts: bool


async def address_facts(db: Executor, account_id: int, emails: Sequence[str]) -> AddressFacts:
    """What the rules need about `emails` (lower-cased) in the account, in one round trip."""
    record = await db.fetchrow(
        """
        SELECT
          (SELECT coalesce(array_agg(email ORDER BY email), '{}') FROM contact_emails
           WHERE account_id = $1 AND email = ANY($2::text[])) AS contact_emails,
          (SELECT coalesce(array_agg(contact_id ORDER BY email), '{}') FROM contact_emails
           WHERE account_id = $1 AND email = ANY($2::text[])) AS contact_ids,
          (SELECT coalesce(array_agg(domain), '{}') FROM account_domains
           WHERE account_id = $1) AS domains,
          (SELECT coalesce(array_agg(email), '{}') FROM users
           WHERE account_id = $1 AND email = ANY($2::text[])) AS users,
          (SELECT auto_create_contacts FROM accounts WHERE id = $1) AS auto
        """,
        account_id,
        list(emails),
    )
    assert record is not None
    return AddressFacts(
        contact_ids_by_email=dict(
            zip(record["contact_emails"], record["contact_ids"], strict=True)
        ),
        internal_domains=frozenset(record["domains"]),
        user_emails=frozenset(record["users"]),
        auto_create_contacts=bool(record["auto"]),
    )
