"""Sync workers: take due connections from PostgreSQL and run the engine on them.

Any number of worker processes (and the in-process worker of `chronik serve`) run side by
side: `claim_due` hands each connection to one of them at a time (FOR UPDATE SKIP LOCKED plus
a lease). A LISTEN on the sync channel wakes a worker the moment a sync is requested; a short
idle tick covers polling. Each worker runs a few connections concurrently, so one slow or
failing connection never stalls the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from db import connections as connections_db
from db import statistics, sync_state
from db.sync_state import SyncJob
from sync.engine import LeaseLost, SyncEngine
from sync.provider import NeedsReauth, PermissionMissing, ProviderError, ProviderUnavailable
from sync.retention import prune_all
from telemetry import metrics
from telemetry.logs import log_context

log = logging.getLogger("chronik.worker")


@dataclass(frozen=True)
class WorkerSettings:
    concurrency: int = 4
    poll_seconds: float = 300.0  # polling fallback for missed pushes
    idle_seconds: float = 1.0  # how often an idle worker looks for due connections
    lease_seconds: float = 60.0
    max_backoff_seconds: float = 3600.0
    # A follow-up run asked for by pushes during a run waits until pushes stop this long
    # (a burst is one run), or at most this long after the first of them.
    push_quiet_seconds: float = 2.0
    push_max_wait_seconds: float = 30.0
    # A full round this long after the last one catches what deltas cannot report (None: never).
    reconcile_seconds: float | None = 7 * 24 * 3600.0
    # The change log and idempotency keys are kept this long (None: forever); the worker
    # prunes them when it starts and then every `prune_every_seconds`.
    retention: timedelta | None = None
    prune_every_seconds: float = 3600.0
    # After a run, tables it grew by more than half since their last ANALYZE, and by at
    # least this many rows, are analyzed (db/statistics.py).
    analyze_min_rows: int = statistics.MIN_CHANGED_ROWS


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(1 << 30):x}"


def backoff_seconds(failures: int, retry_after: float | None, cap: float) -> float:
    """How long a failing connection waits: the provider's hint, else 30 s doubling."""
    if retry_after is not None:
        return min(max(retry_after, 1.0), cap)
    return min(30.0 * 2 ** min(failures, 10), cap)


class SyncWorker:
    def __init__(
        self, pool: asyncpg.Pool, engine: SyncEngine, settings: WorkerSettings, *, dsn: str
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._engine = engine
        self._settings = settings
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.runs = 0

    @property
    def name(self) -> str:
        return self._engine.worker_id

    async def run(self, *, grace_seconds: float = 5.0) -> None:
        """Work until `stop()`. In-flight syncs get `grace_seconds` to finish; then they are
        cancelled between pages and release their leases, so another worker can take over
        at once (their last committed page and cursor stay)."""
        listener = await self._listen()
        lanes = [asyncio.create_task(self._lane()) for _ in range(self._settings.concurrency)]
        if self._settings.retention is not None:
            lanes.append(asyncio.create_task(self._prune(self._settings.retention)))
        try:
            await self._stopping.wait()
            _, pending = await asyncio.wait(lanes, timeout=grace_seconds)
            for lane in pending:
                lane.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
        finally:
            for lane in lanes:
                lane.cancel()
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def _listen(self) -> asyncpg.Connection | None:
        """A dedicated connection (LISTEN is session state) that wakes idle lanes."""
        try:
            conn = await asyncpg.connect(self._dsn)
            await conn.add_listener(sync_state.SYNC_CHANNEL, lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("worker %s runs without wake-ups (LISTEN failed: %s)", self.name, exc)
            return None
        return conn

    async def _lane(self) -> None:
        while not self._stopping.is_set():
            try:
                job = await sync_state.claim_due(
                    self._pool,
                    worker=self.name,
                    lease_seconds=self._settings.lease_seconds,
                    poll_seconds=self._settings.poll_seconds,
                    push_quiet_seconds=self._settings.push_quiet_seconds,
                    push_max_wait_seconds=self._settings.push_max_wait_seconds,
                    reconcile_seconds=self._settings.reconcile_seconds,
                )
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("worker %s cannot reach the database: %s", self.name, exc)
                job = None
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._settings.idle_seconds)
                continue
            await self.run_job(job)

    async def _prune(self, keep: timedelta) -> None:
        while not self._stopping.is_set():
            try:
                await prune_all(self._pool, keep)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("worker %s could not prune old rows: %s", self.name, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._settings.prune_every_seconds)

    async def run_job(self, job: SyncJob) -> None:
        """Run one leased job and record its outcome (database, metrics, logs); never raises."""
        self.runs += 1
        with (
            log_context(
                account_id=job.account_id,
                connection_id=job.connection_id,
                provider=job.provider,
                sync_phase=job.sync_phase,
            ),
            metrics.lease_held(self.name, job.connection_id),
        ):
            outcome = await self._run_job(job)
        metrics.observe_sync_run(job.provider, *outcome)

    async def _run_job(self, job: SyncJob) -> tuple[str, int]:
        """Run the job; its outcome for the metrics: (outcome, events read)."""
        try:
            result = await self._engine.run(job)
        except LeaseLost as exc:
            log.warning("%s", exc)
            return "lease_lost", 0
        except NeedsReauth:
            # Credentials already marked the connection; nothing will be retried.
            await sync_state.release(self._pool, job.connection_id, self.name)
            return "needs_reauth", 0
        except PermissionMissing as exc:
            # Retrying cannot grant a permission: the person must link again.
            await connections_db.mark_needs_reauth(self._pool, job.connection_id, str(exc))
            await sync_state.release(self._pool, job.connection_id, self.name)
            return "needs_reauth", 0
        except ProviderError as exc:
            failures = await self._failures(job.connection_id)
            retry_after = exc.retry_after if isinstance(exc, ProviderUnavailable) else None
            await sync_state.fail_run(
                self._pool,
                job.connection_id,
                self.name,
                str(exc),
                backoff_seconds(failures, retry_after, self._settings.max_backoff_seconds),
            )
            return "failed", 0
        except asyncio.CancelledError:
            # Stopped between pages: the next worker resumes at once from the last page.
            await asyncio.shield(
                sync_state.release(self._pool, job.connection_id, self.name, resume=True)
            )
            metrics.observe_sync_run(job.provider, "cancelled")
            raise
        except Exception:
            log.exception("sync of connection %s failed", job.connection_id)
            failures = await self._failures(job.connection_id)
            await sync_state.fail_run(
                self._pool,
                job.connection_id,
                self.name,
                "Chronik hit an internal error while syncing; it will try again.",
                backoff_seconds(failures, None, self._settings.max_backoff_seconds),
            )
            return "internal_error", 0
        else:
            await sync_state.finish_run(self._pool, job.connection_id, self.name)
            await self._keep_statistics_current()
            log.info(
                "connection %s synced: %d events in %d pages, %d timeline changes",
                job.connection_id,
                result.events,
                result.pages,
                result.changes,
            )
            return "ok", result.events

    async def _keep_statistics_current(self) -> None:
        try:
            analyzed = await statistics.analyze_grown_tables(
                self._pool, min_changed_rows=self._settings.analyze_min_rows
            )
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("worker %s could not analyze grown tables: %s", self.name, exc)
            return
        if analyzed:
            log.info("analyzed %s: they grew by half since their last ANALYZE", analyzed)

    async def _failures(self, connection_id: int) -> int:
        return await sync_state.failure_count(self._pool, connection_id)
