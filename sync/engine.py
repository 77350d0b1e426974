"""The sync engine: one connection's provider changes onto contact timelines.

For a leased connection it reads the provider's change feed page by page, decides each event
with the product's rules and applies the page (sync/apply.py) — meetings, attendees, timeline
entries, the change log, and the cursor after the page — in ONE transaction. A connection
synced alone may have two pages' transactions open at once (the next written while the
previous commits); they commit in order, the second only after the first. A crash anywhere
re-reads at most two pages, and the upserts make re-reading harmless. An expired cursor starts a
new full round; when a full round completes, meetings it did not see are gone at the provider
and are removed, so a resync reconciles instead of duplicating.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
from authlib.common.security import generate_token

from db import meetings as meetings_db
from db import sync_state
from db.sync_state import SyncJob
from db.write_slots import take_write_slot
from sync import apply
from sync.address_book import AddressBook
from sync.clients import calendar_client
from sync.credentials import Credentials
from sync.http import RetryPolicy
from sync.model import ChangePage, CursorExpired, EventKind, EventStatus, ProviderEvent
from sync.provider import CalendarClient, ProviderError, PushChannel
from sync.providers import registry
from sync.providers.spec import ProviderApp

log = logging.getLogger("chronik.sync")

# Graph needs a time window; the start sits before linking so meetings logged after the fact
# (an event created today for yesterday's call) are still seen.
WINDOW_BEFORE_LINK = timedelta(days=30)
# Renew push registrations this long before they expire.
PUSH_RENEW_MARGIN = timedelta(days=1)
# A feed that keeps expiring its cursor is failing, not a reason to loop forever.
MAX_FULL_RESTARTS = 2
# Graph may serve one delta page again under a fresh nextLink (msgraph-sdk-dotnet #3082); a
# few repeats are skipped, more end the run: the feed is not moving.
MAX_REPEATED_PAGES = 5


@dataclass
class _Ahead:
    """A page read ahead (`SyncEngine._read_ahead`), with its plan when it could be made
    ahead, and the number of the run's first page whose transaction had not committed when
    the plan began to read: the plan holds only against what that page and every later one
    may write (`_Pages.written_since`)."""

    page: ChangePage
    plan: apply.PagePlan | None
    planned_before: int


class LeaseLost(Exception):
    """Another worker owns the connection now; this run must stop writing."""


@dataclass(frozen=True)
class EngineSettings:
    public_url: str
    excluded_domains: frozenset[str] = frozenset()
    lease_seconds: float = 60.0
    # How provider requests are retried and timed out; None = the clients' default.
    retry_policy: RetryPolicy | None = None
    # The most pages one run reads; a longer feed ends the run (its cursor saved, so the next
    # run goes on from there) instead of holding the connection indefinitely.
    max_pages_per_run: int = 2000
    # How many pages the process writes at once. Its runs still wait for their providers side
    # by side; only the CPU- and database-heavy part, deciding and writing a page, takes
    # turns. On a machine shared with the API, writing four pages at once in each of two
    # workers made a contact's timeline 6x slower during a day of first syncs for no gain in
    # events/s (bench/RESULTS.md, "the onboarding day"). A run going on alone writes its
    # next page beside the page committing without a slot of its own (`_independent`).
    pages_at_once: int = 1
    # How many pages all workers of the deployment write at once (0: no limit); a page
    # written beside its predecessor shares that page's slot (db/write_slots.py).
    deployment_pages_at_once: int = 0


@dataclass
class RunResult:
    pages: int = 0
    events: int = 0
    changes: int = 0


def push_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class SyncEngine:
    def __init__(
        self,
        pool: asyncpg.Pool,
        apps: Mapping[str, ProviderApp],
        http: aiohttp.ClientSession,
        credentials: Credentials,
        settings: EngineSettings,
        *,
        worker_id: str,
    ) -> None:
        self._pool = pool
        self._apps = apps
        self._http = http
        self._credentials = credentials
        self._settings = settings
        # The deployment's domains, and every provider's rooms and resources.
        self._excluded = settings.excluded_domains | registry.never_people_domains()
        self.worker_id = worker_id
        self._writing = asyncio.Semaphore(settings.pages_at_once)
        # Syncs this engine is running: a sync that runs alone may write its next page while
        # the previous one commits (`_independent`).
        self._running = 0

    @property
    def excluded_domains(self) -> frozenset[str]:
        """Domains whose addresses are never logged: `CHRONIK_EXCLUDED_EMAIL_DOMAINS` with
        every registered provider's `never_people_domains`."""
        return self._excluded

    def _app(self, provider: str) -> ProviderApp:
        """The connection's provider as configured here; never another provider's."""
        try:
            return self._apps[provider]
        except KeyError:
            raise ProviderError(
                f"The calendar provider {provider!r} is not configured on this server."
            ) from None

    def client_for(self, job: SyncJob) -> CalendarClient:
        app = self._app(job.provider)
        tokens = self._credentials.for_connection(job.connection_id)
        return calendar_client(app, self._http, tokens, self._settings.retry_policy)

    async def run(self, job: SyncJob) -> RunResult:
        """Sync the connection until its feed is caught up; raises `LeaseLost`,
        `ProviderError` (incl. `NeedsReauth`, `ProviderUnavailable`) for the worker to record."""
        self._running += 1
        # Pages whose transactions are under way, oldest first: a page may be written while
        # the one before it commits, and commits only after it (`_independent`).
        in_flight: list[_Committing] = []
        try:
            return await self._run(job, in_flight)
        except BaseException:
            await _settle(in_flight)  # they end (commit or roll back) before the run does
            raise
        finally:
            self._running -= 1

    async def _run(self, job: SyncJob, in_flight: list[_Committing]) -> RunResult:
        client = self.client_for(job)
        book = self._address_book(job)
        result = RunResult()
        # A reconciliation starts a full round from the top: everything the provider no longer
        # lists is removed at its end, whatever its deltas missed.
        cursor = None if job.reconcile_due else job.sync_cursor
        if job.reconcile_due:
            log.info("connection %s: periodic full reconciliation", job.connection_id)
        phase = job.sync_phase
        sync_round = job.sync_round
        full = job.round_is_full or cursor is None
        # A resumed round ends at the calendar as it was when the round began: read on after it.
        resumed = cursor is not None and job.cursor_mid_round
        seen = job.events_seen if cursor is not None else 0
        window = job.window_start or (min(job.linked_at, datetime.now(UTC)) - WINDOW_BEFORE_LINK)
        if cursor is None:
            sync_round += 1
        restarts = 0
        ahead: asyncio.Task[_Ahead] | None = None
        # The run's pages, numbered: a page planned ahead is planned again if a page that had
        # not committed when its plan read may have written what it read.
        pages = _Pages()
        repeats = _RepeatGuard()
        while True:
            if result.pages >= self._settings.max_pages_per_run:
                await _abandon(ahead)
                raise ProviderError(
                    f"The calendar's change feed ran past {result.pages} pages in one sync; "
                    "Chronik stopped this run and goes on from the last page at the next one."
                )
            plan: apply.PagePlan | None = None
            planned_before = pages.count
            try:
                if ahead is not None:
                    reading, ahead = ahead, None
                    read = await reading
                    page, plan, planned_before = read.page, read.plan, read.planned_before
                else:
                    await self._settle_all(in_flight, result)
                    page = await client.fetch_changes(cursor, window_start=window)
            except CursorExpired:
                # The pages being committed stand: they were read before the cursor expired.
                await self._settle_all(in_flight, result)
                restarts += 1
                if restarts > MAX_FULL_RESTARTS:
                    raise ProviderError("The provider keeps expiring the sync cursor.") from None
                log.info("connection %s: cursor expired, starting a full resync", job.connection_id)
                cursor, full, seen, sync_round = None, True, 0, sync_round + 1
                resumed = False
                repeats = _RepeatGuard()  # the new round's first page is no repeat
                continue
            if repeats.same_as_last(page):
                # Only the cursor moves: the page's items were applied a moment ago.
                page, plan = ChangePage([], page.cursor, page.complete), None
            if any(event.removed for event in page.events):
                page, plan = await self._with_gone_series(job, client, page), None
            seen += len(page.events)
            if not page.complete or full or resumed:
                # Read ahead: the next page is fetched, parsed and planned (decided, its rows
                # built) while this one commits, so the worker's CPU and PostgreSQL's overlap.
                # Nothing of it is written before this page's transaction has committed.
                ahead = asyncio.create_task(
                    self._read_ahead(
                        job, client, book, page.cursor, window, sync_round, in_flight, pages
                    )
                )
            try:
                sweeps = page.complete and full
                # What the pages that had not committed when its plan read may write; and
                # whether its transaction will write the plan made ahead, which then tells
                # what it may write before it is written.
                before = pages.written_since(planned_before)
                holds = _holds(plan, page, book, before)
                if in_flight and not (holds and self._independent(in_flight[-1], plan, sweeps)):
                    await self._settle_all(in_flight, result)
                    before = pages.written_since(planned_before)  # now what they wrote
                    holds = _holds(plan, page, book, before)
                elif len(in_flight) > 1:  # at most two pages' transactions at once
                    await self._settled(in_flight.pop(0), result)
                after = in_flight[-1] if in_flight else None
                committing = _Committing(
                    pages.count,
                    asyncio.create_task(
                        self._commit_page(
                            job,
                            book,
                            page,
                            plan,
                            before,
                            sync_round=sync_round,
                            full=full,
                            phase=phase,
                            seen=seen,
                            window=window,
                            after=after,
                        )
                    ),
                    cursor=page.cursor,
                    # A full round's last page may remove any meeting.
                    touched=plan.touched if plan is not None and holds and not sweeps else None,
                    learns=plan is None or not holds or any(plan.new_contact_emails),
                )
                in_flight.append(committing)
                pages.add(committing)
            except BaseException:
                await _abandon(ahead)
                raise
            result.pages += 1
            result.events += len(page.events)
            cursor = page.cursor
            if page.complete:
                if not (full or resumed):
                    break
                # A full round, or one begun by an earlier run, lists the calendar as it was
                # when the round began: what changed since is behind the new cursor. Read it
                # now, not at the next poll (no push channel exists yet during a first sync,
                # and the push that announced a change may have been spent on this run).
                full, resumed, phase = False, False, "incremental"
        await self._settle_all(in_flight, result)
        await self._ensure_push(job, client)
        return result

    def _independent(
        self, committing: _Committing, plan: apply.PagePlan | None, sweeps: bool
    ) -> bool:
        """Whether a page whose plan made ahead holds may be written while the previous
        page's transaction is still open, and committed right after it. Its writes then must
        not depend on what that page writes, nor lock what it locks: neither may write a
        meeting the other may write, the previous page learns no contact, and this one ends
        no full round (the sweep reads every meeting of the connection). Only for a sync
        running alone: with others waiting to write (a day of first syncs), PostgreSQL's
        cores go to them."""
        return (
            self._running == 1
            and not sweeps
            and plan is not None
            and committing.touched is not None
            and not committing.learns
            and plan.touched.isdisjoint(committing.touched)
        )

    @staticmethod
    async def _settled(committing: _Committing, result: RunResult) -> None:
        """Wait for a page's transaction; count its changes."""
        changes, _ = await committing.task
        result.changes += changes

    async def _settle_all(self, in_flight: list[_Committing], result: RunResult) -> None:
        """Wait for every page under way, oldest first."""
        while in_flight:
            await self._settled(in_flight[0], result)
            in_flight.pop(0)

    async def _read_ahead(
        self,
        job: SyncJob,
        client: CalendarClient,
        book: AddressBook,
        cursor: str,
        window: datetime,
        sync_round: int,
        in_flight: list[_Committing],
        pages: _Pages,
    ) -> _Ahead:
        """The page after `cursor`, and its plan read through a connection of its own while
        the pages before it commit: None when the page needs more than its items (removed
        items: `_with_gone_series` reads what the current page writes), or when planning
        failed (the page is then planned in its transaction, which meets the error itself)."""
        page = await client.fetch_changes(cursor, window_start=window)
        # What pages commit from here on, the plan's reads may not see.
        planned_before = min(
            (c.number for c in in_flight if not c.task.done()), default=pages.count
        )
        if not page.events or any(event.removed for event in page.events):
            return _Ahead(page, None, planned_before)
        target = apply.Target(job.account_id, job.connection_id, job.provider, sync_round)
        try:
            async with self._pool.acquire() as conn:
                plan = await apply.plan_page(conn, target, book, page.events)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            log.debug("connection %s: planning ahead failed: %s", job.connection_id, exc)
            plan = None
        return _Ahead(page, plan, planned_before)

    async def _with_gone_series(
        self, job: SyncJob, client: CalendarClient, page: ChangePage
    ) -> ChangePage:
        """The page plus a cancelled SERIES item per held series the provider deleted, and the
        cancelled weeks of the held series (rule 6): Graph removes a series, or one occurrence
        of it, as stubs of instances, which do not say which series they were.
        When every stub names a meeting Chronik holds (a deleted single meeting, a deleted
        exception), only the series of those meetings are asked about; a stub of anything
        else (an occurrence, which Chronik does not store, or an item outside the window)
        could be any series, so all held series are. Each question costs Graph requests, and
        Outlook allows a mailbox 10,000 per 10 minutes."""
        removed = sorted({e.provider_event_id for e in page.events if e.removed})
        async with self._pool.acquire() as conn:
            held = await meetings_db.live_series_ids(conn, job.connection_id)
            known, series = await meetings_db.series_of_removed(conn, job.connection_id, removed)
        if known == len(removed):
            held = [series_id for series_id in held if series_id in series]
        if not held:
            return page
        weeks = await client.cancelled_occurrences(held)
        gone = await client.gone_series(held)
        if not gone and not weeks:
            return page
        cancelled = [*weeks] + [
            ProviderEvent(
                provider_event_id=series_id, kind=EventKind.SERIES, status=EventStatus.CANCELLED
            )
            for series_id in sorted(gone)
        ]
        return ChangePage([*page.events, *cancelled], page.cursor, page.complete)

    async def _commit_page(
        self,
        job: SyncJob,
        book: AddressBook,
        page: ChangePage,
        plan: apply.PagePlan | None,
        written: AbstractSet[str] | None,
        *,
        sync_round: int,
        full: bool,
        phase: str,
        seen: int,
        window: datetime,
        after: _Committing | None = None,
    ) -> tuple[int, AbstractSet[str] | None]:
        """Write the page and its cursor in one transaction; returns the number of timeline
        changes and the provider ids whose meetings it may have written (None: any).
        `after`: the previous page, still committing; this one is written beside it (it is
        independent of it: `_independent`) and commits only once it has committed."""
        # A page written beside its predecessor holds no slot of its own.
        slot: contextlib.AbstractAsyncContextManager[None] = (
            self._writing if after is None else contextlib.nullcontext()
        )
        async with slot, self._pool.acquire() as conn, conn.transaction():
            if after is None:
                await take_write_slot(conn, self._settings.deployment_pages_at_once)
                await self._keep_lease(conn, job, None)
            target = apply.Target(job.account_id, job.connection_id, job.provider, sync_round)
            if (
                plan is None
                or plan.events is not page.events
                or not plan.still_holds(book, written)
            ):
                if after is not None:  # (`_independent` said it holds: never, but to be safe)
                    await self._keep_lease(conn, job, after)
                    after = None
                # Decided here, against what the previous page's transaction committed.
                plan = await apply.plan_page(conn, target, book, page.events)
            changes = await apply.write_plan(conn, target, book, plan)
            touched: AbstractSet[str] | None = plan.touched
            if page.complete and full:
                gone = await meetings_db.unseen_meetings(
                    conn, job.connection_id, sync_round, listed_until=page.listed_until
                )
                changes += await meetings_db.remove_meetings(conn, gone)
                await sync_state.record_full_round(conn, job.connection_id)
                touched = None  # the sweep may cancel any meeting of the connection
                if gone:  # a series among them takes its cancelled weeks off the timelines
                    changes += await meetings_db.refresh_cancelled_weeks(
                        conn, job.account_id, job.connection_id, None
                    )
            if after is not None:
                await self._keep_lease(conn, job, after)
            await sync_state.save_cursor(
                conn,
                job.connection_id,
                cursor=page.cursor,
                phase="incremental" if page.complete else phase,
                sync_round=sync_round,
                round_is_full=full and not page.complete,
                mid_round=not page.complete,
                events_seen=seen,
                window_start=window,
            )
            await meetings_db.record_changes(conn, job.account_id, changes)
            await sync_state.announce_state(conn, job.connection_id)
            return len(changes), touched

    async def _keep_lease(
        self, conn: asyncpg.Connection, job: SyncJob, after: _Committing | None
    ) -> None:
        """Extend the lease in the page's transaction, which then holds the connection's row
        until it commits. After `after`, only if it committed: the cursor stored is its."""
        if after is not None:
            await after.task  # its failure is this page's: nothing of this one commits
        if not await sync_state.extend_lease(
            conn,
            job.connection_id,
            self.worker_id,
            self._settings.lease_seconds,
            cursor=after.cursor if after is not None else None,
        ):
            raise LeaseLost(f"connection {job.connection_id} is no longer leased to us")

    def _address_book(self, job: SyncJob) -> AddressBook:
        return AddressBook(
            job.account_id,
            calendar_email=job.calendar_email,
            linked_at=job.linked_at,
            excluded_domains=self._excluded,
        )

    async def _ensure_push(self, job: SyncJob, client: CalendarClient) -> None:
        """Register (or renew) the push channel; a registration that expired, or that the
        provider no longer knows (404 on renewal), is replaced by a new one. Failures only log:
        polling still runs."""
        app = self._app(job.provider)
        public = self._settings.public_url.rstrip("/")
        if registry.spec(job.provider).push is None:  # a provider without push: polling only
            return
        # Real providers only deliver to public HTTPS addresses.
        if not app.sandbox and not public.startswith("https://"):
            return
        now = datetime.now(UTC)
        if (
            job.push_channel_id
            and job.push_expires_at
            and (job.push_expires_at - now > PUSH_RENEW_MARGIN)
        ):
            return
        token = generate_token(40)
        address = f"{public}/webhooks/{job.provider}"
        try:
            channel = None
            # An expired registration is gone at the provider (Graph deletes an expired
            # subscription): only a new one helps. So does one the provider no longer knows.
            if job.push_channel_id and job.push_expires_at and job.push_expires_at > now:
                current = PushChannel(
                    job.push_channel_id, job.push_resource_id, job.push_expires_at
                )
                try:
                    channel = await client.renew(
                        current, address=address, channel_id=str(uuid.uuid4()), token=token
                    )
                except ProviderError as exc:
                    if exc.status != 404:
                        raise
            if channel is None:
                channel = await client.watch(
                    address=address, channel_id=str(uuid.uuid4()), token=token
                )
        except ProviderError as exc:
            log.warning(
                "connection %s: push registration failed (%s); polling continues",
                job.connection_id,
                exc,
            )
            return
        # A registration extended in place (Graph) keeps the secret it was created with.
        renewed_in_place = channel.channel_id == job.push_channel_id
        await sync_state.save_push_channel(
            self._pool,
            job.connection_id,
            channel_id=channel.channel_id,
            resource_id=channel.resource_id,
            token_hash=None if renewed_in_place else push_token_hash(token),
            expires_at=channel.expires_at,
        )


