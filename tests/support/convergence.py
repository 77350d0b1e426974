"""The harness of the convergence test: one Chronik + sandboxes per test, syncs run in-process.

Hypothesis drives stateful tests synchronously, so the harness owns an event loop of its own
and runs every coroutine on it (`run`). The Chronik server (real uvicorn, real OAuth linking,
real push webhooks) runs without its background worker; syncs are run by `SyncWorker.run_job`
in-process, on demand, with a fast retry policy so injected timeouts and retries cost
milliseconds. The final, fault-free sync uses the clients' default policy.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import itertools
import json
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from app.services import Services
from app.settings import Environment, Settings
from db import sync_state
from db.sync_state import SyncJob
from sandboxes.faults import Fault, FaultKind
from sandboxes.google.push import PushSettings
from sync.engine import EngineSettings, SyncEngine
from sync.http import RetryPolicy
from sync.worker import SyncWorker, WorkerSettings
from tests.support.postgres import clone_database, drop_database, with_database
from tests.support.sandboxes import Sandboxes, start_sandboxes
from tests.support.server import RunningChronik, free_port, running_chronik

T = TypeVar("T")

TEST_SECRET_KEY = "convergence-secret-key-" + "x" * 32
# Guests at this domain are the service's own addresses (rule 4), even when they are contacts.
EXCLUDED_DOMAIN = "vendor.test"
# Short enough that an injected timeout costs about a second, long enough for a busy machine.
FAST_RETRIES = RetryPolicy(attempts=4, base_delay=0.005, max_delay=0.02, timeout=1.0)
TIMEOUT_DELAY_S = FAST_RETRIES.timeout + 0.3


@dataclass(frozen=True)
class FaultPlan:
    """One kind of trouble a sync may run into; `faults` are added for the run's duration."""

    name: str
    faults: tuple[Fault, ...] = ()
    expire_cursor: bool = False


def _fault(kind: FaultKind, **kwargs: Any) -> Fault:
    return Fault(kind, **kwargs)


# Deterministic rules only (next_n, never a probability): Hypothesis replays examples, and a
# replay must meet the same faults.
FAULT_PLANS: tuple[FaultPlan, ...] = (
    FaultPlan("rate_limit", (_fault(FaultKind.RATE_LIMIT, retry_after=0.01, next_n=2),)),
    FaultPlan("server_error_500", (_fault(FaultKind.SERVER_ERROR, status=500, next_n=1),)),
    FaultPlan("server_error_503", (_fault(FaultKind.SERVER_ERROR, status=503, next_n=2),)),
    FaultPlan("bad_gateway", (_fault(FaultKind.SERVER_ERROR, status=502, next_n=1),)),
    FaultPlan("timeout", (_fault(FaultKind.TIMEOUT, delay_s=TIMEOUT_DELAY_S, next_n=1),)),
    FaultPlan("connection_reset", (_fault(FaultKind.RESET, next_n=2),)),
    # More failures in a row than the client retries: the run fails and must be survived.
    FaultPlan(
        "outage", (_fault(FaultKind.SERVER_ERROR, status=503, next_n=FAST_RETRIES.attempts),)
    ),
    FaultPlan("outage_resets", (_fault(FaultKind.RESET, next_n=FAST_RETRIES.attempts),)),
    # An outage after a round's first page: the run dies mid-round (pages 2+ only exist under
    # the sandbox's page cap); the next run must resume from the committed page.
    FaultPlan(
        "outage_mid_round",
        (
            _fault(
                FaultKind.SERVER_ERROR,
                status=503,
                next_n=FAST_RETRIES.attempts,
                path_contains="pageToken",
            ),
            _fault(
                FaultKind.SERVER_ERROR,
                status=503,
                next_n=FAST_RETRIES.attempts,
                path_contains="skiptoken",
            ),
        ),
    ),
    # Push registration failing: the sync itself succeeds, polling has to carry on.
    FaultPlan(
        "push_registration_down",
        (
            _fault(FaultKind.SERVER_ERROR, status=500, next_n=8, path_contains="/watch"),
            _fault(FaultKind.SERVER_ERROR, status=500, next_n=8, path_contains="/subscriptions"),
        ),
    ),
    FaultPlan("cursor_expired", expire_cursor=True),
)


