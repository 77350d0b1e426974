"""Rows of the bulk tables whose parent is gone: what the foreign keys dropped by migration 0005
would have refused. Always none when every delete goes through `db/cascade.py`; `chronik
status` reports them so a hand-written DELETE (or a bug) cannot go unnoticed."""

from __future__ import annotations

from db.types import Executor

# (what, anti-join): one per foreign key migration 0005 dropped. Each is an index-backed
# anti-join; ON DELETE SET NULL columns count only rows whose value is set.
_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "meetings without their account",
        "meetings m WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = m.account_id)",
    ),
    (
        "meetings pointing at a deleted connection",
        "meetings m WHERE m.connection_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM calendar_connections c WHERE c.id = m.connection_id)",
    ),
    (
        "meetings pointing at a deleted creator",
        "meetings m WHERE m.created_by_user_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM users u WHERE u.id = m.created_by_user_id)",
    ),
    (
        "attendees without their meeting",
        "meeting_attendees x WHERE NOT EXISTS (SELECT 1 FROM meetings m WHERE m.id = x.meeting_id)",
    ),
    (
        "timeline entries without their meeting",
        "timeline_entries t WHERE NOT EXISTS (SELECT 1 FROM meetings m WHERE m.id = t.meeting_id)",
    ),
    *(
        (
            f"{table.replace('_', ' ')} without their meeting",
            f"{table} x WHERE NOT EXISTS (SELECT 1 FROM meetings m WHERE m.id = x.meeting_id)",
        )
        for table in ("company_meetings", "deal_meetings", "ticket_meetings")
    ),
    (
        "timeline entries without their contact",
        "timeline_entries t WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = t.contact_id)",
    ),
    (
        "timeline entries without their account",
        "timeline_entries t WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.account_id)",
    ),
    (
        "timeline changes without their account",
        "timeline_changes t WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.account_id)",
    ),
)

_COUNT_ALL = "SELECT " + ", ".join(
    f"(SELECT count(*) FROM {relation}) AS c{i}" for i, (_, relation) in enumerate(_CHECKS)
)


async def orphaned_rows(db: Executor) -> dict[str, int]:
    """{what: how many} for every kind of orphaned row there is (empty when there are none)."""
    row = await db.fetchrow(_COUNT_ALL)
    assert row is not None
    return {what: row[f"c{i}"] for i, (what, _) in enumerate(_CHECKS) if row[f"c{i}"]}
