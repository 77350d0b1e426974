"""The convergence oracle (`tests/support/oracle.py`) applied to whole accounts of many
connections, as the worker tests need it: an adapter, so the oracle itself stays as written."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from tests.support.oracle import (
    Entry,
    actual_timelines,
    default_window_start,
    duplicate_problems,
    expected_timelines,
    listed_events,
    load_oracle_context,
)
from tests.support.sandboxes import Sandboxes


@dataclass(frozen=True)
class Verdict:
    expected: set[Entry]
    missing: set[Entry]  # on the oracle's timelines, not in the database: a lost meeting
    extra: set[Entry]  # in the database, not on the oracle's: a meeting that should be gone
    duplicates: list[str]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.duplicates)

    def explain(self) -> str:
        return (
            f"{len(self.missing)} missing (e.g. {sorted(self.missing)[:5]}), "
            f"{len(self.extra)} extra (e.g. {sorted(self.extra)[:5]}), "
            f"duplicates: {self.duplicates[:5]}"
        )


async def oracle_verdict(
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
    account_id: int,
    *,
    excluded_domains: frozenset[str] = frozenset(),
) -> Verdict:
    """Every linked calendar of the account, listed from scratch, against its timelines."""
    connections = await db.fetch(
        "SELECT provider, calendar_email, linked_at, window_start FROM calendar_connections "
        "WHERE account_id = $1 AND status = 'active'",
        account_id,
    )
    expected: set[Entry] = set()
    for connection in connections:
        linked_at = connection["linked_at"]
        events = await listed_events(
            sandboxes,
            connection["provider"],
            connection["calendar_email"],
            window_start=connection["window_start"] or default_window_start(linked_at),
        )
        context = await load_oracle_context(
            db,
            account_id,
            calendar_email=connection["calendar_email"],
            linked_at=linked_at,
            excluded_domains=excluded_domains,
        )
        expected |= expected_timelines(events, context)
    actual = await actual_timelines(db, account_id)
    return Verdict(
        expected, expected - actual, actual - expected, await duplicate_problems(db, account_id)
    )