@dataclass
class Figures:
    """What a run of the convergence test did, for the closing note."""

    examples: int = 0
    steps: int = 0
    syncs: int = 0
    failed_runs: int = 0  # runs that died of injected faults and had to be survived
    idle_push_checks: int = 0
    plans: collections.Counter[str] = field(default_factory=collections.Counter)
    injected: collections.Counter[str] = field(default_factory=collections.Counter)
    meetings_compared: int = 0
    entries_compared: int = 0
    tolerated_pairs: int = 0
    resumed_rounds: int = 0  # fault-free syncs that only finished an interrupted round
    lost: int = 0
    duplicated: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "steps": self.steps,
            "syncs": self.syncs,
            "failed_runs_survived": self.failed_runs,
            "idle_push_checks": self.idle_push_checks,
            "fault_plans_used": dict(sorted(self.plans.items())),
            "faults_injected": dict(sorted(self.injected.items())),
            "faults_injected_total": sum(self.injected.values()),
            "meetings_compared": self.meetings_compared,
            "entries_compared": self.entries_compared,
            "incremental_pairs_tolerated": self.tolerated_pairs,
            "resumed_rounds_needing_another_sync": self.resumed_rounds,
            "lost": self.lost,
            "duplicated": self.duplicated,
        }


@dataclass
class Harness:
    provider: str
    loop: asyncio.AbstractEventLoop
    chronik: RunningChronik
    sandboxes: Sandboxes
    db: asyncpg.Connection
    faulty: SyncWorker  # fast retries: where the faults land
    steady: SyncWorker  # default retries: the final, fault-free sync
    figures: Figures = field(default_factory=Figures)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)

    def next_id(self) -> int:
        return next(self._ids)

    @property
    def services(self) -> Services:
        services: Services = self.chronik.app.state.services
        return services

    # -- faults ---------------------------------------------------------------------------------

    @property
    def _injector(self) -> Any:
        sandbox = self.sandboxes.google if self.provider == "GOOGLE" else self.sandboxes.microsoft
        return sandbox.faults

    def add_faults(self, plan: FaultPlan) -> None:
        for fault in plan.faults:
            # A fresh copy: rules count their next_n down.
            self._injector.add(dataclasses.replace(fault))
        self.figures.plans[plan.name] += 1

    def clear_faults(self) -> None:
        self._injector.clear()

    def short_pages(self, cap: int | None) -> None:
        """Change feeds answer with at most `cap` items a page (None: as many as asked)."""
        self._injector.page_cap = cap

    @contextlib.contextmanager
    def full_pages(self) -> Iterator[None]:
        """No page cap for a while (the oracle's listings)."""
        cap, self._injector.page_cap = self._injector.page_cap, None
        try:
            yield
        finally:
            self._injector.page_cap = cap

    def expire_cursor(self, owner: str) -> None:
        if self.provider == "GOOGLE":
            self.sandboxes.google.expire_sync_tokens(owner)
        else:
            self.sandboxes.microsoft.invalidate_delta_tokens(owner)
        self.figures.injected["cursor_expired_410"] += 1

    def push_quirks(self, *, duplicate: bool, reorder: bool, drop: int) -> None:
        if self.provider == "GOOGLE":
            self.sandboxes.google.push.settings = PushSettings(
                duplicate=int(duplicate), reorder=reorder, drop=drop
            )
        else:
            subscriptions = self.sandboxes.microsoft.subscriptions
            subscriptions.duplicate = duplicate
            subscriptions.drop = drop
            subscriptions.hold = subscriptions.hold or reorder

    async def deliver_pushes(self) -> None:
        """Let every queued notification reach Chronik's webhook (held ones reversed)."""
        if self.provider == "GOOGLE":
            await self.sandboxes.google.push.drain()
        else:
            subscriptions = self.sandboxes.microsoft.subscriptions
            if subscriptions.hold:
                subscriptions.release(reverse=True)
            await subscriptions.drain()

    async def calm(self) -> None:
        """Faults and push quirks off, every queued notification delivered."""
        self.clear_faults()
        if self.provider == "GOOGLE":
            self.sandboxes.google.push.settings = PushSettings()
        else:
            subscriptions = self.sandboxes.microsoft.subscriptions
            subscriptions.duplicate, subscriptions.drop = False, 0
        await self.deliver_pushes()

    def injected_totals(self) -> collections.Counter[str]:
        """Faults the sandbox applied so far (requests faulted by kind, push quirks)."""
        totals: collections.Counter[str] = collections.Counter()
        if self.provider == "GOOGLE":
            totals.update(self.sandboxes.google.faults.injected)
            totals.update(self.sandboxes.google.push.faults)
        else:
            totals.update(self.sandboxes.microsoft.faults.injected)
            totals.update(self.sandboxes.microsoft.subscriptions.faults)
        return totals

    # -- syncs ----------------------------------------------------------------------------------

    async def sync(self, connection_id: int, *, steady: bool = False, request: bool = True) -> str:
        """Run one sync of the connection: "ok", "failed" (survivable) or "idle" (not due).

        Without `request`, only a sync something else asked for runs (a push notification).
        An internal error (a bug, not a fault) fails the test at once.
        """
        worker = self.steady if steady else self.faulty
        if request:
            await sync_state.request_sync(self.db, connection_id)
        job = await self._claim(worker, patient=request)
        if job is None:
            return "idle"
        assert job.connection_id == connection_id, "another example's connection was due"
        before = await sync_state.failure_count(self.db, connection_id)
        await worker.run_job(job)
        self.figures.syncs += 1
        row = await self.db.fetchrow(
            "SELECT failure_count, last_error, lease_owner FROM calendar_connections WHERE id = $1",
            connection_id,
        )
        assert row["lease_owner"] is None, "the run kept its lease"
        if row["failure_count"] > before:
            assert "internal error" not in (row["last_error"] or ""), row["last_error"]
            self.figures.failed_runs += 1
            return "failed"
        return "ok"

    async def _claim(self, worker: SyncWorker, *, patient: bool) -> SyncJob | None:
        # A push landing right now holds the row for a moment (its request_sync), and
        # claim_due skips locked rows: a requested sync waits that moment out.
        for _ in range(200 if patient else 1):
            job = await sync_state.claim_due(
                self.db, worker=worker.name, lease_seconds=60, poll_seconds=3600
            )
            if job is not None or not patient:
                return job
            await asyncio.sleep(0.01)
        return None


