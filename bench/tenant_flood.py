"""Benchmark: one tenant floods expensive queries; does another tenant's steady light query slow?

    .venv/bin/python bench/tenant_flood.py [--duration S] [--flood-clients C] [--rate R]
                                           [--without-budget]

Seeds two accounts in a fresh database: the flooding tenant (Acme: 500 contacts, 3,000
meetings of 6 attendees, 5 of them contacts, so every contact has ~30 timeline entries) and
the quiet tenant (Globex: 50 contacts). Runs `chronik serve` (one process, its sync worker
off) with the default limits, and from a SEPARATE load process (asyncio + aiohttp):

- the quiet tenant sends `contacts(first: 10) { … name email }` R times a second (default 20)
  on a fixed schedule (open loop: a slow answer does not delay the next request);
- in the flood phase, the flooding tenant's C clients (default 16) each send, back to back
  and ignoring `retryAfter`, the heaviest query the node limit lets through: as many contacts
  as fit, each with 20 timeline entries with their meetings and attendees (at the default
  limit of 50,000 nodes: 47 contacts, ~50,000 estimated nodes, ~9,000 real objects).

Phases, in one run against the same server: the quiet tenant alone for S seconds (default
15), then the same during the flood. Prints the quiet tenant's p50/p99 in both side by side
and the ratio of the p99s (target: within 2x), and how the flood was answered (executed,
RATE_LIMITED). `--without-budget` adds the same two phases against a second server whose
budget is out of reach (CHRONIK_GRAPHQL_BUDGET_POINTS = 10^12): what the budget buys.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import asyncpg
import common
import orjson

QUIET_QUERY = "{ contacts(first: 10) { edges { node { name email } } } }"
FLOOD_QUERY = """query($contacts: Int!, $entries: Int!) { contacts(first: $contacts) { edges {
  node { name timeline(first: $entries) { totalCount edges { node { occurredAt meeting {
    title startsAt attendees { email response } } } } } } } } }"""


def flood_variables(max_nodes: int) -> tuple[dict[str, int], int]:
    """The largest FLOOD_QUERY (20 entries per contact, as many contacts as fit) within
    `max_nodes`, and its estimate."""
    from graphql import parse

    from app.query_shape import ShapeAnalysis
    from schema.root import schema

    document = parse(FLOOD_QUERY)
    best: tuple[dict[str, int], int] = ({"contacts": 1, "entries": 20}, 0)
    for contacts in range(1, 101):
        variables = {"contacts": contacts, "entries": 20}
        nodes = (
            ShapeAnalysis(schema._schema, document, variables)
            .operation(
                document.definitions[0]  # type: ignore[arg-type]
            )
            .nodes
        )
        if nodes > max_nodes:
            break
        best = (variables, nodes)
    return best


# -- seeding -----------------------------------------------------------------------------------


async def provision(conn: asyncpg.Connection, account: str, email: str) -> tuple[int, str]:
    from db.provisioning import provision_user

    made = await provision_user(conn, account_name=account, email=email, domains=[])
    return made.account.id, made.token


async def add_contacts(conn: asyncpg.Connection, account_id: int, prefix: str, count: int) -> None:
    ids = await conn.fetch(
        """
        INSERT INTO contacts (account_id, first_name, last_name, email)
        SELECT $1, 'Contact', n::text, $2 || n || '@example.com'
        FROM generate_series(0, $3 - 1) AS n RETURNING id, email
        """,
        account_id,
        prefix,
        count,
    )
    await conn.copy_records_to_table(
        "contact_emails",
        records=[(account_id, r["id"], r["email"], True, 1) for r in ids],
        columns=["account_id", "contact_id", "email", "is_primary", "position"],
    )


async def add_meetings(
    conn: asyncpg.Connection,
    account_id: int,
    organizer: str,
    prefix: str,
    contacts: int,
    meetings: int,
) -> None:
    """`meetings` meetings of the organizer, each with 5 of the contacts and one stranger,
    on each of those contacts' timelines."""
    by_email = {
        r["email"]: r["contact_id"]
        for r in await conn.fetch(
            "SELECT email, contact_id FROM contact_emails WHERE account_id = $1", account_id
        )
    }
    base = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
    rows = []
    for i in range(meetings):
        starts = base - dt.timedelta(hours=2 * i)
        rows.append(
            (
                account_id,
                "crm",
                "single",
                f"Meeting {i}",
                starts,
                starts + dt.timedelta(minutes=30),
                "UTC",
                "confirmed",
                organizer,
            )
        )
    await conn.copy_records_to_table(
        "meetings",
        records=rows,
        columns=[
            "account_id",
            "source",
            "kind",
            "title",
            "starts_at",
            "ends_at",
            "time_zone",
            "status",
            "organizer_email",
        ],
    )
    ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM meetings WHERE account_id = $1 ORDER BY id", account_id
        )
    ]
    attendees, timeline = [], []
    for i, meeting_id in enumerate(ids):
        starts = rows[i][4]
        guests = [f"{prefix}{(i * 5 + k) % contacts}@example.com" for k in range(5)]
        for pos, email in enumerate([*guests, f"stranger{i}@elsewhere.test"]):
            attendees.append((meeting_id, email, None, "needs_action", False, pos))
            if email in by_email:
                timeline.append((account_id, by_email[email], meeting_id, starts))
    await conn.copy_records_to_table(
        "meeting_attendees",
        records=attendees,
        columns=["meeting_id", "email", "display_name", "response", "is_organizer", "position"],
    )
    await conn.copy_records_to_table(
        "timeline_entries",
        records=timeline,
        columns=["account_id", "contact_id", "meeting_id", "occurred_at"],
    )


