"""Operator commands: `chronik status` (every connection's health) and `chronik sync --user`.

Both talk to PostgreSQL only, so they work against any deployment: `chronik sync` requests a
sync the way push notifications do, and whichever worker runs (the one inside `chronik serve`
or a `chronik worker` process) picks it up; the command follows the run through the
connection's sync state until it finishes.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TextIO

import asyncpg

from db import status as status_db
from db import sync_state
from db.orphans import orphaned_rows
from db.status import ConnectionHealth, SyncProgress


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def format_integrity(orphans: dict[str, int]) -> str:
    """One line when the bulk tables are whole; otherwise what is orphaned, and how many."""
    if not orphans:
        return "integrity: no orphaned rows\n"
    return (
        f"integrity: {sum(orphans.values())} orphaned rows (a delete bypassed db/cascade.py)\n"
        + "".join(f"  {what}: {count}\n" for what, count in orphans.items())
    )


def format_status(connections: list[ConnectionHealth]) -> str:
    """The `chronik status` report: counts by state, a table, then the failing connections."""
    if not connections:
        return "no calendar connections yet\n"
    states = Counter(c.status for c in connections)
    syncing = sum(c.syncing for c in connections)
    lines = [
        f"connections: {len(connections)} ("
        + ", ".join(f"{state} {count}" for state, count in sorted(states.items()))
        + f"); syncing now: {syncing}",
        "",
    ]
    rows = [("ACCOUNT", "USER", "PROVIDER", "STATUS", "PHASE", "EVENTS", "LAST SYNC", "FAILURES")]
    rows += [
        (
            c.account_name,
            c.user_email,
            c.provider,
            c.status + (" (syncing)" if c.syncing else ""),
            c.sync_phase,
            str(c.events_seen),
            _ago(c.last_synced_at),
            str(c.failure_count),
        )
        for c in connections
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    failing = [c for c in connections if c.failing]
    lines += ["", f"failing: {len(failing)}"]
    for c in failing:
        retry = (
            f"; next attempt {c.next_attempt_at:%Y-%m-%d %H:%M:%S}Z"
            if (c.next_attempt_at and c.status == "active")
            else ""
        )
        lines.append(
            f"  {c.user_email} ({c.provider}, {c.status}, {c.failure_count} failures, "
            f"last error {_ago(c.last_error_at)}{retry}): {c.last_error or 'no reason recorded'}"
        )
    return "\n".join(lines) + "\n"


async def status_report(pool: asyncpg.Pool) -> str:
    connections = format_status(await status_db.connection_health(pool))
    return connections + "\n" + format_integrity(await orphaned_rows(pool))


class ProgressBar:
    """An indeterminate bar (providers never say how many events a calendar holds) with the
    count of events read; redrawn in place on a terminal, one line per change otherwise."""

    WIDTH = 24

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self._tick = 0
        self._last = ""

    def show(self, text: str) -> None:
        if self._tty:
            self._tick += 1
            span = self.WIDTH - 6
            pos = abs((self._tick % (2 * span)) - span)
            bar = " " * pos + "=" * 6 + " " * (span - pos)
            self._out.write(f"\r[{bar}] {text}\033[K")
            self._out.flush()
        elif text != self._last:
            self._out.write(text + "\n")
            self._out.flush()
        self._last = text

    def finish(self, text: str) -> None:
        self._out.write(("\r" if self._tty else "") + text + ("\033[K" if self._tty else "") + "\n")
        self._out.flush()


def _describe(p: SyncProgress, first: SyncProgress) -> str:
    read = p.events_seen - first.events_seen
    if read < 0:  # the run started a new full round: its count starts over
        read = p.events_seen
    state = "syncing" if p.syncing else "waiting for a worker" if p.requested else "finishing"
    return f"{read} event{'' if read == 1 else 's'} read · {p.sync_phase} sync · {state}"


async def sync_user(
    pool: asyncpg.Pool,
    email: str,
    out: TextIO,
    *,
    poll_seconds: float = 0.2,
    give_up_after: float | None = None,
    hint_after: float = 10.0,
) -> int:
    """Request a sync of `email`'s connection and follow it until it finishes; the exit code
    (0 synced; 1 no connection, inactive, failed, or not done after `give_up_after` seconds)."""
    first = await status_db.progress_for_email(pool, email)
    if first is None:
        out.write(f"chronik: {email} has no linked calendar\n")
        return 1
    if first.status != "active" or not await sync_state.request_sync(pool, first.connection_id):
        out.write(f"chronik: the connection is {first.status}: {first.last_error or ''}\n")
        return 1
    out.write(f"sync of {email}'s {first.provider} calendar requested\n")
    bar = ProgressBar(out)
    started = time.monotonic()
    hinted = False
    while True:
        p = await status_db.progress(pool, first.connection_id)
        assert p is not None
        if p.failure_count > first.failure_count or p.status != "active":
            bar.finish(f"sync failed ({p.status}): {p.last_error or 'no reason recorded'}")
            return 1
        done = p.last_synced_at is not None and p.last_synced_at != first.last_synced_at
        if done and not p.requested and not p.syncing:
            bar.finish(f"synced: {_describe(p, first).split(' · ')[0]}, now {p.sync_phase}")
            return 0
        bar.show(_describe(p, first))
        waited = time.monotonic() - started
        if p.requested and not hinted and waited > hint_after:
            hinted = True
            bar.finish(
                "no worker has taken the sync yet: is `chronik serve` (with CHRONIK_RUN_WORKER) "
                "or a `chronik worker` running against this database?"
            )
        if give_up_after is not None and waited > give_up_after:
            bar.finish(f"chronik: the sync did not finish within {give_up_after:g}s")
            return 1
        await asyncio.sleep(poll_seconds)
