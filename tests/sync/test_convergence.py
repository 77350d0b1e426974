"""Convergence under faults: whatever happened at the provider, the timelines end up right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.sandbox.runner import RunningSandboxes
from tests.support.oracle import (
    actual_timelines,
    default_window_start,
    duplicate_problems,
    expected_timelines,
    listed_events,
    load_oracle_context,
)
from tests.support.sync import LinkedCalendar


async def test_oracle_matches_a_plain_sync(cal: LinkedCalendar, sandboxes: RunningSandboxes):
    await cal.contact("carol@client.test")
    await cal.contact("dave@client.test")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    await cal.calendar.create(title="Kickoff", start=start, guests=["carol@client.test"])
    await cal.calendar.create(
        title="Weekly", start=start, guests=["dave@client.test", "x@acme.test"], weekly=4
    )
    await cal.calendar.create(title="Internal", start=start, guests=["bob@acme.test"])
    await cal.sync()
    row = await cal.db.fetchrow(
        "SELECT account_id, calendar_email, linked_at FROM calendar_connections"
    )
    events = await listed_events(
        sandboxes, cal.provider, cal.user.email, window_start=default_window_start(row[2])
    )
    context = await load_oracle_context(cal.db, row[0], calendar_email=row[1], linked_at=row[2])
    expected = expected_timelines(events, context)
    assert {e for e, _ in expected} == {"carol@client.test", "dave@client.test"}
    assert await actual_timelines(cal.db, row[0]) == expected
    assert await duplicate_problems(cal.db, row[0]) == []
