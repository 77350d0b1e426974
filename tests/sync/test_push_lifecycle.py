"""Push registrations follow the link: disconnecting stops them at the provider, and relinking
after re-authentication syncs at once and registers push again. Shown on Google (channels.stop:
https://developers.google.com/calendar/api/v3/reference/channels/stop)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from tests.conftest import TestUser
from tests.support.linking import link_calendar, sandbox_control
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar


async def live_channels(chronik: RunningChronik) -> list[dict[str, Any]]:
    answer = await sandbox_control(chronik, "GOOGLE", "GET", "channels")
    return list(answer["channels"])


async def test_disconnecting_stops_the_push_channel(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    await linked_calendar(chronik, alice, db, "GOOGLE")
    [channel] = await live_channels(chronik)
    assert channel["id"] == await db.fetchval("SELECT push_channel_id FROM calendar_connections")

    result = await chronik.graphql("mutation { disconnectCalendar { status } }", token=alice.token)

    assert result.ok()["disconnectCalendar"]["status"] == "DISCONNECTED"
    assert await live_channels(chronik) == []
    assert await db.fetchval("SELECT push_channel_id FROM calendar_connections") is None


async def test_relinking_after_reauthentication_syncs_and_registers_push_again(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    [old] = await live_channels(chronik)
    # The grant is revoked; Chronik finds out on its next sync. Meanwhile the channel dies at
    # Google, though Chronik's record says it lives for days yet.
    await sandbox_control(chronik, "GOOGLE", "POST", "oauth/revoke-user", {"email": alice.email})
    await db.execute("UPDATE calendar_connections SET token_expires_at = now()")
    await chronik.graphql("mutation { syncCalendarNow { id } }", token=alice.token)
    await sandbox_control(chronik, "GOOGLE", "POST", f"channels/{old['id']}/expire")
    status = "SELECT status FROM calendar_connections"
    for _ in range(500):
        if await db.fetchval(status) == "needs_reauth":
            break
        await asyncio.sleep(0.02)
    assert await db.fetchval(status) == "needs_reauth"
    last_synced = (await cal.state())["lastSyncedAt"]

    await link_calendar(chronik, alice.token, "GOOGLE", alice.email, install=False)

    # Nobody asked for a sync: relinking did.
    await cal.wait_synced(after=last_synced)
    [new] = await live_channels(chronik)
    assert new["id"] != old["id"]
    assert new["id"] == await db.fetchval("SELECT push_channel_id FROM calendar_connections")