async def seed(dsn: str) -> tuple[str, str]:
    """(the flooding tenant's token, the quiet tenant's token)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            flood_account, flood_token = await provision(conn, "Acme", "flood@acme.test")
            quiet_account, quiet_token = await provision(conn, "Globex", "quiet@globex.test")
            await add_contacts(conn, flood_account, "acme", 500)
            await add_meetings(conn, flood_account, "flood@acme.test", "acme", 500, 3000)
            await add_contacts(conn, quiet_account, "globex", 50)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return flood_token, quiet_token


# -- the load process --------------------------------------------------------------------------


def load_process(
    conn: Connection,
    url: str,
    flood_token: str,
    quiet_token: str,
    duration: float,
    rate: float,
    flood_clients: int,
    flood_vars: dict[str, int],
) -> None:
    """Child process: the quiet phase, then the flood phase; sends back the quiet tenant's
    latencies of each and the flood's answers by kind."""
    import aiohttp

    async def quiet(http: aiohttp.ClientSession, until: float) -> list[tuple[float, float]]:
        """(latency, seconds into the phase) of each quiet request."""
        loop = asyncio.get_running_loop()
        body = orjson.dumps({"query": QUIET_QUERY})
        headers = {"Authorization": f"Bearer {quiet_token}", "Content-Type": "application/json"}
        latencies: list[tuple[float, float]] = []
        failures: list[str] = []

        async def one() -> None:
            started = loop.time()
            async with http.post(url, data=body, headers=headers) as resp:
                raw = await resp.read()
            if resp.status != 200 or b'"errors"' in raw:
                failures.append(raw[:200].decode(errors="replace"))
            latencies.append((loop.time() - started, started - phase_start))

        tasks = []
        phase_start = next_at = loop.time()
        while next_at < until:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            tasks.append(asyncio.create_task(one()))
            next_at += 1 / rate
        await asyncio.gather(*tasks)
        if failures:
            raise RuntimeError(f"the quiet tenant's query failed: {failures[0]}")
        return latencies

    async def flood(http: aiohttp.ClientSession, until: float, answers: dict[str, int]) -> None:
        loop = asyncio.get_running_loop()
        body = orjson.dumps({"query": FLOOD_QUERY, "variables": flood_vars})
        headers = {"Authorization": f"Bearer {flood_token}", "Content-Type": "application/json"}
        while loop.time() < until:
            async with http.post(url, data=body, headers=headers) as resp:
                answer = orjson.loads(await resp.read())
            codes = [e.get("extensions", {}).get("code") for e in answer.get("errors") or ()]
            kind = codes[0] if codes else "executed"
            answers[kind] = answers.get(kind, 0) + 1

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            # One checked answer of each query before the clock starts.
            checks = ((quiet_token, QUIET_QUERY, {}), (flood_token, FLOOD_QUERY, flood_vars))
            for token, query, variables in checks:
                async with http.post(
                    url,
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {token}"},
                ) as resp:
                    first = await resp.json()
                if first.get("errors"):
                    return {"fatal": f"unexpected answer: {str(first)[:400]}"}
            await asyncio.sleep(1.0)
            alone = await quiet(http, loop.time() + duration)
            answers: dict[str, int] = {}
            until = loop.time() + duration
            flooding = [
                asyncio.create_task(flood(http, until, answers)) for _ in range(flood_clients)
            ]
            during = await quiet(http, until)
            await asyncio.gather(*flooding)
        return {"alone": alone, "during": during, "answers": answers}

    conn.send(asyncio.run(main()))


# -- the benchmark -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def budget_env(args: argparse.Namespace) -> dict[str, str]:
    env = {}
    if args.budget_points is not None:
        env["CHRONIK_GRAPHQL_BUDGET_POINTS"] = str(args.budget_points)
    if args.budget_window is not None:
        env["CHRONIK_GRAPHQL_BUDGET_WINDOW_SECONDS"] = str(args.budget_window)
    return env


