"""Chronik against the strict Microsoft sandbox: what real Graph does that a kind sandbox would
not (sync-state errors in every 40X form, a cursor of another host, repeated and endless delta
pages, long windows refused, the 4-requests-per-mailbox limit). Each test fails against the
behaviour Chronik had before it was made to cope."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from app.settings import Settings
from tests.conftest import TestUser
from tests.support.linking import link_calendar, sandbox_control
from tests.support.sandboxes import Sandboxes
from tests.support.server import RunningChronik, running_chronik
from tests.support.sync import LinkedCalendar, linked_calendar

SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
LIVE = "SELECT count(*) FROM meetings WHERE status <> 'cancelled'"


async def _outlook(chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection) -> Any:
    return await linked_calendar(chronik, alice, db, "MICROSOFT")


async def _quirks(chronik: RunningChronik, **quirks: Any) -> None:
    await sandbox_control(chronik, "MICROSOFT", "POST", "quirks", quirks)


async def _wait_failed(cal: LinkedCalendar, within: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while (state := await cal.state())["failureCount"] == 0 or state["syncing"]:
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.05)
    return state


@pytest.mark.parametrize(("status", "code"), [(400, "syncStateNotFound"), (404, "resyncRequired")])
async def test_a_sync_state_error_that_is_not_410_starts_a_full_round(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, status: int, code: str
) -> None:
    cal = await _outlook(chronik, alice, db)
    carla = await cal.contact("carla@client.test")
    keep = await cal.calendar.create(title="Keep", start=SOON, guests=["carla@client.test"])
    drop = await cal.calendar.create(
        title="Drop", start=SOON + timedelta(hours=2), guests=["carla@client.test"]
    )
    await cal.sync()
    await _quirks(chronik, expiredStatus=status, expiredCode=code)
    await cal.calendar.expire_cursor()
    await cal.calendar.update(keep, title="Keep (edited)")
    await cal.calendar.delete(drop)
    state = await cal.sync()
    assert state["failureCount"] == 0 and state["lastError"] is None
    assert await cal.titles(carla) == ["Keep (edited)"]
    assert await db.fetchval(LIVE) == 1


async def test_a_stored_cursor_of_another_host_starts_a_full_round(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await _outlook(chronik, alice, db)
    carla = await cal.contact("carla@client.test")
    await cal.calendar.create(title="Still here", start=SOON, guests=["carla@client.test"])
    await db.execute(
        "UPDATE calendar_connections SET sync_cursor = "
        "'https://graph.elsewhere.example/v1.0/me/calendarView/delta?$deltatoken=old'"
    )
    state = await cal.sync()
    assert state["failureCount"] == 0 and state["lastError"] is None
    assert await cal.titles(carla) == ["Still here"]
    cursor = await db.fetchval("SELECT sync_cursor FROM calendar_connections")
    assert cursor.startswith(
        chronik.settings.provider("microsoft").sandbox_url or "http://127.0.0.1"
    )


async def test_delta_pages_repeated_under_fresh_links_are_read_through(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
) -> None:
    cal = await _outlook(chronik, alice, db)
    carla = await cal.contact("carla@client.test")
    for n in range(6):
        await cal.calendar.create(
            title=f"M{n}", start=SOON + timedelta(hours=n), guests=["carla@client.test"]
        )
    sandboxes.microsoft.faults.page_cap = 2
    await _quirks(chronik, repeatPages=2)
    await cal.calendar.expire_cursor()
    state = await cal.sync()
    assert state["failureCount"] == 0
    assert await cal.titles(carla) == [f"M{n}" for n in range(6)]
    assert await db.fetchval(LIVE) == 6


async def test_pages_larger_than_asked_for_are_read_whole(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
) -> None:
    cal = await _outlook(chronik, alice, db)
    carla = await cal.contact("carla@client.test")
    for n in range(7):
        await cal.calendar.create(
            title=f"M{n}", start=SOON + timedelta(hours=n), guests=["carla@client.test"]
        )
    sandboxes.microsoft.faults.page_cap = 2
    await _quirks(chronik, pageOverflow=3)
    await cal.calendar.expire_cursor()
    await cal.sync()
    assert await cal.titles(carla) == [f"M{n}" for n in range(7)]
    assert await db.fetchval(LIVE) == 7


async def test_a_feed_that_repeats_its_page_forever_ends_the_run_clearly(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
) -> None:
    cal = await _outlook(chronik, alice, db)
    for n in range(4):
        await cal.calendar.create(title=f"M{n}", start=SOON + timedelta(hours=n), guests=[])
    sandboxes.microsoft.faults.page_cap = 2
    await _quirks(chronik, repeatPages=1000)
    await cal.calendar.expire_cursor()
    (await chronik.graphql("mutation { syncCalendarNow { id } }", token=alice.token)).ok()
    state = await _wait_failed(cal)
    assert "same page of changes" in state["lastError"]
    assert state["phase"] == "FAILING" and not state["syncing"]  # the lease is released
    lease = await db.fetchval("SELECT lease_owner FROM calendar_connections")
    assert lease is None


async def test_a_long_feed_stops_at_the_page_budget_and_goes_on_at_the_next_run(
    settings: Settings, alice: TestUser, db: asyncpg.Connection, sandboxes: Sandboxes
) -> None:
    budget = settings.model_copy(update={"sync_max_pages_per_run": 3})
    async with running_chronik(budget) as chronik:
        cal = await _outlook(chronik, alice, db)
        carla = await cal.contact("carla@client.test")
        # No push-started runs: the run under test is the one syncCalendarNow asks for.
        await sandbox_control(chronik, "MICROSOFT", "POST", "notifications/hold", {})
        for n in range(9):
            await cal.calendar.create(
                title=f"M{n}", start=SOON + timedelta(hours=n), guests=["carla@client.test"]
            )
        sandboxes.microsoft.faults.page_cap = 2  # a round of 5 pages
        await cal.calendar.expire_cursor()
        (await chronik.graphql("mutation { syncCalendarNow { id } }", token=alice.token)).ok()
        state = await _wait_failed(cal)
        assert "ran past 3 pages" in state["lastError"] and not state["syncing"]
        await db.execute("UPDATE calendar_connections SET next_attempt_at = NULL")
        state = await cal.sync()
        assert state["failureCount"] == 0
        assert await cal.titles(carla) == [f"M{n}" for n in range(9)]


async def test_a_window_graph_refuses_with_503_is_shortened_and_nothing_inside_it_is_lost(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    """Graph answers 503 for a 3-year window (quirk `maxWindowDays`, microsoft-graph-docs
    #3657, #6499): the full round asks again over half the look-ahead until Graph serves it,
    the sync completes, every meeting inside the window is on the timeline, and the round's
    deltaLink keeps reporting changes. A meeting beyond the shortened window was not listed,
    so the full round leaves it where it was: never taken off for not being asked about."""
    cal = await _outlook(chronik, alice, db)
    carla = await cal.contact("carla@client.test")
    await cal.calendar.create(
        title="Far ahead", start=SOON + timedelta(days=500), guests=["carla@client.test"]
    )
    await cal.sync()
    assert await cal.titles(carla) == ["Far ahead"]
    await _quirks(chronik, maxWindowDays=365)
    await cal.calendar.expire_cursor()
    ids = [
        await cal.calendar.create(
            title=f"Inside {n}", start=SOON + timedelta(days=20 * n), guests=["carla@client.test"]
        )
        for n in range(6)
    ]
    await cal.calendar.create(
        title="Weekly", start=SOON + timedelta(hours=3), guests=["carla@client.test"], weekly=4
    )
    state = await cal.sync()
    assert state["failureCount"] == 0 and state["lastError"] is None
    assert set(await cal.titles(carla)) == {f"Inside {n}" for n in range(6)} | {
        "Weekly",
        "Far ahead",
    }

    await cal.calendar.update(ids[2], title="Inside 2 (moved)")
    state = await cal.sync()
    assert state["failureCount"] == 0
    assert "Inside 2 (moved)" in await cal.titles(carla)


async def test_a_window_graph_refuses_even_at_the_floor_fails_clearly_and_lets_the_calendar_go(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await _outlook(chronik, alice, db)
    await _quirks(chronik, maxWindowDays=30)
    await cal.calendar.expire_cursor()
    (await chronik.graphql("mutation { syncCalendarNow { id } }", token=alice.token)).ok()
    state = await _wait_failed(cal, within=120)
    assert "503" in state["lastError"] and "try again" in state["lastError"]
    assert not state["syncing"]


async def test_series_masters_are_read_without_exceeding_the_mailbox_concurrency(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await _outlook(chronik, alice, db)
    await cal.contact("carla@client.test")
    for n in range(10):
        await cal.calendar.create(
            title=f"Weekly {n}",
            start=SOON + timedelta(hours=n),
            guests=["carla@client.test"],
            weekly=3,
        )
    await sandbox_control(chronik, "MICROSOFT", "DELETE", "faults")
    await _quirks(chronik, mailboxLatencyMs=40)
    await cal.sync()
    injected = (await sandbox_control(chronik, "MICROSOFT", "GET", "faults"))["injected"]
    assert injected.get("mailbox_concurrency", 0) == 0
    series = "SELECT count(*) FROM meetings WHERE kind = 'series'"
    assert await db.fetchval(series) == 10


async def test_x500_addresses_never_become_contacts_and_the_organizer_is_resolved(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await _outlook(chronik, alice, db)
    opted = await chronik.graphql(
        "mutation { updateAccountSettings(autoCreateContacts: true) { autoCreateContacts } }",
        token=alice.token,
    )
    opted.ok()
    await _quirks(chronik, x500Organizers=True)
    await cal.calendar.create(
        title="Dan invites",
        start=SOON,
        guests=[alice.email, "dan@other.test"],
        organizer="dan@other.test",
    )
    await cal.sync()
    emails = await db.fetch("SELECT email FROM contact_emails ORDER BY email")
    assert [r["email"] for r in emails] == ["dan@other.test"]
    meeting = await db.fetchrow("SELECT id, organizer_email FROM meetings")
    assert meeting["organizer_email"] == "dan@other.test"
    attendees = await db.fetch(
        "SELECT email, is_organizer FROM meeting_attendees WHERE meeting_id = $1 ORDER BY email",
        meeting["id"],
    )
    assert [(r["email"], r["is_organizer"]) for r in attendees] == [
        (alice.email, False),
        ("dan@other.test", True),
    ]


# -- subscriptions: removed, expired, reauthorization, missed notifications --------------------


async def _stored_push(db: asyncpg.Connection) -> asyncpg.Record:
    return await db.fetchrow("SELECT push_channel_id, push_expires_at FROM calendar_connections")


async def _until(check: Any, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


def _live(sandboxes: Sandboxes) -> list[str]:
    now = sandboxes.microsoft.now()
    return [s.id for s in sandboxes.microsoft.subscriptions.items.values() if s.expiration > now]


async def _lifecycle(chronik: RunningChronik, event: str) -> None:
    await sandbox_control(chronik, "MICROSOFT", "POST", "subscriptions/lifecycle", {"event": event})


async def test_a_subscription_graph_removed_is_created_again(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, sandboxes: Sandboxes
) -> None:
    cal = await _outlook(chronik, alice, db)
    carla = await cal.contact("carla@client.test")
    first = (await _stored_push(db))["push_channel_id"]
    assert _live(sandboxes) == [first]
    await _lifecycle(chronik, "subscriptionRemoved")

    async def replaced() -> bool:
        now = (await _stored_push(db))["push_channel_id"]
        return now is not None and now != first

    await _until(replaced)
    assert _live(sandboxes) == [(await _stored_push(db))["push_channel_id"]]
    await cal.calendar.create(title="Pushed again", start=SOON, guests=["carla@client.test"])

    async def arrived() -> bool:
        return await cal.titles(carla) == ["Pushed again"]

    await _until(arrived, within=5)


async def test_an_expired_subscription_is_created_again_when_it_is_due(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, sandboxes: Sandboxes
) -> None:
    cal = await _outlook(chronik, alice, db)
    first = (await _stored_push(db))["push_channel_id"]
    await sandbox_control(chronik, "MICROSOFT", "POST", "subscriptions/expire", {})
    await db.execute("UPDATE calendar_connections SET push_expires_at = now() + interval '1 hour'")
    await cal.sync()
    second = (await _stored_push(db))["push_channel_id"]
    assert second not in (None, first)
    assert _live(sandboxes) == [second]


async def test_reauthorization_required_renews_the_subscription_in_place(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, sandboxes: Sandboxes
) -> None:
    await _outlook(chronik, alice, db)
    before = await _stored_push(db)
    await asyncio.sleep(1.1)  # Graph's expiry has whole-second precision in our requests
    await _lifecycle(chronik, "reauthorizationRequired")

    async def renewed() -> bool:
        after = await _stored_push(db)
        return bool(after["push_expires_at"] > before["push_expires_at"])

    await _until(renewed)
    assert (await _stored_push(db))["push_channel_id"] == before["push_channel_id"]
    assert _live(sandboxes) == [before["push_channel_id"]]


async def test_missed_notifications_bring_a_sync(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await _outlook(chronik, alice, db)
    carla = await cal.contact("carla@client.test")
    await sandbox_control(chronik, "MICROSOFT", "POST", "notifications/drop", {"count": 1})
    await cal.calendar.create(title="Missed", start=SOON, guests=["carla@client.test"])
    await asyncio.sleep(0.3)
    assert await cal.titles(carla) == []  # its notification was lost
    await _lifecycle(chronik, "missed")

    async def arrived() -> bool:
        return await cal.titles(carla) == ["Missed"]

    await _until(arrived, within=5)


# -- consent and sign-in: refresh refused; relink; disconnect ------------------------------------

CONNECTION = "{ calendarConnection { status lastError } }"


@pytest.mark.parametrize("error", ["interaction_required", "consent_required"])
async def test_a_refresh_that_needs_the_user_marks_needs_reauth_and_a_relink_resumes(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
    error: str,
) -> None:
    cal = await _outlook(chronik, alice, db)
    carla = await cal.contact("carla@client.test")
    first = (await _stored_push(db))["push_channel_id"]
    await _quirks(chronik, refreshError=error)
    await db.execute("UPDATE calendar_connections SET token_expires_at = now()")
    before = (await sandbox_control(chronik, "MICROSOFT", "GET", "oauth/stats"))["tokenRequests"]
    (await chronik.graphql("mutation { syncCalendarNow { id } }", token=alice.token)).ok()

    async def needs_reauth() -> bool:
        shown = (await chronik.graphql(CONNECTION, token=alice.token)).ok()
        return bool(shown["calendarConnection"]["status"] == "NEEDS_REAUTH")

    await _until(needs_reauth)
    shown = (await chronik.graphql(CONNECTION, token=alice.token)).ok()["calendarConnection"]
    assert "link the calendar again" in shown["lastError"]
    await asyncio.sleep(0.5)
    after = (await sandbox_control(chronik, "MICROSOFT", "GET", "oauth/stats"))["tokenRequests"]
    assert after["refresh_token"] - before.get("refresh_token", 0) == 1  # no retry storm

    # Linking again brings the calendar back at once, with a new subscription.
    await _quirks(chronik, refreshError=None)
    await cal.calendar.create(title="While away", start=SOON, guests=["carla@client.test"])
    await link_calendar(chronik, alice.token, "MICROSOFT", alice.email, install=False)

    async def caught_up() -> bool:
        return await cal.titles(carla) == ["While away"]

    await _until(caught_up)  # polling is minutes away: the relink itself asked for the sync

    async def new_push() -> bool:
        now = (await _stored_push(db))["push_channel_id"]
        return now is not None and now != first

    await _until(new_push)
    assert _live(sandboxes) == [(await _stored_push(db))["push_channel_id"]]


async def test_disconnecting_deletes_the_subscription(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, sandboxes: Sandboxes
) -> None:
    await _outlook(chronik, alice, db)
    assert len(_live(sandboxes)) == 1
    result = await chronik.graphql("mutation { disconnectCalendar { status } }", token=alice.token)
    assert result.ok()["disconnectCalendar"]["status"] == "DISCONNECTED"
    assert _live(sandboxes) == []
    assert (await _stored_push(db))["push_channel_id"] is None


async def test_free_busy_of_a_personal_microsoft_account_is_refused_clearly(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    await sandbox_control(
        chronik, "MICROSOFT", "POST", "users", {"email": alice.email, "personal": True}
    )
    await _outlook(chronik, alice, db)  # linking and syncing work for personal accounts
    busy = await chronik.graphql(
        "query($s: DateTime!, $e: DateTime!) { freeBusy(start: $s, end: $e) { start end } }",
        {"s": SOON.isoformat(), "e": (SOON + timedelta(days=1)).isoformat()},
        token=alice.token,
    )
    assert busy.error_codes == ["PRECONDITION_FAILED"]
    assert "Personal Microsoft accounts" in busy.errors[0]["message"]


async def test_deleting_a_single_meeting_asks_graph_about_no_series(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await _outlook(chronik, alice, db)
    carla = await cal.contact("carla@client.test")
    for n in range(5):
        await cal.calendar.create(
            title=f"Weekly {n}",
            start=SOON + timedelta(hours=n),
            guests=["carla@client.test"],
            weekly=3,
        )
    single = await cal.calendar.create(
        title="One-off", start=SOON + timedelta(days=1), guests=["carla@client.test"]
    )
    await cal.sync()
    await sandbox_control(chronik, "MICROSOFT", "DELETE", "faults")
    # A no-op fault that counts the requests for a series' instances.
    await sandbox_control(
        chronik, "MICROSOFT", "POST", "faults", {"kind": "latency", "pathContains": "/instances"}
    )
    await cal.calendar.delete(single)
    await cal.sync()
    assert "One-off" not in await cal.titles(carla)
    injected = (await sandbox_control(chronik, "MICROSOFT", "GET", "faults"))["injected"]
    assert injected.get("latency", 0) == 0  # before: one request per held series
    series = "SELECT count(*) FROM meetings WHERE kind = 'series' AND status <> 'cancelled'"
    assert await db.fetchval(series) == 5