class _RepeatGuard:
    """Tells a delta page that repeats the one before it (same items, same versions, a new
    link); raises `ProviderError` after `MAX_REPEATED_PAGES` repeats in a row."""

    def __init__(self) -> None:
        self._last: tuple[tuple[str, str | None, bool], ...] = ()
        self._count = 0

    def same_as_last(self, page: ChangePage) -> bool:
        mark = tuple((e.provider_event_id, e.etag, e.removed) for e in page.events)
        if not mark or mark != self._last or page.complete:
            self._last, self._count = mark, 0
            return False
        self._count += 1
        if self._count > MAX_REPEATED_PAGES:
            raise ProviderError(
                f"The provider sent the same page of changes {self._count + 1} times in a row; "
                "Chronik stopped this sync and will try again."
            )
        return True


@dataclass
class _Committing:
    """A page whose transaction is under way (`SyncEngine._commit_page` as a task)."""

    number: int  # its place among the run's pages, from 0
    task: asyncio.Task[tuple[int, AbstractSet[str] | None]]
    cursor: str  # the cursor its transaction saves
    touched: AbstractSet[str] | None  # the ids it may write, when known before (else None)
    learns: bool  # it may create contacts, which changes how later pages are decided

    def written(self) -> AbstractSet[str] | None:
        """The ids it may write; once it has committed, those its transaction says it may
        have written (None: any meeting of the connection)."""
        if self.task.done() and not self.task.cancelled() and self.task.exception() is None:
            return self.task.result()[1]
        return self.touched


