"""A grant without the calendar permission a call needs (Google answers 403
insufficientPermissions: a link made before Chronik checked the granted scopes, or a
permission unticked at consent) is named to the person, never retried forever.
https://developers.google.com/calendar/api/guides/errors#403_insufficient_permissions"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.conftest import TestUser
from tests.support.linking import sandbox_control
from tests.support.server import RunningChronik
from tests.support.sync import LinkedCalendar, linked_calendar
from tests.sync.test_scheduling import schedule

READ_ONLY = "openid email https://www.googleapis.com/auth/calendar.readonly"


async def grant_only(cal: LinkedCalendar, scope: str) -> None:
    """Replace the stored tokens by ones Google granted for `scope` only."""
    minted = await sandbox_control(
        cal.chronik, "GOOGLE", "POST", f"users/{cal.user.email}/token", {"scope": scope}
    )
    vault = cal.chronik.app.state.services.vault
    tokens = {"access_token": minted["access_token"], "refresh_token": None}
    await cal.db.execute(
        "UPDATE calendar_connections SET token_ciphertext = $1, token_expires_at = $2",
        vault.encrypt(tokens),
        datetime.now(UTC) + timedelta(hours=1),
    )


async def test_scheduling_without_the_events_permission_names_it(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test")
    await grant_only(cal, READ_ONLY)

    result = await schedule(cal, carla)

    assert result.error_codes == ["PRECONDITION_FAILED"]
    assert "Link the calendar again" in result.errors[0]["message"]
    assert await db.fetchval("SELECT count(*) FROM meetings") == 0


async def test_a_sync_without_any_calendar_permission_asks_to_relink(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    await grant_only(cal, "openid email")

    await chronik.graphql("mutation { syncCalendarNow { id } }", token=alice.token)

    for _ in range(500):
        if await db.fetchval("SELECT status FROM calendar_connections") == "needs_reauth":
            break
        await asyncio.sleep(0.02)
    state = await db.fetchrow("SELECT status, last_error, failure_count FROM calendar_connections")
    assert state["status"] == "needs_reauth"
    assert "permission" in state["last_error"] and state["failure_count"] == 0
