"""The engine's contract: push, cursors, retries, failures — against both sandboxes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from app.settings import Settings
from tests.conftest import TestUser
from tests.support.linking import sandbox_control
from tests.support.sandboxes import Sandboxes
from tests.support.server import RunningChronik, running_chronik
from tests.support.sync import LinkedCalendar, linked_calendar
from tests.support.workers import add_bulk_contacts

SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)


async def _wait_for_titles(
    cal: LinkedCalendar, contact: str, titles: list[str], within: float
) -> float:
    started = time.monotonic()
    while await cal.titles(contact) != titles:
        assert time.monotonic() - started < within, await cal.titles(contact)
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_a_change_in_the_calendar_arrives_by_push_without_asking(
    cal: LinkedCalendar,
) -> None:
    carla = await cal.contact("carla@client.test")
    # The first sync registered a push channel; polling is minutes away, so only push helps.
    channel = await cal.db.fetchval("SELECT push_channel_id FROM calendar_connections")
    assert channel
    await cal.calendar.create(title="Pushed", start=SOON, guests=["carla@client.test"])
    latency = await _wait_for_titles(cal, carla, ["Pushed"], within=5)
    print(f"\n{cal.provider}: sandbox change on the timeline after {latency * 1000:.0f} ms")


async def test_forged_push_notifications_are_rejected_and_queue_nothing(
    chronik: RunningChronik, cal: LinkedCalendar
) -> None:
    channel = await cal.db.fetchval("SELECT push_channel_id FROM calendar_connections")
    if cal.provider == "GOOGLE":
        response = await chronik.http.post(
            f"{chronik.url}/webhooks/google",
            headers={
                "X-Goog-Channel-ID": channel,
                "X-Goog-Channel-Token": "forged",
                "X-Goog-Resource-State": "exists",
                "X-Goog-Resource-ID": "x",
                "X-Goog-Message-Number": "2",
            },
        )
    else:
        response = await chronik.http.post(
            f"{chronik.url}/webhooks/microsoft",
            json={
                "value": [
                    {
                        "subscriptionId": channel,
                        "clientState": "forged",
                        "changeType": "updated",
                        "resource": "Users/x/Events/y",
                    }
                ],
            },
        )
    assert response.status_code == 403
    assert await cal.db.fetchval("SELECT sync_requested_at FROM calendar_connections") is None
    unknown = await chronik.http.post(
        f"{chronik.url}/webhooks/google",
        headers={
            "X-Goog-Channel-ID": "no-such-channel",
            "X-Goog-Channel-Token": "t",
            "X-Goog-Resource-State": "exists",
        },
    )
    assert unknown.status_code == 404


async def test_graph_subscription_handshake_is_echoed(chronik: RunningChronik) -> None:
    response = await chronik.http.post(
        f"{chronik.url}/webhooks/microsoft", params={"validationToken": "Validation: 123 abc"}
    )
    assert response.status_code == 200
    assert response.text == "Validation: 123 abc"
    assert response.headers["content-type"].startswith("text/plain")


async def test_expired_cursor_resyncs_and_reconciles_without_duplicates(
    cal: LinkedCalendar,
) -> None:
    carla = await cal.contact("carla@client.test")
    keep = await cal.calendar.create(title="Keep", start=SOON, guests=["carla@client.test"])
    drop = await cal.calendar.create(
        title="Drop", start=SOON + timedelta(hours=2), guests=["carla@client.test"]
    )
    await cal.sync()
    await cal.calendar.expire_cursor()
    await cal.calendar.update(keep, title="Keep (edited)")
    await cal.calendar.delete(drop)
    await cal.calendar.create(
        title="New", start=SOON + timedelta(days=1), guests=["carla@client.test"]
    )
    await cal.sync()
    assert await cal.titles(carla) == ["Keep (edited)", "New"]
    live = "SELECT count(*) FROM meetings WHERE status <> 'cancelled'"
    assert await cal.db.fetchval(live) == 2
    duplicates = """SELECT count(*) FROM (SELECT contact_id, meeting_id FROM timeline_entries
                    GROUP BY 1, 2 HAVING count(*) > 1) d"""
    assert await cal.db.fetchval(duplicates) == 0


async def test_throttling_and_server_errors_are_retried_through(
    chronik: RunningChronik, cal: LinkedCalendar
) -> None:
    carla = await cal.contact("carla@client.test")
    await cal.calendar.create(title="Despite faults", start=SOON, guests=["carla@client.test"])
    await sandbox_control(chronik, cal.provider, "DELETE", "faults")
    for kind, status in (("rate_limit", 429), ("server_error", 503)):
        await sandbox_control(
            chronik,
            cal.provider,
            "POST",
            "faults",
            {
                "kind": kind,
                "status": status,
                "retryAfter": 0,
                "nextN": 2,
            },
        )
    state = await cal.sync()
    assert state["failureCount"] == 0 and state["lastError"] is None
    assert await cal.titles(carla) == ["Despite faults"]
    injected = (await sandbox_control(chronik, cal.provider, "GET", "faults"))["injected"]
    assert sum(injected.values()) >= 4


async def test_a_failing_connection_is_recorded_and_does_not_stall_others(
    chronik: RunningChronik, alice: TestUser, bob: TestUser, db: asyncpg.Connection
) -> None:
    failing = await linked_calendar(chronik, alice, db, "GOOGLE")
    healthy = await linked_calendar(chronik, bob, db, "MICROSOFT")
    await sandbox_control(
        chronik,
        "GOOGLE",
        "POST",
        "faults",
        {"kind": "server_error", "status": 503, "retryAfter": 0},
    )
    (await chronik.graphql("mutation { syncCalendarNow { id } }", token=alice.token)).ok()
    dan = await healthy.contact("dan@other.test")
    await healthy.calendar.create(title="Still syncing", start=SOON, guests=["dan@other.test"])
    await healthy.sync()
    assert await healthy.titles(dan) == ["Still syncing"]

    deadline = time.monotonic() + 30
    while (state := await failing.state())["failureCount"] == 0:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert state["phase"] == "FAILING"
    assert "503" in state["lastError"] and "try again" in state["lastError"]
    await sandbox_control(chronik, "GOOGLE", "DELETE", "faults")
    await db.execute("UPDATE calendar_connections SET next_attempt_at = NULL")
    recovered = await failing.sync()
    assert recovered["failureCount"] == 0 and recovered["phase"] == "INCREMENTAL"


@pytest.mark.parametrize(
    ("provider", "page_marker"), [("GOOGLE", "pageToken"), ("MICROSOFT", "skiptoken")]
)
async def test_cursor_expiring_in_the_middle_of_a_round_recovers(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
    provider: str,
    page_marker: str,
) -> None:
    cal = await linked_calendar(chronik, alice, db, provider)
    if provider == "GOOGLE":
        await add_bulk_contacts(db, alice.account_id, 5000)  # every bulk guest is a contact
        sandboxes.google.bulk_load(alice.email, 2600)  # pages of 2,500 and 100
        expected, per_meeting = 2600, 2
    else:
        await cal.contact("carla@client.test")
        sandboxes.microsoft.bulk_load(
            alice.email, 1500, attendees=["carla@client.test", "someone@else.test"]
        )
        expected, per_meeting = 1500, 1  # pages of 1,000 and 500
    await cal.calendar.expire_cursor()  # the next round is a full one, several pages long
    await sandbox_control(
        chronik,
        provider,
        "POST",
        "faults",
        {
            "kind": "server_error",
            "status": 410,
            "nextN": 1,
            "pathContains": page_marker,
        },
    )
    await cal.sync(within=120)
    injected = (await sandbox_control(chronik, provider, "GET", "faults"))["injected"]
    assert sum(injected.values()) == 1  # the round really was cut mid-stream
    assert (
        await db.fetchval("SELECT count(*) FROM meetings WHERE status <> 'cancelled'") == expected
    )
    assert await db.fetchval("SELECT count(*) FROM timeline_entries") == expected * per_meeting


async def test_push_registrations_are_renewed_before_they_expire(cal: LinkedCalendar) -> None:
    before = await cal.db.fetchrow(
        "SELECT push_channel_id, push_expires_at FROM calendar_connections"
    )
    await cal.db.execute(
        "UPDATE calendar_connections SET push_expires_at = now() + interval '1 hour'"
    )
    await cal.sync()
    after = await cal.db.fetchrow(
        "SELECT push_channel_id, push_expires_at FROM calendar_connections"
    )
    assert after["push_expires_at"] > before["push_expires_at"] - timedelta(minutes=5)
    if cal.provider == "GOOGLE":  # a Google channel cannot be extended: a new one replaces it
        assert after["push_channel_id"] != before["push_channel_id"]
    else:  # a Graph subscription is extended in place
        assert after["push_channel_id"] == before["push_channel_id"]
    carla = await cal.contact("carla@client.test")
    await cal.calendar.create(title="Via renewed push", start=SOON, guests=["carla@client.test"])
    await _wait_for_titles(cal, carla, ["Via renewed push"], within=10)


async def test_polling_catches_changes_whose_push_never_came(
    settings: Settings, alice: TestUser, db: asyncpg.Connection
) -> None:
    polling = settings.model_copy(update={"sync_poll_seconds": 1.0})
    async with running_chronik(polling) as chronik:
        cal = await linked_calendar(chronik, alice, db, "MICROSOFT")
        carla = await cal.contact("carla@client.test")
        await sandbox_control(chronik, "MICROSOFT", "POST", "notifications/hold", {})
        await cal.calendar.create(
            title="Found by polling", start=SOON, guests=["carla@client.test"]
        )
        await _wait_for_titles(cal, carla, ["Found by polling"], within=15)
        held = await sandbox_control(chronik, "MICROSOFT", "GET", "notifications")
        assert held["held"] >= 1  # the push really was withheld