class _Pages:
    """The last pages of a run handed to their transactions, by number."""

    # A plan is made while at most the three pages before its own are under way: two
    # committing and the one being handed over.
    KEPT = 4

    def __init__(self) -> None:
        self.count = 0
        self._recent: list[_Committing] = []

    def add(self, committing: _Committing) -> None:
        self._recent = [*self._recent[1 - self.KEPT :], committing]
        self.count += 1

    def written_since(self, number: int) -> AbstractSet[str] | None:
        """What the pages from `number` on may write (None: any meeting of the connection)."""
        if number >= self.count:
            return frozenset()
        if self._recent[0].number > number:
            return None  # no longer known: assume the worst
        written: set[str] = set()
        for committing in self._recent:
            if committing.number >= number:
                ids = committing.written()
                if ids is None:
                    return None
                written |= ids
        return written


async def _settle(in_flight: list[_Committing]) -> None:
    """Let the pages' transactions end (commit or roll back) before their run gives up."""
    if in_flight:
        tasks = [committing.task for committing in in_flight]
        await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled():
                task.exception()  # retrieved: the run raises the error that stopped it


def _holds(
    plan: apply.PagePlan | None,
    page: ChangePage,
    book: AddressBook,
    written: AbstractSet[str] | None,
) -> bool:
    """Whether the page's plan made ahead may be written as it is, after pages that may
    have written the ids `written` since it read (None: any)."""
    return plan is not None and plan.events is page.events and plan.still_holds(book, written)


async def _abandon(task: asyncio.Task[_Ahead] | None) -> None:
    """Cancel a read-ahead whose page will not be committed (its outcome does not matter)."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved
