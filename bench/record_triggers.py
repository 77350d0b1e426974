"""Benchmark: what the record-timeline triggers (db/migrations/0016) cost the sync's writes.

    .venv/bin/python bench/record_triggers.py [--meetings N] [--linked L] [--rounds R]
                                              [--database-url URL]

One account with N meetings of one linked connection (L of them scheduled from deals), written
again page by page (2,500 meetings, as the sync writes) in three shapes, each timed with the
`meetings_of_records_changed` trigger on and off, alternating, R rounds:
  unchanged  `upsert_meetings` of the same events (a full round re-reading the calendar)
  changed    `upsert_meetings` with every title changed (a calendar rewritten)
  seen       the round's "seen" mark on the meetings of a page (`mark_seen`)
The link triggers (on company/deal/ticket_meetings) fire only when a meeting is scheduled
from a record, never on these paths. Prints ms per page (median over pages and rounds) and
the trigger's share.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import asyncpg
import common

from db import meetings as meetings_db
from db.meetings import AttendeeWrite, MeetingWrite
from db.migrate import apply_migrations

PAGE = 2500
TRIGGER = "meetings_of_records_changed"


def writes(n: int, suffix: str) -> list[MeetingWrite]:
    start = dt.datetime(2027, 1, 4, 9, tzinfo=dt.UTC)
    return [
        MeetingWrite(
            provider_event_id=f"ev{i}",
            provider_alt_id=None,
            ical_uid=f"ev{i}@bench",
            kind="single",
            series_id=None,
            original_start=None,
            title=f"Meeting {i}{suffix}",
            description=None,
            location=None,
            starts_at=start + dt.timedelta(hours=i),
            ends_at=start + dt.timedelta(hours=i, minutes=30),
            time_zone="UTC",
            all_day=False,
            status="confirmed",
            organizer_email="owner@acme.test",
            provider_created_at=start,
            provider_updated_at=start,
            etag=f"e{i}{suffix}",
            attendees=[
                AttendeeWrite("owner@acme.test", None, "accepted", True),
                AttendeeWrite(f"contact{i % 5000}@example.com", None, "accepted", False),
            ],
            contact_ids=frozenset(),
        )
        for i in range(n)
    ]


async def run(args: argparse.Namespace) -> None:
    print(common.machine_line("record-trigger benchmark"))
    admin = common.admin_dsn(args.database_url)
    name = f"bench_triggers_{uuid.uuid4().hex[:8]}"
    dsn = await common.create_database(admin, name)
    try:
        conn = await asyncpg.connect(dsn)
        await apply_migrations(conn)
        account_id, user_id, _ = await common.provision(dsn, "owner@acme.test", "acme.test")
        connection_id = await conn.fetchval(
            "INSERT INTO calendar_connections (account_id, user_id, provider, calendar_email, "
            "status, linked_at) VALUES ($1, $2, 'google', 'owner@acme.test', 'active', now()) "
            "RETURNING id",
            account_id,
            user_id,
        )
        events = writes(args.meetings, "")
        ids: list[int] = []
        for at in range(0, len(events), PAGE):
            async with conn.transaction():
                ids += await meetings_db.upsert_meetings(
                    conn,
                    account_id=account_id,
                    connection_id=connection_id,
                    source="google",
                    seen_round=1,
                    writes=events[at : at + PAGE],
                )
        deals = await conn.fetch(
            "INSERT INTO deals (account_id, name, stage) SELECT $1, 'Deal ' || n, "
            "'appointment_scheduled' FROM generate_series(1, $2) n RETURNING id",
            account_id,
            args.linked,
        )
        step = max(1, len(ids) // max(1, args.linked))
        await conn.executemany(
            "INSERT INTO deal_meetings (account_id, deal_id, meeting_id) VALUES ($1, $2, $3)",
            [(account_id, d["id"], ids[i * step]) for i, d in enumerate(deals)],
        )
        await conn.execute("VACUUM ANALYZE")
        changed = writes(args.meetings, " (moved)")
        timings: dict[tuple[str, bool], list[float]] = {}
        seen_round = 1
        flip = False
        for round_no in range(args.rounds):
            for on in (True, False) if round_no % 2 == 0 else (False, True):
                await conn.execute(
                    f"ALTER TABLE meetings {'ENABLE' if on else 'DISABLE'} TRIGGER {TRIGGER}"
                )
                for shape in ("unchanged", "changed", "seen"):
                    seen_round += 1
                    source = events
                    if shape == "changed":  # alternate between the two titles: always a change
                        flip = not flip
                        source = changed if flip else events
                    for at in range(0, len(source), PAGE):
                        started = time.perf_counter()
                        async with conn.transaction():
                            if shape == "seen":
                                await meetings_db.mark_seen(conn, ids[at : at + PAGE], seen_round)
                            else:
                                await meetings_db.upsert_meetings(
                                    conn,
                                    account_id=account_id,
                                    connection_id=connection_id,
                                    source="google",
                                    seen_round=seen_round,
                                    writes=source[at : at + PAGE],
                                )
                        timings.setdefault((shape, on), []).append(time.perf_counter() - started)
        explained = await _trigger_work(conn, ids[:PAGE], seen_round)
        await conn.close()
        print(
            f"  {args.meetings:,} meetings ({args.linked} scheduled from deals), pages of "
            f"{PAGE:,}, {args.rounds} rounds"
        )
        for shape in ("unchanged", "changed", "seen"):
            on = statistics.median(timings[shape, True]) * 1000
            off = statistics.median(timings[shape, False]) * 1000
            print(
                f"  {shape:9}  trigger on {on:7.1f} ms/page   off {off:7.1f} ms/page   "
                f"on/off {on / off:.3f}"
            )
        for line in explained:
            print(f"  {line}")
        print(f"  {common.machine_line('done')}")
    finally:
        await common.drop_database(admin, name)


async def _trigger_work(conn: asyncpg.Connection, page: list[int], seen_round: int) -> list[str]:
    """What PostgreSQL itself reports of the trigger (EXPLAIN ANALYZE: its calls and time)
    for one page of each shape, as UPDATEs (rolled back): wall times on a shared machine
    drift more than the trigger costs."""
    await conn.execute(f"ALTER TABLE meetings ENABLE TRIGGER {TRIGGER}")
    statements = {
        "unchanged": "UPDATE meetings SET updated_at = now(), seen_round = seen_round + 1, "
        "title = title WHERE id = ANY($1::bigint[])",
        "changed": "UPDATE meetings SET updated_at = now(), title = title || '.' "
        "WHERE id = ANY($1::bigint[])",
        "seen": f"UPDATE meetings SET seen_round = {seen_round + 1} WHERE id = ANY($1::bigint[])",
    }
    lines = []
    for shape, sql in statements.items():
        tr = conn.transaction()
        await tr.start()
        try:
            plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", page)
        finally:
            await tr.rollback()
        found = json.loads(plan)[0]
        triggers = {t["Trigger Name"]: t for t in found.get("Triggers", [])}
        mine = triggers.get(TRIGGER, {"Calls": 0, "Time": 0.0})
        lines.append(
            f"EXPLAIN {shape:9} ({len(page):,} rows): statement {found['Execution Time']:.1f} ms, "
            f"{TRIGGER} called {mine['Calls']} times, {mine['Time']:.1f} ms"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meetings", type=int, default=25_000)
    parser.add_argument("--linked", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--database-url")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