def _engine(services: Services, settings: Settings, policy: RetryPolicy | None) -> SyncEngine:
    return SyncEngine(
        services.sync_pool,
        services.apps,
        services.http,
        services.credentials,
        EngineSettings(
            public_url=str(settings.public_url),
            excluded_domains=frozenset({EXCLUDED_DOMAIN}),
            lease_seconds=60,
            retry_policy=policy,
        ),
        worker_id=f"convergence-{'fast' if policy else 'steady'}",
    )


@contextlib.contextmanager
def running_harness(
    provider: str, admin_dsn: str, template: str, data_dir: Path
) -> Iterator[Harness]:
    """A fresh database, both sandboxes and a Chronik server on a private event loop."""
    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()
    try:
        harness = loop.run_until_complete(
            _start(stack, provider, admin_dsn, template, data_dir, loop)
        )
        yield harness
    finally:
        loop.run_until_complete(stack.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _start(
    stack: contextlib.AsyncExitStack,
    provider: str,
    admin_dsn: str,
    template: str,
    data_dir: Path,
    loop: asyncio.AbstractEventLoop,
) -> Harness:
    name = await clone_database(admin_dsn, template)
    stack.push_async_callback(drop_database, admin_dsn, name)
    url = with_database(admin_dsn, name)
    sandboxes = await start_sandboxes()
    stack.push_async_callback(sandboxes.close)
    settings = Settings(
        env=Environment.TEST,
        database_url=url,
        data_dir=data_dir,
        secret_key=TEST_SECRET_KEY,  # type: ignore[arg-type]
        public_url=f"http://127.0.0.1:{free_port()}",  # type: ignore[arg-type]
        providers={
            "google": {"sandbox_url": sandboxes.google_url},
            "microsoft": {"sandbox_url": sandboxes.microsoft_url},
        },
        run_worker=False,
        excluded_email_domains=[EXCLUDED_DOMAIN],
    )
    chronik = await stack.enter_async_context(running_chronik(settings))
    db = await asyncpg.connect(url)
    stack.push_async_callback(db.close)
    services: Services = chronik.app.state.services
    workers = [
        SyncWorker(
            services.sync_pool,
            _engine(services, settings, policy),
            WorkerSettings(lease_seconds=60),
            dsn=services.dsn,
        )
        for policy in (FAST_RETRIES, None)
    ]
    return Harness(provider, loop, chronik, sandboxes, db, workers[0], workers[1])


def write_figures(path: Path, figures: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
