"""The first sync of a big calendar, and what users change while it runs."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.conftest import TestUser
from tests.support.calendar import GoogleCalendar, OutlookCalendar
from tests.support.linking import link_calendar, sandbox_control, sandbox_url
from tests.support.server import RunningChronik
from tests.support.sync import LinkedCalendar

SOON = (datetime.now(UTC) + timedelta(days=5)).replace(hour=11, minute=0, second=0, microsecond=0)


async def _wait(db: asyncpg.Connection, query: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not await db.fetchval(query):
        assert time.monotonic() < deadline, f"timed out waiting for: {query}"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("provider", ["GOOGLE", "MICROSOFT"])
async def test_a_meeting_made_during_the_first_sync_is_there_when_it_ends(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, provider: str
) -> None:
    # Found by the crash-safety run: a full round lists the calendar as it was when the round
    # began, and the run ended there; a meeting made meanwhile waited for the next poll
    # (minutes: no push channel exists before the first sync ends).
    await sandbox_control(chronik, provider, "POST", "users", {"email": alice.email})
    driver = GoogleCalendar if provider == "GOOGLE" else OutlookCalendar
    cal = LinkedCalendar(
        chronik, alice, driver(chronik.http, sandbox_url(chronik, provider), alice.email), db
    )
    carla = await cal.contact("carla@client.test")
    # Made before linking: listed (pages to read), never logged.
    if provider == "GOOGLE":
        path = f"calendars/{alice.email}/events:bulk"
    else:
        path = f"users/{alice.email}/events/bulk"
    await sandbox_control(chronik, provider, "POST", path, {"count": 6000})
    # Slow pages, so the change surely lands inside the round.
    await sandbox_control(chronik, provider, "POST", "faults", {"kind": "latency", "delayMs": 400})
    await link_calendar(chronik, alice.token, provider, alice.email)
    await _wait(db, "SELECT events_seen > 0 FROM calendar_connections", within=60)
    assert await db.fetchval("SELECT last_synced_at IS NULL FROM calendar_connections")
    await cal.calendar.create(title="Made meanwhile", start=SOON, guests=["carla@client.test"])
    await _wait(db, "SELECT last_synced_at IS NOT NULL FROM calendar_connections", within=60)
    assert await cal.titles(carla) == ["Made meanwhile"]
