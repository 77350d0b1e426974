"""Workers as separate processes: crash safety and many workers over many connections.

Every test checks the final database against the convergence oracle (`tests/support/oracle.py`
through `expectations.py`), a lease audit trail (no connection held by two workers at once)
and duplicate checks. The suite runs fast profiles; `CHRONIK_LONG=1` runs long ones (more
events, kills and churn). Each test prints its figures (`pytest -s`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from app.settings import Settings
from tests.conftest import TestUser, make_user
from tests.support.audit import (
    duplicates,
    install_lease_audit,
    lease_report,
    log_problems,
    out_of_slots,
)
from tests.support.churn import Churn, guest, mirrored_google_batch
from tests.support.crashes import KillLog, kill_at, plan_kills
from tests.support.expectations import oracle_verdict
from tests.support.linking import link_calendar
from tests.support.sandboxes import Sandboxes
from tests.support.server import RunningChronik, running_chronik
from tests.support.workers import WorkerProcess, add_bulk_contacts, timelines_of

LONG = os.environ.get("CHRONIK_LONG") == "1"


@dataclass(frozen=True)
class CrashProfile:
    initial_events: int  # loaded before the first worker starts: the initial full round
    initial_kills: int  # spread over the initial round by committed events
    increments: int  # then: changes arrive, a kill lands in their incremental sync; each of
    increment_events: int  # ... these new events
    increment_changes: int  # ... and these edits, moves, guest changes, cancels, deletes


CRASH = CrashProfile(59_000, 40, 40, 1_000, 100) if LONG else CrashProfile(15_500, 12, 8, 500, 60)
CONTACTS = 1000


@dataclass(frozen=True)
class FleetProfile:
    workers: int
    google_users: int
    microsoft_users: int
    churn_seconds: float


FLEET = FleetProfile(4, 34, 16, 120.0) if LONG else FleetProfile(4, 34, 16, 10.0)


@asynccontextmanager
async def api_only(settings: Settings, lease_seconds: float) -> AsyncIterator[RunningChronik]:
    """Chronik serving the API (and push webhooks) only: syncing is left to worker processes."""
    # Small pools: the test server's connection slots are shared with every other test.
    quiet = settings.model_copy(
        update={"run_worker": False, "sync_lease_seconds": lease_seconds, "db_pool_max_size": 5}
    )
    async with running_chronik(quiet) as server:
        yield server


async def _wait(db: asyncpg.Connection, query: str, *args: object, within: float) -> None:
    deadline = time.monotonic() + within
    while not await db.fetchval(query, *args):
        assert time.monotonic() < deadline, f"timed out waiting for: {query}"
        await asyncio.sleep(0.02)


async def _request_all(db: asyncpg.Connection) -> object:
    """Ask for a sync of every connection now, as a push would; the moment it was asked."""
    asked = await db.fetchval(
        "UPDATE calendar_connections SET sync_requested_at = now(), next_attempt_at = NULL "
        "WHERE status = 'active' RETURNING now()"
    )
    await db.execute("SELECT pg_notify('chronik_sync', 'all')")
    return asked


CAUGHT_UP = """
    SELECT bool_and(sync_requested_at IS NULL AND lease_owner IS NULL AND last_error IS NULL
                    AND last_synced_at > $1 AND sync_phase = 'incremental')
    FROM calendar_connections WHERE status = 'active'
