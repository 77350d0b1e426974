"""Benchmark: a calendar of N events synced onto contact timelines, end to end.

    .venv/bin/python bench/sync_throughput.py [N] [--rounds R] [--memory-size M] [--full]
                                              [--profile DIR] [--database-url URL]

Processes (all on 127.0.0.1): the Google sandbox (`python -m app.cli sandbox`), `chronik serve`
(API, OAuth callback; its in-process worker off) and ONE `chronik worker` (the syncing process,
started fresh for every round so its peak RSS is that round's), PostgreSQL (embedded pgserver
unless CHRONIK_TEST_DATABASE_URL / --database-url).

Per round, in a fresh database: 5,000 contacts contact0..4999@example.com, a user whose calendar
is linked through the real OAuth flow against the sandbox (first sync: empty calendar), then
N events bulk-loaded through the sandbox control API (`events:bulk`; pushes for it dropped so
nothing syncs early) as a realistic seeded mix (`--seed`; see sandboxes/google/bulkmix.py:
internal, contact and unknown guests, weekly series with moved and cancelled occurrences,
private events, invitations from contacts, events without a contact guest; `--plain`: the old
write-heaviest shape, two contact guests on every event), then `syncCalendarNow` → timed
until `last_synced_at` (set right after the last page commits). With `--full` the sync
tokens are expired first, so the timed sync is a full round (410 → full listing + the
unseen-meetings sweep) instead of an incremental one.

Then, in the same database, the physical limit: asyncpg `copy_records_to_table` of N prepared
rows into a scratch table as wide as `meetings` (no indexes), and of the whole write set a
sync makes (N meetings + their attendee rows + timeline entries, scratch tables, no indexes).

Prints events/s, the ratio to the COPY rate, CPU seconds per process (worker / PostgreSQL /
sandbox) during the sync, and the worker's peak RSS for N and for `--memory-size`.
Targets: >= 20,000 events/s and >= 0.20 of the COPY rate; memory flat in N.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
import asyncpg
import common
import httpx

OWNER = "owner@acme.test"
CONTACTS = 5000

INSTALL = "mutation { installCalendarIntegration(provider: GOOGLE) { integrationProvider } }"
START = """mutation($hint: String) {
  startCalendarLink(provider: GOOGLE, loginHint: $hint) { authorizationUrl } }"""
SYNC_NOW = "mutation { syncCalendarNow { id } }"


# -- the traced worker (runs in the worker subprocess with --profile) --------------------------


def traced_worker(out: str) -> None:
    """`chronik worker` with timers around fetch/commit and a per-statement SQL log; writes
    the totals to `out` (JSON) when it exits. Instrumentation only: product code unchanged."""
    import atexit
    import collections

    import app.services as services_mod
    import sync.apply as apply_mod
    import sync.engine as engine_mod
    import sync.providers.google.client as google_client
    from app.cli import main

    sql: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    timers: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    spans: list[tuple[str, float, float]] = []  # every timed call: (name, start, end)

    def on_query(logged: Any) -> None:
        key = " ".join(logged.query.split())[:110]
        entry = sql[key]
        entry[0] += 1
        entry[1] += logged.elapsed

    original_pool = services_mod.create_pool

    async def create_pool(dsn: str, **kw: Any) -> Any:
        kw["on_query"] = on_query
        return await original_pool(dsn, **kw)

    services_mod.create_pool = create_pool

    def timed(cls: Any, name: str) -> None:
        original = getattr(cls, name)

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                ended = time.perf_counter()
                label = f"{cls.__name__}.{name}"
                if name == "copy_records_to_table":
                    label += f"({args[1]})"
                entry = timers[label]
                entry[0] += 1
                entry[1] += ended - started
                spans.append((label, started, ended))

        setattr(cls, name, wrapper)

    timed(google_client.GoogleCalendarClient, "fetch_changes")
    timed(engine_mod.SyncEngine, "_commit_page")
    timed(apply_mod, "plan_page")
    timed(apply_mod, "write_plan")
    timed(engine_mod.SyncEngine, "_read_ahead")
    timed(engine_mod.SyncEngine, "run")
    import asyncpg as asyncpg_mod

    import db.meetings as meetings_mod

    timed(asyncpg_mod.Connection, "copy_records_to_table")
    for name in ("write_meetings", "set_timelines", "record_changes", "refresh_cancelled_weeks"):
        timed(meetings_mod, name)
    import sync.http as http_mod

    timed(http_mod.ProviderSession, "request")

    import selectors

    select = selectors.EpollSelector.select

    def idle_select(self: Any, timeout: float | None = None) -> Any:
        # The event loop waiting for any socket: the worker's Python has nothing to do.
        started = time.perf_counter()
        ready = select(self, timeout)
        ended = time.perf_counter()
        if ended - started > 0.0001:
            spans.append(("loop idle", started, ended))
        return ready

    selectors.EpollSelector.select = idle_select  # type: ignore[method-assign]

    def dump() -> None:
        Path(out).write_text(json.dumps({"sql": sql, "timers": timers, "spans": spans}))

    atexit.register(dump)
    sys.exit(main(["worker"]))


# -- the benchmark ---------------------------------------------------------------------------


async def link_calendar(api: str, token: str, sandbox_url: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=60) as http:

        async def gql(query: str, variables: dict[str, Any] | None = None) -> Any:
            r = await http.post(
                f"{api}/graphql",
                json={"query": query, "variables": variables or {}},
                headers=headers,
            )
            body = r.json()
            assert not body.get("errors"), body
            return body["data"]

        await gql(INSTALL)
        r = await http.post(f"{sandbox_url}/_sandbox/users", json={"email": OWNER})
        assert r.status_code in (200, 201), r.text
        url = (await gql(START, {"hint": OWNER}))["startCalendarLink"]["authorizationUrl"]
        async with httpx.AsyncClient(timeout=60) as browser:
            # The start page's script: prove to be the user who started the link.
            state = url.split("state=", 1)[1]
            proof = await browser.post(
                url.split("?", 1)[0],
                json={"state": state, "token": token},
                headers={"Origin": api},
            )
            assert proof.status_code == 200, proof.text
            final = await browser.get(proof.json()["providerUrl"], follow_redirects=True)
        assert "linked=google" in str(final.url), (final.url, final.text[:300])


async def sync_state(conn: asyncpg.Connection) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT id, last_synced_at, failure_count, last_error, sync_requested_at, lease_owner "
        "FROM calendar_connections"
    )


async def wait_synced(
    conn: asyncpg.Connection, after: dt.datetime | None, worker: common.Child, within: float
) -> asyncpg.Record:
    deadline = time.monotonic() + within
    while True:
        row = await sync_state(conn)
        if row is not None:
            if row["failure_count"]:
                raise RuntimeError(f"sync failed: {row['last_error']}\n{worker.tail()}")
            done = row["last_synced_at"] is not None and row["last_synced_at"] != after
            if done and row["lease_owner"] is None and row["sync_requested_at"] is None:
                return row
        if not worker.alive():
            raise RuntimeError(f"worker exited:\n{worker.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no sync finished in {within}s: {dict(row or {})}")
        await asyncio.sleep(0.01)


def meeting_rows(
    n: int, account_id: int, connection_id: int, cols: list[str]
) -> list[tuple[Any, ...]]:
    """N rows as `meetings` stores them (every column, normalized values like a sync's)."""
    base = dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for i in range(n):
        starts = base + dt.timedelta(hours=i)
        event_id = f"bench{i:026d}"
        values = {
            "id": i + 1,
            "account_id": account_id,
            "connection_id": connection_id,
            "source": "google",
            "provider_event_id": event_id,
            "ical_uid": f"{event_id}@google.com",
            "kind": "single",
            "title": f"Meeting {i}",
            "starts_at": starts,
            "ends_at": starts + dt.timedelta(minutes=30),
            "time_zone": "UTC",
            "all_day": False,
            "status": "confirmed",
            "frozen": False,
            "organizer_email": OWNER,
            "provider_created_at": now,
            "provider_updated_at": now,
            "etag": f'"{1764000000000000 + i}"',
            "seen_round": 7,
            "created_at": now,
            "updated_at": now,
        }
        rows.append(tuple(values.get(c) for c in cols))
    return rows


async def copy_into_real_tables(
    conn: asyncpg.Connection, n: int, account_id: int, connection_id: int, *, no_fk: bool = False
) -> dict[str, float]:
    """The same write set COPYed into the REAL tables (their indexes, FKs, identity ids),
    in one transaction that is rolled back: what the schema itself costs, minus the SQL shape.
    Seconds for: COPY meetings, read their ids back, COPY attendees, entries, changes."""
    cols = [
        "account_id",
        "connection_id",
        "source",
        "provider_event_id",
        "ical_uid",
        "kind",
        "title",
        "starts_at",
        "ends_at",
        "time_zone",
        "all_day",
        "status",
        "organizer_email",
        "provider_created_at",
        "provider_updated_at",
        "etag",
        "seen_round",
    ]
    base = dt.datetime(2030, 1, 1, 8, tzinfo=dt.UTC)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for i in range(n):
        starts = base + dt.timedelta(hours=i)
        pid = f"copy{i:026d}"
        rows.append(
            (
                account_id,
                connection_id,
                "google",
                pid,
                f"{pid}@google.com",
                "single",
                f"Meeting {i}",
                starts,
                starts + dt.timedelta(minutes=30),
                "UTC",
                False,
                "confirmed",
                OWNER,
                now,
                now,
                '"1"',
                7,
            )
        )
    contact_ids = [r[0] for r in await conn.fetch("SELECT id FROM contacts ORDER BY id")]
    tr = conn.transaction()
    await tr.start()
    steps: dict[str, float] = {}
    try:
        if no_fk:  # superuser only: FK (and other) triggers off for this transaction
            await conn.execute("SET LOCAL session_replication_role = replica")
        started = t = time.perf_counter()
        await conn.copy_records_to_table("meetings", records=rows, columns=cols)
        got = await conn.fetch(
            "SELECT id, provider_event_id FROM meetings WHERE connection_id = $1 "
            "AND provider_event_id LIKE 'copy%'",
            connection_id,
        )
        ids = {r[1]: r[0] for r in got}
        mids = [ids[r[3]] for r in rows]
        steps["meetings"], t = time.perf_counter() - t, time.perf_counter()
        await conn.copy_records_to_table(
            "meeting_attendees",
            records=[
                (mids[i], email, None, resp, org, pos)
                for i in range(n)
                for pos, (email, resp, org) in enumerate(
                    [(OWNER, "accepted", True)]
                    + [
                        (f"contact{(i * 7 + k) % 5000}@example.com", "needs_action", False)
                        for k in range(2)
                    ]
                )
            ],
            columns=["meeting_id", "email", "display_name", "response", "is_organizer", "position"],
        )
        pairs = [
            (contact_ids[(i * 7 + k) % 5000], mids[i], rows[i][7])
            for i in range(n)
            for k in range(2)
        ]
        entry_rows = [(account_id, c, m, at) for c, m, at in pairs]
        change_rows = [(account_id, c, m, "added") for c, m, _ in pairs]
        steps["attendees"], t = time.perf_counter() - t, time.perf_counter()
        await conn.copy_records_to_table(
            "timeline_entries",
            records=entry_rows,
            columns=["account_id", "contact_id", "meeting_id", "occurred_at"],
        )
        steps["entries"], t = time.perf_counter() - t, time.perf_counter()
        await conn.copy_records_to_table(
            "timeline_changes",
            records=change_rows,
            columns=["account_id", "contact_id", "meeting_id", "kind"],
        )
        steps["changes"] = time.perf_counter() - t
        steps["total"] = time.perf_counter() - started
        return steps
    finally:
        await tr.rollback()


async def copy_limits(dsn: str, n: int, account_id: int, connection_id: int) -> dict[str, float]:
    """Seconds for COPY of N meeting rows, and of the whole write set of a sync of N events."""
    conn = await asyncpg.connect(dsn)
    try:
        attributes = await conn.fetch(
            "SELECT attname, attnotnull AND atttypid = 'bool'::regtype AS flag"
            " FROM pg_attribute WHERE attrelid = 'meetings'::regclass"
            " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        )
        cols = [r["attname"] for r in attributes]
        rows = meeting_rows(n, account_id, connection_id, cols)
        # Flags added by later migrations (NOT NULL, default false) are false here too.
        flags = [i for i, r in enumerate(attributes) if r["flag"]]
        rows = [
            tuple(False if v is None and i in flags else v for i, v in enumerate(row))
            for row in rows
        ]
        starts_col = cols.index("starts_at")
        attendees = [
            (i + 1, email, None, resp, org, pos)
            for i in range(n)
            for pos, (email, resp, org) in enumerate(
                [(OWNER, "accepted", True)]
                + [
                    (f"contact{(i * 7 + k) % 5000}@example.com", "needs_action", False)
                    for k in range(2)
                ]
            )
        ]
        now = dt.datetime.now(dt.UTC)
        entries = [
            (i * 2 + k + 1, account_id, (i * 7 + k) % 5000 + 1, i + 1, rows[i][starts_col], now)
            for i in range(n)
            for k in range(2)
        ]
        out: dict[str, Any] = {}
        for attempt in range(2):
            await conn.execute(
                "DROP TABLE IF EXISTS bench_copy_meetings, bench_copy_attendees, bench_copy_entries"
            )
            await conn.execute("CREATE TABLE bench_copy_meetings (LIKE meetings)")
            await conn.execute("CREATE TABLE bench_copy_attendees (LIKE meeting_attendees)")
            await conn.execute("CREATE TABLE bench_copy_entries (LIKE timeline_entries)")
            await conn.execute("CHECKPOINT")
            started = time.perf_counter()
            await conn.copy_records_to_table("bench_copy_meetings", records=rows, columns=cols)
            meetings_s = time.perf_counter() - started
            started = time.perf_counter()
            await conn.copy_records_to_table(
                "bench_copy_attendees",
                records=attendees,
                columns=[
                    "meeting_id",
                    "email",
                    "display_name",
                    "response",
                    "is_organizer",
                    "position",
                ],
            )
            await conn.copy_records_to_table(
                "bench_copy_entries",
                records=entries,
                columns=[
                    "id",
                    "account_id",
                    "contact_id",
                    "meeting_id",
                    "occurred_at",
                    "created_at",
                ],
            )
            rest_s = time.perf_counter() - started
            if attempt == 0 or meetings_s < out["meetings"]:
                out = {
                    "meetings": meetings_s,
                    "write_set": meetings_s + rest_s,
                    "attendee_rows": len(attendees),
                    "entry_rows": len(entries),
                }
        await conn.execute(
            "DROP TABLE IF EXISTS bench_copy_meetings, bench_copy_attendees, bench_copy_entries"
        )
        out["real_schema"] = await copy_into_real_tables(conn, n, account_id, connection_id)
        try:
            out["real_schema_no_fk"] = await copy_into_real_tables(
                conn, n, account_id, connection_id, no_fk=True
            )
        except asyncpg.InsufficientPrivilegeError:
            pass
        return out
    finally:
        await conn.close()


class ExplainingConnection:
    """Runs each statement first as EXPLAIN (ANALYZE, BUFFERS) inside a rolled-back savepoint,
    records the plan, then runs it for real (the caller's transaction is rolled back later)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.plans: list[tuple[str, list[str]]] = []

    async def _explain(self, query: str, args: tuple[Any, ...]) -> None:
        tr = self._conn.transaction()
        await tr.start()
        try:
            rows = await self._conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *args)
            self.plans.append((" ".join(query.split())[:90], [r[0] for r in rows]))
        finally:
            await tr.rollback()

    async def fetch(self, query: str, *args: Any) -> Any:
        await self._explain(query, args)
        return await self._conn.fetch(query, *args)

    async def execute(self, query: str, *args: Any) -> Any:
        if args:
            await self._explain(query, args)
        return await self._conn.execute(query, *args)

    async def copy_records_to_table(self, table: str, **kw: Any) -> Any:
        started = time.perf_counter()
        out = await self._conn.copy_records_to_table(table, **kw)
        self.plans.append(
            (
                f"COPY {table} ({len(kw['records'])} rows)",
                [f"client-side {1000 * (time.perf_counter() - started):.1f} ms"],
            )
        )
        return out


async def explain_page(dsn: str, account_id: int, connection_id: int, size: int = 2500) -> None:
    """The SQL of one page of `size` new events (product functions, rolled back), explained."""
    from db import meetings as meetings_db

    conn = await asyncpg.connect(dsn)
    try:
        contact_ids = [r[0] for r in await conn.fetch("SELECT id FROM contacts ORDER BY id")]
        now = dt.datetime.now(dt.UTC)
        writes = []
        for i in range(size):
            starts = now + dt.timedelta(hours=i)
            attendees = [meetings_db.AttendeeWrite(OWNER, None, "accepted", True)] + [
                meetings_db.AttendeeWrite(
                    f"contact{(i * 7 + k) % 5000}@example.com", None, "needs_action", False
                )
                for k in range(2)
            ]
            writes.append(
                meetings_db.MeetingWrite(
                    provider_event_id=f"explain{i:020d}",
                    provider_alt_id=None,
                    ical_uid=f"explain{i}@google.com",
                    kind="single",
                    series_id=None,
                    original_start=None,
                    title=f"Explained {i}",
                    description=None,
                    location=None,
                    starts_at=starts,
                    ends_at=starts + dt.timedelta(minutes=30),
                    time_zone="UTC",
                    all_day=False,
                    status="confirmed",
                    organizer_email=OWNER,
                    provider_created_at=now,
                    provider_updated_at=now,
                    etag='"1"',
                    attendees=attendees,
                    contact_ids=frozenset(contact_ids[(i * 7 + k) % 5000] for k in range(2)),
                )
            )
        tr = conn.transaction()
        await tr.start()
        proxy = ExplainingConnection(conn)
        try:
            await meetings_db.stored_meetings(
                proxy, connection_id, [w.provider_event_id for w in writes]
            )
            ids = await meetings_db.upsert_meetings(
                proxy,
                account_id=account_id,
                connection_id=connection_id,
                source="google",
                seen_round=99,
                writes=writes,
            )
            changes = await meetings_db.set_timelines(
                proxy,
                account_id,
                [(m, w.starts_at, w.contact_ids) for m, w in zip(ids, writes, strict=True)],
            )
            await meetings_db.record_changes(proxy, account_id, changes)
        finally:
            await tr.rollback()
        print(f"  EXPLAIN ANALYZE of one page of {size} new events (db/meetings.py functions):")
        notifies = [p for p in proxy.plans if "pg_notify" in p[0]]
        for query, plan in proxy.plans:
            if "pg_notify" in query:
                continue
            keep = [
                ln.strip()
                for ln in plan
                if ln.strip().startswith(
                    (
                        "Trigger",
                        "Execution Time",
                        "Planning Time",
                        "client-side",
                        "Insert on",
                        "Update on",
                        "Delete on",
                        "Conflict",
                        "Tuples",
                    )
                )
            ]
            print(f"    {query}")
            for ln in keep:
                print(f"        {ln}")
        if notifies:
            total = sum(
                float(ln.split(":")[1].split()[0])
                for _, plan in notifies
                for ln in plan
                if ln.strip().startswith("Execution Time")
            )
            print(f"    SELECT pg_notify: {len(notifies)} statements, {total:.1f} ms execution")
    finally:
        await conn.close()


async def one_round(
    args: argparse.Namespace,
    admin: str,
    sandbox_url: str,
    n: int,
    label: str,
    workdir: Path,
    pg_cpu: common.PostgresCpu,
    sandbox: common.Child,
) -> dict[str, Any]:
    name = f"chronik_bench_sync_{os.getpid()}_{label}"
    dsn = await common.create_database(admin, name)
    port = common.free_port()
    api = f"http://127.0.0.1:{port}"
    env = common.chronik_env(
        dsn,
        api,
        workdir / "data",
        CHRONIK_GOOGLE_SANDBOX_URL=sandbox_url,
        CHRONIK_MICROSOFT_SANDBOX_URL=args.microsoft_url,
        CHRONIK_RUN_WORKER="false",
    )
    serve = common.Child(
        common.python_cmd("-m", "app.cli", "serve", "--port", str(port)),
        env,
        workdir / f"serve-{label}.log",
    )
    worker: common.Child | None = None
    result: dict[str, Any] = {"n": n, "label": label}
    try:
        await common.wait_http(f"{api}/readyz", serve)
        account_id, _user_id, token = await common.provision(dsn, OWNER, "acme.test")
        conn = await asyncpg.connect(dsn)
        try:
            await common.add_bulk_contacts(conn, account_id, CONTACTS)
            for spec in args.drop_constraint:  # A/B experiments on the bench database only
                table, _, constraint = spec.partition(".")
                await conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"')
            await conn.execute("ANALYZE")
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{sandbox_url}/_sandbox/reset") as r:
                    assert r.status < 300
            trace = workdir / f"trace-{label}.json"
            profile = Path(args.profile) / f"worker-{label}.txt" if args.profile else None
            if args.trace or args.profile:
                argv = common.python_cmd(__file__, "--traced-worker", str(trace))
            else:
                argv = common.python_cmd("-m", "app.cli", "worker")
            worker = common.Child(argv, env, workdir / f"worker-{label}.log")
            await link_calendar(api, token, sandbox_url)
            first = await wait_synced(conn, None, worker, 60)
            async with aiohttp.ClientSession() as http:
                # the bulk load notifies the push channel once; lose it, syncCalendarNow decides
                async with http.post(f"{sandbox_url}/_sandbox/push", json={"drop": 10}) as r:
                    assert r.status < 300
                started = time.perf_counter()
                body: dict[str, Any] = {"count": n, "attendees": 2}
                if not args.plain:
                    body["mix"] = {"seed": args.seed}
                async with http.post(
                    f"{sandbox_url}/_sandbox/calendars/{OWNER}/events:bulk", json=body
                ) as r:
                    assert r.status < 300, await r.text()
                    result["mix"] = (await r.json()).get("mix")
                result["bulk_load_s"] = time.perf_counter() - started
                if args.full:
                    async with http.post(
                        f"{sandbox_url}/_sandbox/calendars/{OWNER}/expire-sync-tokens"
                    ) as r:
                        assert r.status < 300
            await asyncio.sleep(0.3)  # let a (dropped) push settle
            rss_before = worker.rss_mb()
            spy = common.PySpy(worker.pid, profile) if profile else None
            cpu0 = (worker.cpu(), pg_cpu.total(), sandbox.cpu())
            stolen0 = common.stolen_seconds()
            probe = common.probe_ms()
            async with httpx.AsyncClient(timeout=60) as http:
                t0 = time.time()
                answer = await http.post(
                    f"{api}/graphql",
                    json={"query": SYNC_NOW},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert not answer.json().get("errors"), answer.text
            done = await wait_synced(conn, first["last_synced_at"], worker, args.timeout)
            t_seen = time.time()
            if spy is not None:
                spy.stop()
            cpu1 = (worker.cpu(), pg_cpu.total(), sandbox.cpu())
            stolen = common.stolen_seconds() - stolen0
            elapsed = done["last_synced_at"].timestamp() - t0
            counts = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM meetings) AS meetings,"
                " (SELECT count(*) FROM meeting_attendees) AS attendees,"
                " (SELECT count(*) FROM timeline_entries) AS entries,"
                " (SELECT count(*) FROM timeline_changes) AS changes"
            )
            result.update(
                elapsed=elapsed,
                observed=t_seen - t0,
                rate=n / elapsed,
                rss_before=rss_before,
                peak_rss=worker.peak_rss_mb(),
                cpu_worker=cpu1[0] - cpu0[0],
                cpu_pg=(cpu1[1] - cpu0[1]) if cpu0[1] is not None and cpu1[1] is not None else None,
                cpu_sandbox=cpu1[2] - cpu0[2],
                stolen_share=stolen / ((t_seen - t0) * (os.cpu_count() or 1)),
                probe_ms=probe,
                counts=dict(counts),
                connection_id=done["id"],
            )
            if args.plain and (counts["meetings"] != n or counts["entries"] != 2 * n):
                print(f"  WARNING: expected {n} meetings / {2 * n} entries, got {dict(counts)}")
            worker.stop()
            if args.profile or args.trace:
                result["trace"] = json.loads(trace.read_text()) if trace.exists() else None
                result["profile"] = profile
            if args.explain:
                await explain_page(dsn, account_id, done["id"])
            if not args.no_copy:
                result["copy"] = await copy_limits(dsn, n, account_id, done["id"])
        finally:
            await conn.close()
    finally:
        if worker is not None:
            worker.stop()
        serve.stop()
        if not args.keep:
            await common.drop_database(admin, name)
    return result


def mix_line(mix: dict[str, Any] | None) -> str:
    if not mix:
        return "plain (every event: owner + 2 contact guests; no series/private/unknown)"
    g = mix["guests"]
    return (
        f"{mix['events']:,} feed items: {mix['singles']:,} single, {mix['series']:,} weekly"
        f" series (+{mix['movedOccurrences']:,} moved, +{mix['cancelledOccurrences']:,}"
        f" cancelled occurrences), {mix['private']:,} private, {mix['invitations']:,}"
        f" invitations from contacts, {mix['withoutContactGuest']:,} without a contact guest;"
        f" guests {g['internal']:,} internal / {g['contact']:,} contact /"
        f" {g['unknown']:,} unknown"
    )


def report_round(res: dict[str, Any]) -> None:
    n = res["n"]
    c = res["counts"]
    cpu_pg = f"{res['cpu_pg']:.1f}" if res["cpu_pg"] is not None else "n/a"
    print(
        f"  N={n:>7,} [{res['label']}] sync {res['elapsed']:.2f} s -> {res['rate']:,.0f} events/s"
        f" (bulk load {res['bulk_load_s']:.2f} s; {c['meetings']:,} meetings,"
        f" {c['attendees']:,} attendees, {c['entries']:,} entries,"
        f" {c['changes']:,} timeline changes)"
    )
    print(f"           mix: {mix_line(res.get('mix'))}")
    print(
        f"           CPU during sync: worker {res['cpu_worker']:.1f} s, postgres {cpu_pg} s,"
        f" sandbox {res['cpu_sandbox']:.1f} s; worker RSS {res['rss_before']:.0f} MB before,"
        f" peak {res['peak_rss']:.0f} MB"
    )
    overlap = (res["cpu_worker"] + (res["cpu_pg"] or 0.0)) / res["elapsed"]
    print(
        f"           (worker + postgres CPU) / wall {overlap:.2f}; the host took"
        f" {res['stolen_share']:.0%} of the machine's CPU (steal) during the sync;"
        f" speed probe {res['probe_ms']:.1f} ms just before it (common.probe_ms)"
    )
    if "copy" in res:
        cp = res["copy"]
        copy_rate = n / cp["meetings"]
        set_rate = n / cp["write_set"]
        print(
            f"           COPY {n:,} meeting rows: {cp['meetings']:.3f} s ->"
            f" {copy_rate:,.0f} rows/s;"
            f" ratio sync/COPY = {res['rate'] / copy_rate:.3f}"
        )
        print(
            f"           COPY whole write set ({n:,} meetings + {cp['attendee_rows']:,} attendees"
            f" + {cp['entry_rows']:,} entries): {cp['write_set']:.3f} s -> {set_rate:,.0f}"
            f" events/s; ratio sync/write-set COPY = {res['rate'] / set_rate:.3f}"
        )
        labels = (("real_schema", "as migrated"), ("real_schema_no_fk", "all triggers off"))
        for key, what in labels:
            if key not in cp:
                continue
            st = cp[key]
            real = st["total"]
            parts = ", ".join(f"{k} {v:.2f}" for k, v in st.items() if k != "total")
            print(
                f"           COPY of that write set into the REAL tables ({what}; rolled back):"
                f" {real:.3f} s -> {n / real:,.0f} events/s; ratio sync/that ="
                f" {res['rate'] * real / n:.3f} [{parts} s]"
            )


def report_chain(spans: list[list[Any]]) -> None:
    """The timed sync (the last `SyncEngine.run`) as page transactions: how much of it one
    or two of them were open (two: a page written while the one before commits), and how
    much none was (the chain waiting for the next page's fetch or plan)."""
    runs = [s for s in spans if s[0] == "SyncEngine.run"]
    if not runs:
        return
    _, begin, end = runs[-1]
    commits = sorted(s[1:] for s in spans if s[0] == "SyncEngine._commit_page" and s[1] >= begin)
    plans = [s[1:] for s in spans if s[0] == "sync.apply.plan_page" and s[1] >= begin]
    copies = [s[1:] for s in spans if "copy_records_to_table" in s[0] and s[1] >= begin]
    if not commits:
        return
    edges = sorted([(b, 1) for b, _ in commits] + [(e, -1) for _, e in commits])
    open_for = {1: 0.0, 2: 0.0}
    depth, last = 0, begin
    for at, step in edges:
        if depth:
            open_for[min(depth, 2)] += at - last
        depth, last = depth + step, at
    wall = end - begin
    print(
        f"    {len(commits)} page transactions over {wall:.2f} s: one open {open_for[1]:.2f} s,"
        f" two open {open_for[2]:.2f} s, none {wall - open_for[1] - open_for[2]:.2f} s;"
        f" planning {sum(e - b for b, e in plans):.2f} s, inside COPYs"
        f" {sum(e - b for b, e in copies):.2f} s (summed over the transactions)"
    )


def _covered(span: tuple[float, float], others: list[tuple[float, float]]) -> float:
    """How much of `span` lies inside the union of `others`."""
    begin, end = span
    cuts = sorted((max(b, begin), min(e, end)) for b, e in others if b < end and e > begin)
    total, reach = 0.0, begin
    for b, e in cuts:
        if e > reach:
            total += e - max(b, reach)
            reach = e
    return total


def report_idle(spans: list[list[Any]]) -> None:
    """When the worker's event loop had nothing to run during the timed sync, and what it
    was waiting for: the provider's answer, a plan's reads, or page transactions only."""
    runs = [s for s in spans if s[0] == "SyncEngine.run"]
    if not runs:
        return
    _, begin, end = runs[-1]
    idle = [(b, e) for n, b, e in spans if n == "loop idle" and b >= begin and e <= end]
    fetches = [(b, e) for n, b, e in spans if n == "ProviderSession.request" and b >= begin]
    plans = [(b, e) for n, b, e in spans if n == "sync.apply.plan_page" and b >= begin]
    provider = sum(_covered(i, fetches) for i in idle)
    planning = sum(_covered(i, plans) for i in idle) - sum(
        _covered(
            i,
            [
                (max(fb, pb), min(fe, pe))
                for fb, fe in fetches
                for pb, pe in plans
                if fb < pe and pb < fe
            ],
        )
        for i in idle
    )
    total = sum(e - b for b, e in idle)
    print(
        f"    worker's event loop idle {total:.2f} s of the {end - begin:.2f} s run:"
        f" waiting for the provider {provider:.2f} s, for a plan's reads {planning:.2f} s,"
        f" for page transactions only {total - provider - planning:.2f} s"
    )


def report_trace(res: dict[str, Any]) -> None:
    trace = res.get("trace")
    if trace:
        print(f"  trace of the worker [{res['label']}] (whole process life, incl. first sync):")
        for name, (count, secs) in sorted(trace["timers"].items(), key=lambda x: -x[1][1]):
            print(f"    {secs:7.2f} s  {count:5d}x  {name}")
        report_chain(trace.get("spans", []))
        report_idle(trace.get("spans", []))
        print("    SQL by statement (client-side elapsed):")
        for q, (count, secs) in sorted(trace["sql"].items(), key=lambda x: -x[1][1])[:14]:
            print(f"    {secs:7.2f} s  {count:5d}x  {q}")
    if res.get("profile"):
        print(f"  py-spy of the worker during the timed sync [{res['label']}]:")
        print(common.summarize_raw_profile(res["profile"], top=30))


async def main_async(args: argparse.Namespace) -> None:
    print(common.machine_line("sync throughput benchmark"), flush=True)
    admin = common.admin_dsn(args.database_url)
    pg_cpu = common.PostgresCpu(admin)
    workdir = Path(tempfile.mkdtemp(prefix="chronik-bench-sync-"))
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    sandbox, sandbox_url, args.microsoft_url = common.start_sandboxes(workdir)
    results = []
    try:
        await common.wait_http(f"{sandbox_url}/_sandbox/users", sandbox)
        plan = [(args.n, f"{args.n}-r{r + 1}") for r in range(args.rounds)]
        if args.memory_size:
            plan.append((args.memory_size, f"{args.memory_size}-mem"))
        for n, label in plan:
            res = await one_round(args, admin, sandbox_url, n, label, workdir, pg_cpu, sandbox)
            res["sandbox_url"] = sandbox_url
            report_round(res)
            report_trace(res)
            sys.stdout.flush()
            results.append(res)
    finally:
        sandbox.stop()
    main = [r for r in results if r["n"] == args.n]
    best = max(main, key=lambda r: r["rate"])
    rates = sorted(r["rate"] for r in main)
    print(
        f"  N={args.n:,} ({'full' if args.full else 'incremental'} round): best"
        f" {best['rate']:,.0f} events/s, spread {rates[0]:,.0f}..{rates[-1]:,.0f}"
        f" over {len(main)} rounds (target >= 20,000)"
    )
    if "copy" in best:
        copy_rate = args.n / best["copy"]["meetings"]
        set_rate = args.n / best["copy"]["write_set"]
        print(
            f"  COPY limit {copy_rate:,.0f} meeting rows/s -> ratio {best['rate'] / copy_rate:.3f}"
            f" (target >= 0.20); whole write set {set_rate:,.0f} events/s -> ratio"
            f" {best['rate'] / set_rate:.3f}; into the real tables"
            f" {args.n / best['copy']['real_schema']['total']:,.0f} events/s -> ratio"
            f" {best['rate'] * best['copy']['real_schema']['total'] / args.n:.3f}"
        )
    mem = [r for r in results if r["n"] != args.n]
    if mem:
        m = mem[0]
        print(
            f"  worker peak RSS: {best['peak_rss']:.0f} MB at N={args.n:,} vs"
            f" {m['peak_rss']:.0f} MB at N={m['n']:,}"
            f" (baseline before sync ~{best['rss_before']:.0f} MB)"
        )


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--traced-worker":
        traced_worker(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=50_000, help="events (default 50000)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds at N (fresh DB each)")
    parser.add_argument(
        "--memory-size",
        type=int,
        default=10_000,
        help="a second size for the peak-RSS comparison (0: skip)",
    )
    parser.add_argument("--full", action="store_true", help="time a full round (expired token)")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="the old write-heaviest calendar (2 contact guests per event) "
        "instead of the realistic seeded mix (sandboxes/google/bulkmix.py)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the event mix")
    parser.add_argument(
        "--profile", metavar="DIR", help="py-spy the worker during the timed sync (implies --trace)"
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="timers around fetch/commit + per-statement SQL log of the worker",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="EXPLAIN ANALYZE the SQL of one 2,500-event page after the sync",
    )
    parser.add_argument(
        "--drop-constraint",
        action="append",
        default=[],
        metavar="TABLE.NAME",
        help="experiment: drop this constraint in the bench database first",
    )
    parser.add_argument("--no-copy", action="store_true", help="skip the COPY measurement")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--database-url",
        help="admin DSN (default: CHRONIK_TEST_DATABASE_URL "
        "or an embedded pgserver in /tmp/chronik-bench)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
