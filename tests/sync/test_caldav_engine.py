"""CalDAV events through the real sync engine, rules and database, before CALDAV is a provider
of its own: a connection linked through the Google sandbox (so it exists in the database) is
synced by an engine whose client is a `CalDavClient` on a real server's calendar. What lands
on the contacts' timelines is what the seed's rules say, as for Google and Microsoft."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from app.services import Services
from app.settings import Settings
from db import sync_state
from db.sync_state import SyncJob
from sync.engine import EngineSettings, SyncEngine
from sync.http import RetryPolicy
from sync.provider import CalendarClient
from sync.providers.caldav.client import CalDavClient
from sync.providers.caldav.session import BasicCredentials
from sync.worker import SyncWorker, WorkerSettings
from tests.conftest import TestUser
from tests.support.caldav_servers import (  # noqa: F401 (fixtures)
    CalDavServer,
    caldav_server,
    delete_resource,
    http_session,
    make_calendar,
    put_ics,
    radicale_server,
    xandikos_server,
)
from tests.support.linking import link_calendar
from tests.support.server import RunningChronik
from tests.support.sync import LinkedCalendar

POLICY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=5)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No background worker: only the CalDAV engine below syncs the connection."""
    return settings.model_copy(update={"run_worker": False})


class CalDavEngine(SyncEngine):
    def __init__(self, *args: Any, caldav: CalDavClient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._caldav = caldav

    def client_for(self, job: SyncJob) -> CalendarClient:
        return self._caldav


class Harness:
    def __init__(self, db: asyncpg.Connection, worker: SyncWorker, connection_id: int) -> None:
        self.db = db
        self.worker = worker
        self.connection_id = connection_id

    async def sync(self) -> None:
        await sync_state.request_sync(self.db, self.connection_id)
        job = await sync_state.claim_due(
            self.db, worker=self.worker.name, lease_seconds=60, poll_seconds=3600
        )
        assert job is not None and job.connection_id == self.connection_id
        before = await sync_state.failure_count(self.db, self.connection_id)
        await self.worker.run_job(job)
        assert await sync_state.failure_count(self.db, self.connection_id) == before, (
            await self.db.fetchval("SELECT last_error FROM calendar_connections")
        )


@pytest.fixture
async def synced(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    caldav_server: CalDavServer,  # noqa: F811
) -> AsyncIterator[tuple[Harness, LinkedCalendar, CalDavServer, str, Any]]:
    connection = await link_calendar(chronik, alice.token, "GOOGLE", alice.email)
    connection_id = int(await db.fetchval("SELECT id FROM calendar_connections"))
    assert connection["id"]
    services: Services = chronik.app.state.services
    async with http_session() as http:
        url = await make_calendar(http, caldav_server)
        client = CalDavClient(
            http,
            calendar_url=url,
            credentials=BasicCredentials(caldav_server.username, caldav_server.password),
            owner_email=alice.email,
            policy=POLICY,
            page_size=2,
        )
        engine = CalDavEngine(
            services.sync_pool,
            services.apps,
            services.http,
            services.credentials,
            EngineSettings(public_url="http://127.0.0.1:1", lease_seconds=60),
            worker_id="caldav-test",
            caldav=client,
        )
        worker = SyncWorker(
            services.sync_pool, engine, WorkerSettings(lease_seconds=60), dsn=services.dsn
        )
        # LinkedCalendar's contact and timeline helpers need no sandbox calendar.
        linked = LinkedCalendar(chronik, alice, None, db)  # type: ignore[arg-type]
        yield Harness(db, worker, connection_id), linked, caldav_server, url, http


def calendar(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Test app//EN\n"
        + "".join(events)
        + ("END:VCALENDAR\n")
    )


def event(uid: str, lines: str, created: str) -> str:
    return (
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:{created}\nCREATED:{created}\n"
        f"ORGANIZER:mailto:alice@acme.test\nATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@acme.test\n"
        f"{lines}\nEND:VEVENT\n"
    )


async def test_caldav_meetings_follow_the_seed_rules_on_the_timelines(synced: Any) -> None:
    harness, cal, server, url, http = synced
    carla = await cal.contact("carla@client.test")
    fred = await cal.contact("fred@client.test")
    # CREATED has whole seconds: the next second is after the link time (rule 5).
    now = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")

    async def put(name: str, ics: str) -> None:
        await put_ics(http, server, url, name, ics)

    review = event(
        "review",
        "SUMMARY:Review\nDTSTART:20271207T100000Z\nDTEND:20271207T110000Z\n"
        "ATTENDEE:mailto:carla@client.test",
        now,
    )
    master = event(
        "weekly",
        "SUMMARY:Weekly\nDTSTART:20271206T090000Z\nDTEND:20271206T093000Z\n"
        "RRULE:FREQ=WEEKLY;COUNT=6\nEXDATE:20271220T090000Z\n"
        "ATTENDEE:mailto:carla@client.test",
        now,
    )
    moved = event(
        "weekly",
        "RECURRENCE-ID:20271213T090000Z\nSUMMARY:Weekly (moved)\n"
        "DTSTART:20271213T110000Z\nDTEND:20271213T113000Z\n"
        "ATTENDEE:mailto:carla@client.test\nATTENDEE:mailto:fred@client.test",
        now,
    )
    await put("review.ics", calendar(review))
    await put("weekly.ics", calendar(master, moved))
    # Rule 7: private; rule 5: created before linking.
    await put(
        "private.ics",
        calendar(
            event(
                "p",
                "CLASS:PRIVATE\nSUMMARY:Private\nDTSTART:20271208T100000Z\n"
                "ATTENDEE:mailto:carla@client.test",
                now,
            )
        ),
    )
    await put(
        "old.ics",
        calendar(
            event(
                "o",
                "SUMMARY:Old\nDTSTART:20271209T100000Z\nATTENDEE:mailto:carla@client.test",
                "20200101T000000Z",
            )
        ),
    )
    await harness.sync()
    # Rule 6: the series once, the moved week on its own, the excluded week as a cancelled
    # meeting of the series' contacts.
    assert await cal.titles(carla) == ["Review", "Weekly", "Weekly", "Weekly (moved)"]
    assert await cal.titles(fred) == ["Weekly (moved)"]
    cancelled = [
        e["meeting"] for e in await cal.timeline(carla) if e["meeting"]["status"] == "CANCELLED"
    ]
    assert [m["originalStart"] for m in cancelled] == ["2027-12-20T09:00:00+00:00"]

    # The moved week put back and the excluded week restored: both leave the timelines.
    await put("weekly.ics", calendar(master.replace("EXDATE:20271220T090000Z\n", "")))
    await harness.sync()
    assert await cal.titles(carla) == ["Review", "Weekly"]
    assert await cal.titles(fred) == []

    # The moved week again, then the whole series deleted: nothing of it stays.
    await put("weekly.ics", calendar(master, moved))
    await harness.sync()
    assert await cal.titles(fred) == ["Weekly (moved)"]
    await delete_resource(http, server, url, "weekly.ics")
    await harness.sync()
    assert await cal.titles(carla) == ["Review"]
    assert await cal.titles(fred) == []

    # Rule 8: cancelled in the calendar app.
    await put(
        "review.ics", calendar(review.replace("SUMMARY:Review", "STATUS:CANCELLED\nSUMMARY:Review"))
    )
    await harness.sync()
    assert await cal.titles(carla) == []