"""


ROUND_DONE = "SELECT sync_phase = 'incremental' FROM calendar_connections WHERE id = $1"


def _report(title: str, figures: dict[str, object]) -> None:
    print(f"\n{title}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


async def test_worker_killed_at_twenty_points_converges_to_the_oracle(
    settings: Settings,
    sandboxes: Sandboxes,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    profile = CRASH
    rng = random.Random(20261125)
    await install_lease_audit(db)
    # A short lease: each restarted worker takes over the dead one's connection quickly.
    async with api_only(settings, lease_seconds=1.5) as chronik:
        crashed = await make_user(db, "Crashed", "crash@crash.test")
        reference = await make_user(db, "Reference", "ref@ref.test")
        for user in (crashed, reference):
            await link_calendar(chronik, user.token, "GOOGLE", user.email)
            await add_bulk_contacts(db, user.account_id, CONTACTS)
            sandboxes.google.bulk_load(user.email, profile.initial_events)
        # The reference is synced once, uninterrupted, at the end.
        await db.execute(
            "UPDATE calendar_connections SET next_attempt_at = 'infinity' WHERE user_id = $1",
            reference.user_id,
        )
        crashed_id = await db.fetchval(
            "SELECT id FROM calendar_connections WHERE user_id = $1", crashed.user_id
        )
        calendars = [crashed.email, reference.email]
        logs: list[Path] = []

        def spawn() -> WorkerProcess:
            logs.append(tmp_path / f"worker{len(logs)}.log")
            return WorkerProcess(chronik.settings, logs[-1])

        def change_both(n: int) -> Counter[str]:
            """The same new events and changes on both calendars."""
            for email in calendars:
                sandboxes.google.bulk_load(
                    email, profile.increment_events, start=_increment_start(n)
                )
            return mirrored_google_batch(
                sandboxes,
                calendars,
                seed=n + 1,
                changes=profile.increment_changes,
                contacts=CONTACTS,
            )

        kills = KillLog()
        changes: Counter[str] = Counter()
        events = profile.initial_events
        worker = spawn()
        # Targets short of the end: a kill after the round's last page would find it idle.
        last = profile.initial_events - 1000
        initial = plan_kills(rng, profile.initial_kills, 0, last)
        for k, kill in enumerate(initial):
            if k == len(initial) // 2:
                # Halfway through the full round, users change the calendar: the round's
                # listing predates these changes, its cursor does not.
                changes += change_both(profile.increments)
                events += profile.increment_events
            await kill_at(db, worker, crashed_id, kill, kills, rng=rng)
            worker = spawn()  # restarted at once: it must wait for the dead one's lease
        # The last restarted worker finishes the round, so what follows is incremental.
        await _wait(db, ROUND_DONE, crashed_id, within=300 if LONG else 120)
        for n in range(profile.increments):
            # Users keep changing the calendar: the next kill lands in the incremental sync.
            changes += change_both(n)
            events += profile.increment_events
            await _request_all_but_held(db)
            # The increment is read in one page: any progress target would land after it.
            [kill] = plan_kills(rng, 1, 0, 1)
            await kill_at(db, worker, crashed_id, kill, kills, rng=rng)
            worker = spawn()

        # The final, uninterrupted run: the crashed calendar catches up, the reference syncs.
        asked = await _request_all(db)
        await _wait(db, CAUGHT_UP, asked, within=300 if LONG else 120)
        worker.terminate()

        verdict = await oracle_verdict(
            db,
            sandboxes,
            crashed.account_id,
            excluded_domains=frozenset(settings.excluded_email_domains),
        )
        reference_timelines = await timelines_of(db, reference.account_id)
        leases = await lease_report(db)
        found = await duplicates(db)
        _report(
            "crash safety",
            {
                "events": events,
                "changes": sum(changes.values()),
                "kills": kills.kills,
                "landed": dict(kills.landed),
                "phases": dict(kills.phases),
                "takeovers": leases.takeovers,
                "waits": kills.seconds,
                "worker processes": len(logs),
                "expected entries": len(verdict.expected),
                "missing": len(verdict.missing),
                "extra": len(verdict.extra),
                "duplicates": sum(found.values()),
                "workers refused a db slot": out_of_slots(logs),
            },
        )
        assert kills.kills == profile.initial_kills + profile.increments
        assert verdict.ok, verdict.explain()
        assert len(verdict.expected) > profile.initial_events // 2
        # The same calendar synced without a single crash ends identical, row for row.
        assert await timelines_of(db, crashed.account_id) == reference_timelines
        assert found == dict.fromkeys(found, 0)
        # Kills landed everywhere that matters, and each restart took the dead one's lease.
        assert kills.landed["inside a page transaction"] >= 1
        assert (
            kills.landed["between pages"] + kills.landed["after its claim, before its first page"]
            >= 1
        )
        assert leases.takeovers >= 1
        assert leases.overlaps == [] and leases.foreign_writes == []
        assert log_problems(logs) == []


RESUME_LEASE = 3.0
RESUME_POLL = 300.0
RESUME_EVENTS = 12_000  # the increment the killed worker is reading: five pages of 2,500
STATE_OF = "SELECT lease_owner, events_seen, last_synced_at FROM calendar_connections WHERE id = $1"
OWNER_OF = "SELECT lease_owner FROM calendar_connections WHERE id = $1"


async def test_a_dead_workers_connection_resumes_within_the_lease(
    settings: Settings,
    sandboxes: Sandboxes,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    """A worker SIGKILLed in the middle of an incremental sync: another worker continues the
    connection as soon as the dead one's lease lapses, not at the next poll (300 s away)."""
    await install_lease_audit(db)
    async with api_only(settings, lease_seconds=RESUME_LEASE) as chronik:
        user = await make_user(db, "Resumed", "resume@resume.test")
        await link_calendar(chronik, user.token, "GOOGLE", user.email)
        await add_bulk_contacts(db, user.account_id, CONTACTS)
        sandboxes.google.bulk_load(user.email, 100)
        connection_id = await db.fetchval(
            "SELECT id FROM calendar_connections WHERE user_id = $1", user.user_id
        )
        # Two workers, polling far apart: only the lease can bring the connection back.
        logs = [tmp_path / "worker0.log", tmp_path / "worker1.log"]
        env = {"CHRONIK_SYNC_POLL_SECONDS": str(RESUME_POLL)}
        workers = [WorkerProcess(chronik.settings, log, **env) for log in logs]
        try:
            await _wait(db, CAUGHT_UP, dt.datetime.min.replace(tzinfo=dt.UTC), within=120)
            before = await db.fetchval(
                "SELECT events_seen FROM calendar_connections WHERE id = $1", connection_id
            )
            # The user adds many events; the sandbox pushes, and one worker starts reading.
            sandboxes.google.bulk_load(user.email, RESUME_EVENTS, start=_increment_start(1))
            deadline = time.monotonic() + 60
            while True:
                state = await db.fetchrow(STATE_OF, connection_id)
                victim = next((w for w in workers if w.owns(state["lease_owner"])), None)
                if victim is not None and state["events_seen"] > before:
                    break  # it holds the lease and has committed part of the increment
                # Not yet started; finished without a kill would be a test that proves nothing.
                assert state["events_seen"] == before, "the increment was read before a kill"
                assert time.monotonic() < deadline, "no worker started the increment"
                await asyncio.sleep(0.003)
            victim.kill()
            killed = time.monotonic()
            survivor = next(w for w in workers if w is not victim)
            while not survivor.owns(await db.fetchval(OWNER_OF, connection_id)):
                # Far more than the lease, far less than the poll: a test that fails, not hangs.
                assert time.monotonic() - killed < 10 * RESUME_LEASE, "nobody resumed the sync"
                await asyncio.sleep(0.01)
            gap = time.monotonic() - killed
            await _wait(db, CAUGHT_UP, dt.datetime.min.replace(tzinfo=dt.UTC), within=120)
            after = await db.fetchrow(STATE_OF, connection_id)
        finally:
            for worker in workers:
                if worker.process.poll() is None:
                    worker.terminate()

        leases = await lease_report(db)
        found = await duplicates(db)
        takeover = next(r for r in leases.runs if r.ended_by == "taken over")
        resumed_at = min(r.start for r in leases.runs if r.start > takeover.start)
        _report(
            "resume after a kill",
            {
                "lease": f"{RESUME_LEASE:.0f} s",
                "poll": f"{RESUME_POLL:.0f} s",
                "events at kill": state["events_seen"] - before,
                "kill -> taken over": f"{gap:.2f} s",
                "lease expiry -> taken over": (
                    f"{(resumed_at - takeover.end).total_seconds():.2f} s"
                ),
                "events read in all": after["events_seen"] - before,
            },
        )
        assert gap <= RESUME_LEASE + 3.0  # the lease, plus an idle tick and a little slack
        assert leases.takeovers == 1
        assert leases.overlaps == [] and leases.foreign_writes == []
        assert found == dict.fromkeys(found, 0)
        # The survivor finished the increment the dead worker had started.
        assert after["events_seen"] - before >= RESUME_EVENTS
        assert after["last_synced_at"] > state["last_synced_at"]
        assert log_problems([survivor.log]) == []


