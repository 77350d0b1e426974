"""Evidence for the worker tests: a lease audit trail, overlap analysis, duplicate checks.

The audit is a trigger the test installs in its own database (not a migration): every update of
a connection's lease owner, lease expiry or cursor is copied, with the clock, into
`lease_audit`. Updates of one row are serialized by its row lock, so ordering the trail by time
gives each connection's history in commit order; rolled-back page transactions leave no trace,
exactly like they leave no data.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg

INSTALL_AUDIT = """
CREATE TABLE lease_audit (
    id            bigserial PRIMARY KEY,
    connection_id bigint NOT NULL,
    old_owner     text,
    new_owner     text,
    old_expires   timestamptz,
    cursor_saved  boolean NOT NULL,
    at            timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION audit_lease() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.lease_owner IS DISTINCT FROM OLD.lease_owner
       OR NEW.lease_expires_at IS DISTINCT FROM OLD.lease_expires_at
       OR NEW.sync_cursor IS DISTINCT FROM OLD.sync_cursor THEN
        INSERT INTO lease_audit (connection_id, old_owner, new_owner, old_expires, cursor_saved)
        VALUES (NEW.id, OLD.lease_owner, NEW.lease_owner, OLD.lease_expires_at,
                NEW.sync_cursor IS DISTINCT FROM OLD.sync_cursor);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_lease AFTER UPDATE ON calendar_connections
    FOR EACH ROW EXECUTE FUNCTION audit_lease();
"""


async def install_lease_audit(db: asyncpg.Connection) -> None:
    await db.execute(INSTALL_AUDIT)


@dataclass(frozen=True)
class Run:
    """One worker's hold on one connection: from its claim to its release (or lease end)."""

    connection_id: int
    owner: str
    start: datetime
    end: datetime
    pages: int
    ended_by: str  # "released", "taken over" (lease expired: a dead worker's), "open"


@dataclass
class LeaseReport:
    runs: list[Run] = field(default_factory=list)
    overlaps: list[tuple[Run, Run]] = field(default_factory=list)
    # A write by a worker that did not hold the connection's lease at that moment.
    foreign_writes: list[str] = field(default_factory=list)
    takeovers: int = 0

    def runs_by_owner(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for run in self.runs:
            counts[run.owner] += 1
        return dict(counts)


async def lease_report(db: asyncpg.Connection) -> LeaseReport:
    """Each connection's runs from the audit trail, and any two of one connection that overlap."""
    rows = await db.fetch("SELECT * FROM lease_audit ORDER BY connection_id, at, id")
    report = LeaseReport()
    by_connection: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_connection[row["connection_id"]].append(row)
    for connection_id, history in by_connection.items():
        runs: list[Run] = []
        holder: tuple[str, datetime, int] | None = None  # owner, start, pages
        for row in history:
            old, new = row["old_owner"], row["new_owner"]
            if old != new and new is not None:  # a claim
                if holder is not None:
                    # Taking over is only allowed once the holder's lease has expired; the
                    # holder's run ended at that expiry, whatever it was still doing.
                    report.takeovers += 1
                    owner, start, pages = holder
                    end = row["old_expires"] or row["at"]
                    runs.append(Run(connection_id, owner, start, end, pages, "taken over"))
                holder = (new, row["at"], 0)
            elif old is not None and new is None:  # a release (finish, failure, shutdown)
                if holder is None or holder[0] != old:
                    report.foreign_writes.append(f"{connection_id}: {old} released at {row['at']}")
                else:
                    _, start, pages = holder
                    runs.append(Run(connection_id, old, start, row["at"], pages, "released"))
                holder = None
            elif row["cursor_saved"] or old == new:  # a page commit or lease extension
                if holder is None or holder[0] != new:
                    report.foreign_writes.append(f"{connection_id}: write by {new} at {row['at']}")
                elif row["cursor_saved"]:
                    holder = (holder[0], holder[1], holder[2] + 1)
        if holder is not None:
            owner, start, pages = holder
            runs.append(Run(connection_id, owner, start, history[-1]["at"], pages, "open"))
        runs.sort(key=lambda r: r.start)
        for before, after in itertools.pairwise(runs):
            if after.start < before.end:
                report.overlaps.append((before, after))
        report.runs += runs
    return report


# Rows that must be unique in meaning even where no constraint says so.
DUPLICATE_QUERIES = {
    "meetings per provider event": """
        SELECT count(*) FROM (SELECT 1 FROM meetings WHERE provider_event_id IS NOT NULL
        GROUP BY connection_id, provider_event_id HAVING count(*) > 1) d""",
    "meetings per provider alternative id": """
        SELECT count(*) FROM (SELECT 1 FROM meetings WHERE provider_alt_id IS NOT NULL
        GROUP BY connection_id, provider_alt_id HAVING count(*) > 1) d""",
    "meetings per iCalUID and occurrence": """
        SELECT count(*) FROM (SELECT 1 FROM meetings WHERE ical_uid IS NOT NULL
        GROUP BY connection_id, ical_uid, coalesce(original_start, '-infinity'), kind
        HAVING count(*) > 1) d""",
    "timeline entries per contact and meeting": """
        SELECT count(*) FROM (SELECT 1 FROM timeline_entries
        GROUP BY contact_id, meeting_id HAVING count(*) > 1) d""",
    "attendees per meeting and address": """
        SELECT count(*) FROM (SELECT 1 FROM meeting_attendees
        GROUP BY meeting_id, email HAVING count(*) > 1) d""",
    # The change log is what live subscribers replay: per (contact, meeting) it must read
    # added, updated*, removed, added, ... and end where the timeline is.
    "change log entries out of sequence": """
        SELECT count(*) FROM (
            SELECT kind, lag(kind) OVER w AS before FROM timeline_changes
            WINDOW w AS (PARTITION BY contact_id, meeting_id ORDER BY id)) s
        WHERE (kind = 'added' AND before IS NOT NULL AND before <> 'removed')
           OR (kind <> 'added' AND (before IS NULL OR before = 'removed'))""",
    "timelines that disagree with their change log": """
        SELECT count(*) FROM (
            SELECT DISTINCT ON (contact_id, meeting_id) contact_id, meeting_id, kind
            FROM timeline_changes ORDER BY contact_id, meeting_id, id DESC) last
        FULL JOIN timeline_entries e USING (contact_id, meeting_id)
        WHERE (e.id IS NULL AND last.kind <> 'removed')
           OR (e.id IS NOT NULL AND (last.kind IS NULL OR last.kind = 'removed'))""",
}


async def duplicates(db: asyncpg.Connection) -> dict[str, int]:
    """Every duplicate check with its count of offending groups (all 0 when healthy)."""
    return {name: int(await db.fetchval(query)) for name, query in DUPLICATE_QUERIES.items()}


BAD_LOG_LINES = ("deadlock detected", "could not serialize", "Traceback", "SerializationError")
# The test server is shared: a worker may fail to start when its connection slots run out.
# That is the machine, not Chronik; the tests count it, and the harness restarts the worker.
NO_SLOTS = "TooManyConnectionsError"


def log_problems(logs: list[Path]) -> list[str]:
    """Lines of the workers' logs that must never appear (deadlocks, serialization, crashes)."""
    found = []
    for path in logs:
        text = path.read_text(errors="replace")
        bad = BAD_LOG_LINES if NO_SLOTS not in text else BAD_LOG_LINES[:2]
        for line in text.splitlines():
            if any(b.lower() in line.lower() for b in bad):
                found.append(f"{path.name}: {line}")
    return found


def out_of_slots(logs: list[Path]) -> int:
    """Workers that could not connect: the shared test server had no connection slot left."""
    return sum(1 for path in logs if NO_SLOTS in path.read_text(errors="replace"))
