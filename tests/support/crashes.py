"""SIGKILLing `chronik worker` at chosen points of a sync, and saying where each kill landed.

Kill moments are chosen by progress, not wall time: a seeded plan gives each kill a target
(events the connection has committed) and a moment kind — inside a page transaction, between
pages, right after a worker took over a dead one's lease, or a random instant — and the
harness waits for that state, observed in PostgreSQL, before it sends SIGKILL.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import asyncpg

from tests.support.workers import WorkerProcess

MOMENTS = ("page transaction", "between pages", "after takeover", "random instant")
MOMENT_WEIGHTS = (40, 25, 20, 15)

# A page transaction of the worker: it has a transaction id and has read or written meetings
# (a token refresh, for one, also holds a transaction id, on its connection row).
OPEN_PAGE_TRANSACTION = """
    SELECT count(*) > 0 FROM pg_stat_activity AS a
    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
      AND a.backend_xid IS NOT NULL
      AND EXISTS (
          SELECT 1 FROM pg_locks AS l
          WHERE l.pid = a.pid AND l.relation = 'meetings'::regclass
      )
"""
STATEMENTS_RUNNING = """
    SELECT count(*) > 0 FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND backend_type = 'client backend' AND state = 'active'
"""
STATE = """
    SELECT lease_owner, events_seen, sync_phase, last_synced_at
    FROM calendar_connections WHERE id = $1
"""


@dataclass(frozen=True)
class Kill:
    target: int  # events committed before this kill may happen
    moment: str


def plan_kills(rng: random.Random, count: int, low: int, high: int) -> list[Kill]:
    """`count` kills with progress targets spread over [low, high), in order."""
    targets = sorted(rng.randrange(low, max(high, low + 1)) for _ in range(count))
    return [Kill(t, rng.choices(MOMENTS, MOMENT_WEIGHTS)[0]) for t in targets]


@dataclass
class KillLog:
    landed: Counter[str] = field(default_factory=Counter)
    events_at_kill: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # waited for each kill's moment
    phases: Counter[str] = field(default_factory=Counter)  # initial full round / incremental

    @property
    def kills(self) -> int:
        return sum(self.landed.values())


async def _state(db: asyncpg.Connection, connection_id: int) -> asyncpg.Record:
    record = await db.fetchrow(STATE, connection_id)
    assert record is not None
    return record


async def _in_page(db: asyncpg.Connection) -> bool:
    return bool(await db.fetchval(OPEN_PAGE_TRANSACTION))


async def _freeze(db: asyncpg.Connection, worker: WorkerProcess) -> None:
    """Stop the worker and let the statements it already sent finish: what PostgreSQL shows
    afterwards is where a SIGKILL now lands. (A page transaction is seen only for
    milliseconds; observed while the worker still runs, it may have committed by the time the
    signal arrives, and the next transaction may be another kind, a claim say.)"""
    worker.freeze()
    settled = time.monotonic() + 2.0
    while time.monotonic() < settled:
        if not await db.fetchval(STATEMENTS_RUNNING):
            return
        await asyncio.sleep(0.005)


async def kill_at(
    db: asyncpg.Connection,
    worker: WorkerProcess,
    connection_id: int,
    kill: Kill,
    log: KillLog,
    *,
    rng: random.Random,
    within: float = 10.0,
) -> None:
    """Wait for the planned moment (at most `within` seconds), SIGKILL, record where it landed."""
    deadline = time.monotonic() + within
    started_with = (await _state(db, connection_id))["events_seen"]
    if kill.moment == "random instant":
        await asyncio.sleep(rng.uniform(0.0, 0.4))
    while time.monotonic() < deadline:
        state = await _state(db, connection_id)
        if kill.moment == "after takeover":
            # Our worker holds the lease and has committed nothing yet.
            if worker.owns(state["lease_owner"]) and state["events_seen"] == started_with:
                break
        elif kill.moment == "page transaction":
            if state["events_seen"] >= kill.target and await _in_page(db):
                await _freeze(db, worker)
                if await _in_page(db):
                    break  # stays frozen until the kill
                worker.thaw()  # it committed meanwhile: wait for the next page
        elif kill.moment == "between pages":
            if (
                state["events_seen"] >= kill.target
                and worker.owns(state["lease_owner"])
                and not await _in_page(db)
            ):
                break
        else:
            break
        await asyncio.sleep(0.003)
    # Where the kill lands, seen with the worker stopped: said honestly, whatever was planned.
    await _freeze(db, worker)
    in_page = await _in_page(db)
    state = await _state(db, connection_id)
    worker.kill()
    if in_page:
        landed = "inside a page transaction"
    elif worker.owns(state["lease_owner"]):
        fresh = state["events_seen"] == started_with
        landed = "after its claim, before its first page" if fresh else "between pages"
    elif state["lease_owner"] is not None:
        landed = "before its claim (a dead worker's lease still held)"
    else:
        landed = "idle (nothing to sync)"
    log.landed[landed] += 1
    log.phases[str(state["sync_phase"])] += 1
    log.seconds.append(round(time.monotonic() - deadline + within, 2))
    log.events_at_kill.append(int(state["events_seen"]))
