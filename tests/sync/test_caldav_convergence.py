"""Convergence for CALDAV, against real Radicale and Xandikos servers: the convergence machine
of `test_convergence.py` (same rules, same oracle, same verdict), its calendar changes written
as iCalendar resources onto the real server (`tests/support/caldav_calendar.py`) and its syncs
run through a fault proxy in front of it.

Changes: events created (before the link too), edited, moved, cancelled, restored, deleted,
made private; weekly series with moved occurrences (RECURRENCE-ID overrides), cancelled and
restored occurrences (EXDATE); answers; guests among contacts, colleagues (internal), the
service's excluded domain and strangers; contacts created and deleted in Chronik. Faults:
5xx answers (retried, or more of them than the retries: the run fails and is survived),
stalled answers, answers lost after the server acted, and an invalidated sync token (the
DAV:valid-sync-token precondition: a full round). CalDAV has no push, so the machine's push
rules are off. The oracle reads the server with one from-scratch round of the production
client (`listed_caldav_events`) and applies `sync/rules.py`; the verdict is 0 lost and
0 duplicated, then an exact full resync.

Modest by default (CALDAV_CONVERGENCE_EXAMPLES, 40 per server); figures go to
tests/artifacts/convergence-caldav-<server>.json.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import aiohttp
import hypothesis
from aiohttp import web
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule, run_state_machine_as_test

from sync.model import ProviderEvent
from tests.conftest import make_user
from tests.support.caldav_calendar import CalDavCalendar
from tests.support.caldav_servers import (  # noqa: F401 (fixtures)
    OWNER,
    CalDavServer,
    Fault,
    FaultProxy,
    caldav_server,
    http_session,
    is_method,
    is_sync_report,
    make_calendar,
    radicale_server,
    xandikos_server,
)
from tests.support.convergence import (
    FAST_RETRIES,
    TIMEOUT_DELAY_S,
    Harness,
    running_harness,
    write_figures,
)
from tests.support.linking import INSTALL
from tests.support.oracle import actual_timelines, duplicate_problems, listed_caldav_events
from tests.sync.test_caldav_engine import LINK, credentials
from tests.sync.test_convergence import (
    ARTIFACTS,
    CONTACT_ADDRESSES,
    EVENT_SPECS,
    ConvergenceMachine,
    EventSpec,
    ModelEvent,
)

EXAMPLES = int(os.environ.get("CALDAV_CONVERGENCE_EXAMPLES", "40"))
STEPS = 15
# A sync-collection REPORT carrying a token (an incremental one; a full round sends it empty).
_WITH_TOKEN = re.compile(rb"<D:sync-token>[^<]+</D:sync-token>")
INVALID_TOKEN = b'<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>'


def _incremental_sync_report(request: web.Request, body: bytes) -> bool:
    return is_sync_report(request, body) and _WITH_TOKEN.search(body) is not None


def _refuse_token(proxy: FaultProxy) -> None:
    """The server no longer knows the stored token (RFC 6578 §3.2): the next incremental
    REPORT is refused with the DAV:valid-sync-token precondition."""
    proxy.fail(403, when=_incremental_sync_report, body=INVALID_TOKEN)


@dataclass(frozen=True)
class CalDavFault:
    """One kind of trouble the next sync meets at the proxy; `full`: it forces a full round."""

    name: str
    apply: Callable[[FaultProxy], None]
    full: bool = False


# Deterministic (counted, never random): Hypothesis replays examples.
CALDAV_FAULTS: tuple[CalDavFault, ...] = (
    CalDavFault("server_error_500", lambda p: p.fail(500, times=1)),
    CalDavFault("server_error_503", lambda p: p.fail(503, times=2)),
    CalDavFault("report_502", lambda p: p.fail(502, times=1, when=is_method("REPORT"))),
    # More failures in a row than the client retries: the run fails and must be survived.
    CalDavFault("outage", lambda p: p.fail(503, times=FAST_RETRIES.attempts)),
    CalDavFault("timeout", lambda p: p.stall(TIMEOUT_DELAY_S, when=is_method("REPORT"))),
    CalDavFault("answer_lost", lambda p: p.lose_answer(when=is_method("REPORT"))),
    CalDavFault("sync_token_invalid", _refuse_token, full=True),
)


class CalDavConvergenceMachine(ConvergenceMachine):
    """The convergence machine with a CalDAV calendar: only what differs is overridden."""

    server: ClassVar[CalDavServer]
    proxy: ClassVar[FaultProxy]
    http: ClassVar[aiohttp.ClientSession]

    async def _link(self) -> None:
        h = self.harness
        # The server's login owns every example's calendar (a fresh collection each): the
        # account's user is someone else at the account's domain; each example ends with a
        # disconnect, so the next account may link the same login.
        self.owner = OWNER
        self.user = await make_user(
            h.db, f"Acme {self.n}", f"user{self.n}@{self.domain}", (self.domain,)
        )
        self.direct_url = await make_calendar(self.http, self.server, "Work")
        self.cal: CalDavCalendar = CalDavCalendar(  # type: ignore[assignment]
            self.http, self.server, self.direct_url, OWNER
        )
        await self._add_contact(CONTACT_ADDRESSES[0])
        await self._add_contact(CONTACT_ADDRESSES[1])
        # An event with a contact from before the link: never synced (rule 5).
        early = self.base + timedelta(hours=3)
        event_id = await self.cal.create(
            title="Before linking",
            start=early,
            guests=[CONTACT_ADDRESSES[0]],
            created=datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1),
        )
        self.events.append(ModelEvent(event_id, early, None, [CONTACT_ADDRESSES[0]]))
        await self._graphql(INSTALL, {"p": "CALDAV"})
        given = credentials(
            self.proxy.rewrite_url(self.direct_url), self.server.username, self.server.password
        )
        linked = (await self._graphql(LINK, {"p": "CALDAV", "credentials": given}))[
            "linkCalendarWithCredentials"
        ]
        assert linked["status"] == "ACTIVE", linked
        row = await h.db.fetchrow(
            "SELECT id, linked_at FROM calendar_connections WHERE user_id = $1", self.user.user_id
        )
        self.connection_id = row["id"]
        self.linked_at = row["linked_at"]
        assert await h.sync(self.connection_id, steady=True) == "ok"
        # Rule 5: Ann's meeting from before the link is on no timeline, and the oracle agrees.
        assert await actual_timelines(h.db, self.user.account_id) == set()
        assert (await self._expected())[0] == set()
        self.pending.clear()  # the first sync was a full one

    async def _listed(self) -> list[ProviderEvent]:
        return await listed_caldav_events(
            self.direct_url, self.server.username, self.server.password, owner=OWNER
        )

    def _expire_quietly(self) -> None:
        # The next sync's sync-collection REPORT is refused: the engine starts a full round.
        _refuse_token(self.proxy)

    async def _settle(self) -> None:
        assert await self.harness.sync(self.connection_id, steady=True) == "ok"
        # A full resync asked for by `_expire_quietly` must have happened.
        assert all(f.times == 0 for f in self.proxy.faults), "a fault was never met"
        self.proxy.faults.clear()

    def _step(self) -> None:
        """Every third change is preceded by a sync under the next fault in turn (a function of
        the history alone, so a replayed history meets the same faults): left to choose,
        Hypothesis picks the `sync` rule rarely, and the faults would hardly be met."""
        super()._step()
        self.taken = getattr(self, "taken", 0) + 1
        if self.taken % 3 == 0:
            # Where the turn starts depends on the history too (its number of events), so
            # short examples do not all meet the same first few faults.
            turn = self.taken // 3 + len(self.events)
            fault = CALDAV_FAULTS[turn % len(CALDAV_FAULTS)]
            self.harness.run(self._sync_with([fault]))

    def _occurrence_id(self, event: ModelEvent, k: int) -> str:
        original = event.start + timedelta(weeks=k)
        return f"{event.id}#{original:%Y%m%dT%H%M%SZ}"

    @initialize(specs=st.lists(EVENT_SPECS, min_size=1, max_size=4))
    def start_with(self, specs: list[EventSpec]) -> None:
        """A few meetings to work on (CalDAV has no page cap to vary)."""
        for spec in specs:
            self.harness.run(self._create(spec))

    @rule(index=st.integers(0, 30))
    def restore_event(self, index: int) -> None:
        self._step()
        event = self._pick(index, lambda e: not e.gone and e.cancelled)
        if event and self.harness.run(self._attempt(self.cal.restore(event.id))):
            event.cancelled = False

    # CalDAV has no push: the machine's push rules are not rules here.
    def push_quirks(self, duplicate: bool, reorder: bool, drop: int) -> None:
        raise AssertionError("no push in CalDAV")

    def pushes_arrive(self, plans: list[object]) -> None:
        raise AssertionError("no push in CalDAV")

    @rule(faults=st.lists(st.sampled_from(CALDAV_FAULTS), max_size=2))
    def sync(self, faults: list[CalDavFault]) -> None:
        self._step()
        self.harness.run(self._sync_with(faults))

    async def _sync_with(self, faults: list[CalDavFault]) -> None:
        h = self.harness
        added: list[tuple[CalDavFault, list[tuple[Fault, int]]]] = []
        for fault in faults:
            before = len(self.proxy.faults)
            fault.apply(self.proxy)
            added.append((fault, [(f, f.times) for f in self.proxy.faults[before:]]))
            h.figures.plans[fault.name] += 1
        try:
            outcome = await h.sync(self.connection_id)
        finally:
            met = {
                fault.name: sum(initial - f.times for f, initial in rules) for fault, rules in added
            }
            self.proxy.faults.clear()
        h.figures.injected.update({name: n for name, n in met.items() if n})
        full = any(fault.full and met[fault.name] for fault, _ in added)
        # A completed full round re-decided every event with today's contacts.
        if outcome == "ok" and full:
            self.pending.clear()
        assert await duplicate_problems(h.db, self.user.account_id) == []

    def teardown(self) -> None:
        try:
            super().teardown()
        finally:
            self.proxy.faults.clear()


@contextlib.contextmanager
def caldav_harness(
    server: CalDavServer, admin_dsn: str, template: str, data_dir: Path
) -> Iterator[Harness]:
    """The convergence harness (a fresh database, Chronik) with the machine pointed at
    `server` through a fault proxy."""
    with running_harness("CALDAV", admin_dsn, template, data_dir) as h:
        proxy = FaultProxy(server.url)

        async def start() -> aiohttp.ClientSession:
            await proxy.start()
            return http_session()

        http = h.run(start())
        CalDavConvergenceMachine.harness = h
        CalDavConvergenceMachine.server = server
        CalDavConvergenceMachine.proxy = proxy
        CalDavConvergenceMachine.http = http
        try:
            yield h
        finally:
            h.run(http.close())
            h.run(proxy.close())


def test_caldav_timelines_converge_under_faults(
    caldav_server: CalDavServer,  # noqa: F811
    postgres_admin_dsn: str,
    template_database: str,
    tmp_path: Path,
) -> None:
    with caldav_harness(caldav_server, postgres_admin_dsn, template_database, tmp_path) as h:
        settings = hypothesis.settings(
            hypothesis.settings.default, max_examples=EXAMPLES, stateful_step_count=STEPS
        )
        try:
            run_state_machine_as_test(CalDavConvergenceMachine, settings=settings)
        finally:
            figures = h.figures
            report = {
                "provider": "CALDAV",
                "server": caldav_server.kind,
                "max_examples": EXAMPLES,
                "steps_per_example": STEPS,
                **figures.as_json(),
            }
            write_figures(ARTIFACTS / f"convergence-caldav-{caldav_server.kind}.json", report)
            print(f"\nconvergence CALDAV/{caldav_server.kind}: {report}")
        assert figures.lost == 0 and figures.duplicated == 0
        assert figures.examples >= EXAMPLES


def _fault(name: str) -> CalDavFault:
    return next(f for f in CALDAV_FAULTS if f.name == name)


def test_a_caldav_history_of_every_kind_of_change_converges(
    caldav_server: CalDavServer,  # noqa: F811
    postgres_admin_dsn: str,
    template_database: str,
    tmp_path: Path,
) -> None:
    """One history step by step, so every change the machine makes happens at least once on
    each server: a weekly series with a contact, a colleague and a stranger gets a moved
    week (override), a cancelled week (EXDATE) and an answer; Ann invites the user; a
    contact is created after the fact; the token is invalidated; a meeting turns private,
    one is cancelled and restored, one deleted; the convergence check then passes."""
    with caldav_harness(caldav_server, postgres_admin_dsn, template_database, tmp_path) as h:
        m = CalDavConvergenceMachine()
        m.start_with(
            specs=[
                EventSpec(guests=[0, 4, 5], invited_by=None, weekly=3, day=1, hour=2),
                EventSpec(guests=[1, 2, 3], invited_by=0, weekly=None, day=2, hour=0),
                EventSpec(guests=[1], invited_by=None, weekly=None, day=3, hour=1),
            ]
        )
        m.sync(faults=[_fault("server_error_503")])
        m.move_occurrence(index=0, occurrence=1, hours=3)  # the only series
        m.cancel_occurrence(index=0, occurrence=2)
        m.respond(index=1, guest=0, accepted=False, occurrence=0)
        m.create_contact(2)  # Cy, after the invitation's last change: no backfill
        m.sync(faults=[_fault("outage")])
        m.sync(faults=[_fault("sync_token_invalid")])
        m.make_private(index=3)
        m.cancel_event(index=2)
        m.restore_event(index=0)
        m.delete_event(index=0)  # the meeting from before the link
        m.delete_contact(0)
        m.sync(faults=[])
        m.teardown()
        assert h.figures.failed_runs >= 1
        assert h.figures.injected["sync_token_invalid"] >= 1
        assert h.figures.lost == 0 and h.figures.duplicated == 0


def test_a_cancelled_week_of_a_series_turned_private_keeps_its_entries(
    caldav_server: CalDavServer,  # noqa: F811
    postgres_admin_dsn: str,
    template_database: str,
    tmp_path: Path,
) -> None:
    """The history the long profile shrank to on Radicale: Ben's weekly series loses its
    first week (EXDATE) and is synced; then it turns private. Rule 7 freezes the series with
    its weeks: the cancelled week keeps Ben, as the series does (the week carries its
    master's CLASS:PRIVATE, and arrives on the page that freezes the series)."""
    with caldav_harness(caldav_server, postgres_admin_dsn, template_database, tmp_path) as h:
        m = CalDavConvergenceMachine()
        solo = EventSpec(guests=[0], invited_by=None, weekly=None, day=0, hour=0)
        m.start_with(
            specs=[
                EventSpec(guests=[1], invited_by=None, weekly=3, day=0, hour=0),
                EventSpec(guests=[0, 1], invited_by=None, weekly=None, day=0, hour=0),
                solo,
                solo,
            ]
        )
        m.set_guests(guests=[0, 1, 2], index=28)
        m.cancel_occurrence(index=0, occurrence=0)
        m.sync(faults=[])
        m.make_private(index=21)  # the series
        m.teardown()
        assert h.figures.lost == 0
