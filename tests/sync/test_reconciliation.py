"""Periodic full reconciliation: a delta cannot report every change, so once the last full
round is older than `sync_reconcile_seconds` (weekly by default) a run lists the whole calendar
again and removes what is no longer there. Shown on Google, whose sandbox can lose a change
from its feed; the mechanism (db/sync_state.py, sync/engine.py) knows no provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar

NEXT_WEEK = (datetime.now(UTC) + timedelta(days=7)).replace(
    hour=10, minute=0, second=0, microsecond=0
)


async def test_a_weekly_full_round_removes_what_the_delta_missed(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test")
    await cal.calendar.create(title="Kept", start=NEXT_WEEK, guests=["carla@client.test"])
    lost = await cal.calendar.create(
        title="Lost", start=NEXT_WEEK + timedelta(days=1), guests=["carla@client.test"]
    )
    await cal.sync()
    assert await cal.titles(carla) == ["Kept", "Lost"]

    # The meeting leaves the calendar, and no delta will ever say so.
    await cal.calendar._call("POST", f"calendars/{alice.email}/events/{lost}/lose")
    await cal.sync()
    assert await cal.titles(carla) == ["Kept", "Lost"]

    # A week after the last full round, the next run is one.
    await db.execute("UPDATE calendar_connections SET full_round_at = now() - interval '8 days'")
    await cal.sync()
    assert await cal.titles(carla) == ["Kept"]
    recent = "SELECT full_round_at > now() - interval '1 minute' FROM calendar_connections"
    assert await db.fetchval(recent)