def _increment_start(n: int) -> dt.datetime:
    return dt.datetime(2027, 3, 1, 8, tzinfo=dt.UTC) + dt.timedelta(days=30 * n)


async def _request_all_but_held(db: asyncpg.Connection) -> None:
    """Like a push for every calendar, except the one held back for the reference run."""
    await db.execute(
        "UPDATE calendar_connections SET sync_requested_at = now() "
        "WHERE status = 'active' AND next_attempt_at IS DISTINCT FROM 'infinity'"
    )
    await db.execute("SELECT pg_notify('chronik_sync', 'all')")


OUTLOOK_CRASH = CrashProfile(20_000, 20, 20, 0, 200) if LONG else CrashProfile(5_000, 6, 4, 0, 100)


async def test_outlook_worker_killed_mid_sync_converges_to_the_oracle(
    settings: Settings,
    sandboxes: Sandboxes,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    """The same on Microsoft Graph, whose cursors are delta links over a time window."""
    profile = OUTLOOK_CRASH
    rng = random.Random(20261126)
    await install_lease_audit(db)
    async with api_only(settings, lease_seconds=1.5) as chronik:
        user = await make_user(db, "Outlook", "crash@outlook.test")
        await link_calendar(chronik, user.token, "MICROSOFT", user.email)
        await add_bulk_contacts(db, user.account_id, CONTACTS)
        sandboxes.microsoft.bulk_load(
            user.email, profile.initial_events, span_days=300, attendees=[guest(1), guest(2)]
        )
        connection_id = await db.fetchval(
            "SELECT id FROM calendar_connections WHERE user_id = $1", user.user_id
        )
        churn = Churn(sandboxes, [("MICROSOFT", user.email)], contacts=CONTACTS, seed=3)
        logs: list[Path] = []

        def spawn() -> WorkerProcess:
            logs.append(tmp_path / f"worker{len(logs)}.log")
            return WorkerProcess(chronik.settings, logs[-1])

        kills = KillLog()
        worker = spawn()
        last = profile.initial_events - 500
        for kill in plan_kills(rng, profile.initial_kills, 0, last):
            await kill_at(db, worker, connection_id, kill, kills, rng=rng)
            worker = spawn()
        await _wait(db, ROUND_DONE, connection_id, within=300 if LONG else 120)
        for _ in range(profile.increments):
            for _ in range(profile.increment_changes):
                churn.step()
            await _request_all(db)
            [kill] = plan_kills(rng, 1, 0, 1)
            await kill_at(db, worker, connection_id, kill, kills, rng=rng)
            worker = spawn()
        asked = await _request_all(db)
        await _wait(db, CAUGHT_UP, asked, within=300 if LONG else 120)
        worker.terminate()

        verdict = await oracle_verdict(
            db,
            sandboxes,
            user.account_id,
            excluded_domains=frozenset(settings.excluded_email_domains),
        )
        leases = await lease_report(db)
        found = await duplicates(db)
        _report(
            "outlook crash safety",
            {
                "events": profile.initial_events + churn.applied["create"],
                "changes": sum(churn.applied.values()),
                "kills": kills.kills,
                "landed": dict(kills.landed),
                "phases": dict(kills.phases),
                "takeovers": leases.takeovers,
                "waits": kills.seconds,
                "events at kills": kills.events_at_kill,
                "expected entries": len(verdict.expected),
                "missing": len(verdict.missing),
                "extra": len(verdict.extra),
                "duplicates": sum(found.values()),
                "workers refused a db slot": out_of_slots(logs),
            },
        )
        assert kills.kills == profile.initial_kills + profile.increments
        assert verdict.ok, verdict.explain()
        assert len(verdict.expected) > profile.initial_events
        assert found == dict.fromkeys(found, 0)
        assert kills.landed["inside a page transaction"] >= 1
        assert leases.takeovers >= 1
        assert leases.overlaps == [] and leases.foreign_writes == []
        assert log_problems(logs) == []


async def _link_fleet(
    chronik: RunningChronik,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
    provider: str,
    account: str,
    count: int,
    load: Callable[[str, int], None],
) -> list[TestUser]:
    users = []
    for n in range(count):
        user = await make_user(db, account, f"user{n}@{account.lower()}.test")
        await link_calendar(chronik, user.token, provider, user.email, install=n == 0)
        load(user.email, n)
        users.append(user)
    await add_bulk_contacts(db, users[0].account_id, CONTACTS)
    return users


async def test_four_workers_fifty_connections_under_churn(
    settings: Settings,
    sandboxes: Sandboxes,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    profile = FLEET
    await install_lease_audit(db)
    async with api_only(settings, lease_seconds=30.0) as chronik:
        google_users = await _link_fleet(
            chronik,
            db,
            sandboxes,
            "GOOGLE",
            "Gfleet",
            profile.google_users,
            lambda email, n: sandboxes.google.bulk_load(email, 150 + 10 * n),
        )
        microsoft_users = await _link_fleet(
            chronik,
            db,
            sandboxes,
            "MICROSOFT",
            "Mfleet",
            profile.microsoft_users,
            lambda email, n: sandboxes.microsoft.bulk_load(
                email, 60 + 5 * n, span_days=90, attendees=[guest(n), guest(n + 500)]
            ),
        )
        churn = Churn(
            sandboxes,
            [("GOOGLE", u.email) for u in google_users]
            + [("MICROSOFT", u.email) for u in microsoft_users],
            contacts=CONTACTS,
            seed=7,
        )
        logs = [tmp_path / f"worker{i}.log" for i in range(profile.workers)]
        workers = [WorkerProcess(chronik.settings, log) for log in logs]
        try:
            # Users keep changing calendars while the workers sync; every change pushes, and
            # now and then everything is requested at once, so pushes and requests race.
            # First syncs register the push channels the churn's pushes go through.
            await _wait(
                db,
                "SELECT bool_and(push_channel_id IS NOT NULL) FROM calendar_connections",
                within=300 if LONG else 120,
            )
            coin = random.Random(11)
            deadline = time.monotonic() + profile.churn_seconds
            while time.monotonic() < deadline:
                for _ in range(5):
                    churn.step()
                if coin.random() < 0.05:
                    await _request_all(db)
                await asyncio.sleep(0.05)
            # Quiesce: the last pushes land, then a final sync of everything.
            await sandboxes.google.push.drain()
            await sandboxes.microsoft.drain_notifications()
            asked = await _request_all(db)
            await _wait(db, CAUGHT_UP, asked, within=600 if LONG else 120)
        finally:
            for worker in workers:
                worker.terminate()

        leases = await lease_report(db)
        found = await duplicates(db)
        verdicts = [
            await oracle_verdict(
                db,
                sandboxes,
                users[0].account_id,
                excluded_domains=frozenset(settings.excluded_email_domains),
            )
            for users in (google_users, microsoft_users)
        ]
        pushes = {
            "google": sum(1 for p in sandboxes.google.push.log if (p["status"] or 0) < 300),
            "microsoft": sum(
                1 for d in sandboxes.microsoft.notifications() if (d["status"] or 0) < 300
            ),
        }
        lease_lost = sum(log.read_text().count("no longer leased") for log in logs)
        _report(
            "fleet",
            {
                "workers": profile.workers,
                "connections": len(google_users) + len(microsoft_users),
                "changes": sum(churn.applied.values()),
                "by kind": dict(churn.applied),
                "pushes delivered": pushes,
                "runs": len(leases.runs),
                "runs per worker": sorted(leases.runs_by_owner().values()),
                "overlaps": len(leases.overlaps),
                "lease lost": lease_lost,
                "expected entries": sum(len(v.expected) for v in verdicts),
                "missing": sum(len(v.missing) for v in verdicts),
                "extra": sum(len(v.extra) for v in verdicts),
                "duplicates": sum(found.values()),
                "workers refused a db slot": out_of_slots(logs),
            },
        )
        # No connection was ever held by two workers at once, and nobody wrote without it.
        assert leases.overlaps == [] and leases.foreign_writes == []
        assert leases.takeovers == 0  # nobody died: no lease ever had to be taken over
        synced = {run.connection_id for run in leases.runs}
        assert len(synced) == len(google_users) + len(microsoft_users)
        assert len(leases.runs_by_owner()) == profile.workers  # the work was shared
        assert found == dict.fromkeys(found, 0)
        assert log_problems(logs) == []
        for verdict in verdicts:
            assert verdict.ok, verdict.explain()
            assert len(verdict.expected) > 100
        # The changes reached Chronik as provider pushes, from both providers.
        assert pushes["google"] > 0 and pushes["microsoft"] > 0
        assert churn.applied["create"] and churn.applied["cancel"] and churn.applied["delete"]