async def run_server(
    args: argparse.Namespace, admin: str, workdir: Path, label: str, **extra_env: str
) -> None:
    name = f"chronik_bench_flood_{os.getpid()}_{label.replace(' ', '_')}"
    dsn = await common.create_database(admin, name)
    port = common.free_port()
    api = f"http://127.0.0.1:{port}"
    unused = f"http://127.0.0.1:{common.free_port()}"
    env = common.chronik_env(
        dsn,
        api,
        workdir / f"data-{label.replace(' ', '_')}",
        CHRONIK_RUN_WORKER="false",
        CHRONIK_GOOGLE_SANDBOX_URL=unused,
        CHRONIK_MICROSOFT_SANDBOX_URL=unused,
        CHRONIK_GRAPHQL_MAX_NODES=str(args.max_nodes),
        **budget_env(args),
        **extra_env,
    )
    serve = common.Child(
        common.python_cmd("-m", "app.cli", "serve", "--port", str(port)),
        env,
        workdir / f"serve-{label.replace(' ', '_')}.log",
    )
    try:
        await common.wait_http(f"{api}/readyz", serve)
        flood_token, quiet_token = await seed(dsn)
        flood_vars, flood_nodes = flood_variables(args.max_nodes)
        parent, child = mp.get_context("spawn").Pipe()
        proc = mp.get_context("spawn").Process(
            target=load_process,
            args=(
                child,
                f"{api}/graphql",
                flood_token,
                quiet_token,
                args.duration,
                args.rate,
                args.flood_clients,
                flood_vars,
            ),
        )
        cpu0 = serve.cpu()
        proc.start()
        res = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        proc.join()
        cpu = serve.cpu() - cpu0
        if "fatal" in res:
            raise RuntimeError(res["fatal"])
        alone = [latency for latency, _ in res["alone"]]
        during = [latency for latency, _ in res["during"]]
        settled = [latency for latency, offset in res["during"] if offset >= 1.0]
        p50a, p99a = percentile(alone, 0.5), percentile(alone, 0.99)
        p50d, p99d = percentile(during, 0.5), percentile(during, 0.99)
        answers = ", ".join(f"{k} {v:,}" for k, v in sorted(res["answers"].items()))
        print(
            f"  {label}: quiet tenant ({len(alone)} / {len(during)} requests at {args.rate:g}/s)"
            f" alone p50 {1000 * p50a:.1f} ms p99 {1000 * p99a:.1f} ms | during the flood"
            f" p50 {1000 * p50d:.1f} ms p99 {1000 * p99d:.1f} ms | p99 ratio"
            f" {p99d / p99a:.2f} (target <= 2)",
            flush=True,
        )
        p99s = percentile(settled, 0.99)
        slowest = ", ".join(
            f"{1000 * lat:.0f} ms @{off:.1f}"
            for lat, off in sorted(res["during"], reverse=True)[:5]
        )
        print(
            f"    during the flood past its first second (the budget's burst spent): p50"
            f" {1000 * percentile(settled, 0.5):.1f} ms p99 {1000 * p99s:.1f} ms, ratio"
            f" {p99s / p99a:.2f}; slowest quiet requests (latency @ seconds into the flood):"
            f" {slowest}",
            flush=True,
        )
        print(
            f"    flood ({args.flood_clients} clients, {args.duration:g} s,"
            f" {flood_vars['contacts']} contacts x 20 entries: {flood_nodes:,} of"
            f" {args.max_nodes:,} nodes): {answers};"
            f" server CPU over both phases {cpu:.1f} s",
            flush=True,
        )
    finally:
        serve.stop()
        await common.drop_database(admin, name)


async def main_async(args: argparse.Namespace) -> None:
    print(common.machine_line("tenant flood benchmark"), flush=True)
    admin = common.admin_dsn(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="chronik-bench-flood-"))
    print(f"  logs in {workdir}")
    started = time.perf_counter()
    await run_server(args, admin, workdir, "with the budget")
    if args.without_budget:
        await run_server(
            args, admin, workdir, "without the budget", CHRONIK_GRAPHQL_BUDGET_POINTS=str(10**12)
        )
    print(f"  done in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--rate", type=float, default=20.0, help="quiet requests per second")
    parser.add_argument("--flood-clients", type=int, default=16)
    parser.add_argument(
        "--max-nodes",
        type=int,
        default=None,
        help="CHRONIK_GRAPHQL_MAX_NODES (default: the setting's default)",
    )
    parser.add_argument("--budget-points", type=int, help="CHRONIK_GRAPHQL_BUDGET_POINTS")
    parser.add_argument("--budget-window", type=float, help="CHRONIK_GRAPHQL_BUDGET_WINDOW_SECONDS")
    parser.add_argument(
        "--without-budget",
        action="store_true",
        help="also run against a server whose budget is out of reach",
    )
    parser.add_argument(
        "--database-url",
        help="admin DSN (default: CHRONIK_TEST_DATABASE_URL "
        "or an embedded pgserver in /tmp/chronik-bench)",
    )
    args = parser.parse_args()
    if args.max_nodes is None:
        from app.settings import Settings

        args.max_nodes = Settings.model_fields["graphql_max_nodes"].default
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
