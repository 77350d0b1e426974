"""Benchmark: live fan-out of one calendar change to S `contactTimeline` subscribers.

    .venv/bin/python bench/fanout.py [--subscribers S] [--changes K] [--contacts C]
                                     [--mode one|spread|both] [--profile DIR]
                                     [--database-url URL]

Processes (all on 127.0.0.1): the Google sandbox (`python -m app.cli sandbox`), TWO
`chronik serve` API replicas on the same database (their in-process workers off), ONE
`chronik worker` (what a deployment with dedicated workers runs; its `CHRONIK_PUBLIC_URL` is
replica A, so the sandbox's push channel posts to A's `/webhooks/google`), PostgreSQL
(embedded pgserver unless CHRONIK_TEST_DATABASE_URL / --database-url), and a separate LOAD
process (asyncio + aiohttp websockets speaking graphql-transport-ws directly) holding the S
websockets, split evenly across the two replicas. Like a browser, the load process offers
permessage-deflate (whether it is used is the server's choice; `--no-client-deflate`: not).

Seeding: one account, its owner's Google calendar linked through the real OAuth flow against
the sandbox, C+1 contacts contact0..contactC@example.com, and two meetings created in the
sandbox (then synced): "Hot" with contact0 as the only guest, "Board" with contact1..contactC.

Phases (each: open S subscriptions, one warm-up change every subscriber must receive, then K
timed changes):
  one     all S subscribe to contact0's timeline; each change renames "Hot" (one notify
          naming one contact; the hardest fan-out: every subscriber of both replicas wants it)
  spread  subscriber i subscribes to contact(1 + i mod C); each change renames "Board"
          (one notify naming C contacts)
A change is a PATCH of the event's title through the sandbox control API; the wall time is
stamped just before it. It then flows: sandbox push -> replica A's webhook -> request_sync
(NOTIFY) -> worker -> incremental sync -> commit with pg_notify('chronik_timeline') -> the
LISTEN connection of each replica -> every subscription resolves and sends `next`. The load
process stamps each message on receipt. Reported: p50/p99/max of (receipt - change) over all
receipts of the K changes, missing receipts (must be 0), and the part before fan-out (change
-> `last_synced_at` of the sync that carried it).

Memory per idle subscriber: RSS of both replicas with S idle subscriptions (after the warm-up
change, settled) minus before any websocket was opened, divided by S. The load process's own
RSS growth is shown separately. Only the FIRST phase measures this honestly: later phases
reuse the memory the allocator kept from the earlier one.

Targets (issue 8): p99 <= 250 ms at S = 2,000; <= 30 KiB per idle subscriber.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import aiohttp
import asyncpg
import common
import orjson
from sync_throughput import link_calendar, wait_synced

OWNER = "owner@acme.test"
SUBSCRIPTION = """subscription($id: ID!) { contactTimeline(contactId: $id) {
  kind entry { occurredAt } meeting { title status startsAt } } }"""


# -- the load process --------------------------------------------------------------------------


class Load:
    """S graphql-transport-ws connections; receipts[title][i] = wall time of subscriber i's
    message carrying a meeting with that title."""

    def __init__(self) -> None:
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.readers: list[asyncio.Task[None]] = []
        self.receipts: dict[str, dict[int, float]] = {}
        self.waiters: dict[str, asyncio.Event] = {}
        self.problems: list[str] = []
        self.session: aiohttp.ClientSession | None = None

    async def open(self, urls: list[str], token: str, contacts: list[str], deflate: bool) -> int:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        slots = asyncio.Semaphore(64)

        async def one(i: int) -> aiohttp.ClientWebSocketResponse:
            async with slots:
                ws = await self.session.ws_connect(  # type: ignore[union-attr]
                    urls[i % len(urls)] + "/graphql",
                    protocols=("graphql-transport-ws",),
                    autoping=True,
                    max_msg_size=1 << 20,
                    compress=15 if deflate else 0,
                )
                await ws.send_str(
                    orjson.dumps(
                        {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                    ).decode()
                )
                ack = await ws.receive_json(timeout=60)
                if ack.get("type") != "connection_ack":
                    raise RuntimeError(f"no ack: {ack}")
                await ws.send_str(
                    orjson.dumps(
                        {
                            "id": "1",
                            "type": "subscribe",
                            "payload": {
                                "query": SUBSCRIPTION,
                                "variables": {"id": contacts[i % len(contacts)]},
                            },
                        }
                    ).decode()
                )
                # Read (and answer pings) at once: opening thousands takes long on a busy
                # machine, and a socket not read for 40 s is closed by the server (1011).
                self.readers.append(asyncio.create_task(self._read(i, ws, len(contacts))))
                return ws

        self.sockets = list(await asyncio.gather(*(one(i) for i in range(len(contacts)))))
        return len(self.sockets)

    async def _read(self, i: int, ws: aiohttp.ClientWebSocketResponse, total: int) -> None:
        async for msg in ws:
            now = time.time()
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                continue
            data = orjson.loads(msg.data)
            kind = data.get("type")
            if kind == "ping":
                await ws.send_str('{"type":"pong"}')
                continue
            if kind != "next" or data["payload"].get("errors"):
                self.problems.append(f"subscriber {i}: {str(data)[:300]}")
                continue
            update = data["payload"]["data"]["contactTimeline"]
            title = (update.get("meeting") or {}).get("title") or update["kind"]
            got = self.receipts.setdefault(title, {})
            got.setdefault(i, now)
            if len(got) == total and title in self.waiters:
                self.waiters[title].set()
        if not ws.closed or ws.close_code not in (1000, None):
            self.problems.append(f"subscriber {i} closed: {ws.close_code}")

    async def wait(self, title: str, within: float) -> list[float | None]:
        event = self.waiters.setdefault(title, asyncio.Event())
        if len(self.receipts.get(title, {})) == len(self.sockets):
            event.set()
        try:
            await asyncio.wait_for(event.wait(), within)
        except TimeoutError:
            pass
        got = self.receipts.get(title, {})
        return [got.get(i) for i in range(len(self.sockets))]

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
        self.sockets, self.readers = [], []


def load_process(pipe: Connection) -> None:
    """Child process: obeys (command, args) messages from the bench, answers each one."""
    import psutil

    me = psutil.Process()

    async def main() -> None:
        load = Load()
        loop = asyncio.get_running_loop()
        while True:
            command, args = await loop.run_in_executor(None, pipe.recv)
            if command == "open":
                started = time.perf_counter()
                n = await load.open(*args)
                # The load process's own full collections over S open websockets paused it for
                # up to 260 ms, stamping receipts late (seen with a gc callback): freeze what
                # the sockets hold, so the figures are the servers' latency, not the client's.
                gc.collect()
                gc.freeze()
                pipe.send((n, time.perf_counter() - started))
            elif command == "wait":
                pipe.send(await load.wait(*args))
            elif command == "problems":
                pipe.send(list(load.problems))
            elif command == "rss":
                pipe.send(me.memory_info().rss)
            elif command == "close":
                await load.close()
                load = Load()
                pipe.send(True)
            elif command == "exit":
                pipe.send(True)
                return

    asyncio.run(main())


class LoadClient:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.process = ctx.Process(target=load_process, args=(child,), daemon=True)
        self.process.start()

    async def call(self, command: str, *args: Any) -> Any:
        self.pipe.send((command, args))
        return await asyncio.get_running_loop().run_in_executor(None, self.pipe.recv)

    async def stop(self) -> None:
        if self.process.is_alive():
            await self.call("exit")
        self.process.join(10)


# -- seeding -----------------------------------------------------------------------------------


async def create_event(
    http: aiohttp.ClientSession, sandbox: str, title: str, guests: list[str], day: int
) -> str:
    starts = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=day)
    body = {
        "summary": title,
        "start": {"dateTime": starts.isoformat()},
        "end": {"dateTime": (starts + dt.timedelta(hours=1)).isoformat()},
        "attendees": [{"email": g} for g in guests],
    }
    async with http.post(f"{sandbox}/_sandbox/calendars/{OWNER}/events", json=body) as r:
        assert r.status == 201, await r.text()
        return str((await r.json())["id"])


async def metric(http: aiohttp.ClientSession, api: str, name: str) -> float:
    async with http.get(f"{api}/metrics") as r:
        for line in (await r.text()).splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


# -- one phase ---------------------------------------------------------------------------------


async def phase(
    name: str,
    args: argparse.Namespace,
    load: LoadClient,
    apis: list[str],
    serves: list[common.Child],
    token: str,
    contacts: list[str],
    event_id: str,
    sandbox: str,
    conn: asyncpg.Connection,
    worker: common.Child,
    workdir: Path,
) -> dict[str, Any]:
    s = args.subscribers
    async with aiohttp.ClientSession() as http:
        rss0 = [c.rss_mb() or 0.0 for c in serves]
        load_rss0 = await load.call("rss")
        opened, open_s = await load.call(
            "open",
            apis,
            token,
            [contacts[i % len(contacts)] for i in range(s)],
            not args.no_client_deflate,
        )
        deadline = time.monotonic() + 120
        while True:
            live = [await metric(http, api, "chronik_live_subscriptions") for api in apis]
            if sum(live) >= s or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)

        async def change(title: str) -> tuple[float, list[float | None], float | None]:
            before = (await wait_synced(conn, None, worker, 60))["last_synced_at"]
            t0 = time.time()
            async with http.patch(
                f"{sandbox}/_sandbox/calendars/{OWNER}/events/{event_id}",
                json={"summary": title},
            ) as r:
                assert r.status == 200, await r.text()
            got = await load.call("wait", title, args.timeout)
            synced = await wait_synced(conn, before, worker, 60)
            return t0, got, synced["last_synced_at"].timestamp() - t0

        await change(f"{name} warm-up")
        await asyncio.sleep(args.settle)
        rss1 = [c.rss_mb() or 0.0 for c in serves]
        load_rss1 = await load.call("rss")
        live = [await metric(http, api, "chronik_live_subscriptions") for api in apis]
        spies = []
        if args.profile:
            spies = [
                common.PySpy(c.target().pid, Path(args.profile) / f"{name}-serve{k}.txt")
                for k, c in enumerate(serves)
            ]
            await asyncio.sleep(1)
        latencies: list[float] = []
        per_change: list[tuple[float, float, float | None]] = []
        missing = 0
        # CPU time of the replicas over the timed changes: unlike latencies, hardly moved by
        # what else the machine runs.
        cpu0 = [c.cpu() for c in serves]
        for k in range(args.changes):
            t0, got, sync_s = await change(f"{name} change {k}")
            here = [t - t0 for t in got if t is not None]
            missing += sum(1 for t in got if t is None)
            latencies.extend(here)
            per_change.append(
                (
                    statistics.median(here) if here else float("nan"),
                    max(here) if here else float("nan"),
                    sync_s,
                )
            )
            await asyncio.sleep(args.gap)
        cpu1 = [c.cpu() for c in serves]
        for spy in spies:
            spy.stop()
        problems = await load.call("problems")
        await load.call("close")
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    syncs = [c[2] for c in per_change if c[2] is not None]
    return {
        "name": name,
        "s": s,
        "opened": opened,
        "open_s": open_s,
        "live": live,
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "max": latencies[-1] * 1000,
        "receipts": len(latencies),
        "missing": missing,
        "problems": problems,
        "sync_ms": statistics.median(syncs) * 1000 if syncs else float("nan"),
        "per_change": per_change,
        "cpu_ms_per_change": [
            (b - a) * 1000 / args.changes for a, b in zip(cpu0, cpu1, strict=True)
        ],
        "rss0": rss0,
        "rss1": rss1,
        "kib_per_sub": (sum(rss1) - sum(rss0)) * 1024 / s,
        "load_kib_per_sub": (load_rss1 - load_rss0) / 1024 / s,
        "profiles": [Path(args.profile) / f"{name}-serve{k}.txt" for k in range(len(serves))]
        if args.profile
        else [],
    }


def report(res: dict[str, Any]) -> None:
    print(
        f"  [{res['name']}] S={res['s']:,} ({res['opened']:,} opened in {res['open_s']:.1f} s;"
        f" live per replica {'/'.join(f'{x:.0f}' for x in res['live'])}),"
        f" {res['receipts']:,} receipts, missing {res['missing']}"
    )
    print(
        f"      change -> receipt: p50 {res['p50']:.0f} ms, p90 {res['p90']:.0f} ms,"
        f" p99 {res['p99']:.0f} ms, max {res['max']:.0f} ms"
        f" (target p99 <= 250 ms); change -> sync committed (median) {res['sync_ms']:.0f} ms"
    )
    print(
        "      per change (median/max ms, sync ms): "
        + ", ".join(
            f"{a * 1000:.0f}/{b * 1000:.0f}/{(c or 0) * 1000:.0f}" for a, b, c in res["per_change"]
        )
    )
    cpu = res["cpu_ms_per_change"]
    print(
        f"      replicas CPU over the timed changes: {'+'.join(f'{x:.0f}' for x in cpu)}"
        f" = {sum(cpu):.0f} ms per change (includes the webhook and idle housekeeping)"
    )
    print(
        f"      replicas RSS {'+'.join(f'{x:.0f}' for x in res['rss0'])} MB idle ->"
        f" {'+'.join(f'{x:.0f}' for x in res['rss1'])} MB with S subscribed:"
        f" {res['kib_per_sub']:.1f} KiB per idle subscriber (target <= 30 KiB);"
        f" load process {res['load_kib_per_sub']:.1f} KiB per connection"
    )
    for line in res["problems"][:5]:
        print(f"      PROBLEM: {line}")
    for path in res["profiles"]:
        print(f"  py-spy of {path.name} during the timed changes:")
        print(common.summarize_raw_profile(path, top=25))


# -- main --------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    print(common.machine_line("live fan-out benchmark"), flush=True)
    admin = common.admin_dsn(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="chronik-bench-fanout-"))
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    sandbox, sandbox_url, microsoft_url = common.start_sandboxes(workdir)
    name = f"chronik_bench_fanout_{os.getpid()}"
    dsn = await common.create_database(admin, name)
    ports = [common.free_port(), common.free_port()]
    apis = [f"http://127.0.0.1:{p}" for p in ports]
    extra = {
        "CHRONIK_GOOGLE_SANDBOX_URL": sandbox_url,
        "CHRONIK_MICROSOFT_SANDBOX_URL": microsoft_url,
        "CHRONIK_RUN_WORKER": "false",
        **dict(kv.split("=", 1) for kv in args.env),
    }
    serves: list[common.Child] = []
    worker: common.Child | None = None
    load = LoadClient()
    results = []
    try:
        await common.wait_http(f"{sandbox_url}/_sandbox/users", sandbox)
        for k, (port, api) in enumerate(zip(ports, apis, strict=True)):
            serves.append(
                common.Child(
                    common.python_cmd("-m", "app.cli", "serve", "--port", str(port)),
                    common.chronik_env(dsn, api, workdir / "data", **extra),
                    workdir / f"serve{k}.log",
                )
            )
            await common.wait_http(f"{api}/readyz", serves[-1])  # the first one migrates
        worker = common.Child(
            common.python_cmd("-m", "app.cli", "worker"),
            common.chronik_env(dsn, apis[0], workdir / "data", **extra),
            workdir / "worker.log",
        )
        account_id, _user_id, token = await common.provision(dsn, OWNER, "acme.test")
        conn = await asyncpg.connect(dsn)
        try:
            await common.add_bulk_contacts(conn, account_id, args.contacts + 1)
            await conn.execute("ANALYZE")
            await link_calendar(apis[0], token, sandbox_url)
            first = await wait_synced(conn, None, worker, 60)
            async with aiohttp.ClientSession() as http:
                hot = await create_event(http, sandbox_url, "Hot", ["contact0@example.com"], 2)
                board = await create_event(
                    http,
                    sandbox_url,
                    "Board",
                    [f"contact{i}@example.com" for i in range(1, args.contacts + 1)],
                    3,
                )
            await asyncio.sleep(0.5)
            await wait_synced(conn, first["last_synced_at"], worker, 60)
            rows = await conn.fetch(
                "SELECT c.id, c.email, count(e.id) AS n FROM contacts c"
                " LEFT JOIN timeline_entries e ON e.contact_id = c.id GROUP BY c.id"
            )
            by_email = {r["email"]: r["id"] for r in rows}
            if sum(r["n"] for r in rows) != args.contacts + 1:
                raise RuntimeError(f"seed did not sync: {[dict(r) for r in rows][:5]}")
            from schema.ids import encode_id

            def gid(email: str) -> str:
                return str(encode_id("Contact", by_email[email]))

            plan = []
            if args.mode in ("one", "both"):
                plan.append(("one", [gid("contact0@example.com")], hot))
            if args.mode in ("spread", "both"):
                plan.append(
                    (
                        "spread",
                        [gid(f"contact{i}@example.com") for i in range(1, args.contacts + 1)],
                        board,
                    )
                )
            print(
                f"  replicas A {apis[0]} (webhooks) and B {apis[1]}, one `chronik worker`;"
                f" S={args.subscribers:,} split over both, K={args.changes} changes per phase",
                flush=True,
            )
            for label, contacts, event_id in plan:
                res = await phase(
                    label,
                    args,
                    load,
                    apis,
                    serves,
                    token,
                    contacts,
                    event_id,
                    sandbox_url,
                    conn,
                    worker,
                    workdir,
                )
                report(res)
                sys.stdout.flush()
                results.append(res)
                await asyncio.sleep(args.settle)
        finally:
            await conn.close()
    finally:
        await load.stop()
        if worker is not None:
            worker.stop()
        for serve in serves:
            serve.stop()
        sandbox.stop()
        if not args.keep:
            await common.drop_database(admin, name)
        print(f"  logs in {workdir}")
    for k, res in enumerate(results):
        verdict_p99 = "met" if res["p99"] <= 250 and not res["missing"] else "MISSED"
        verdict_mem = "met" if res["kib_per_sub"] <= 30 else "MISSED"
        memory = (
            f"{res['kib_per_sub']:.1f} KiB/idle subscriber ({verdict_mem})"
            if k == 0
            else "memory: see the first phase"
        )
        print(
            f"  [{res['name']}] S={res['s']:,}: p99 {res['p99']:.0f} ms ({verdict_p99}),"
            f" {memory}, missing {res['missing']}; load avg {os.getloadavg()[0]:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument(
        "--contacts",
        type=int,
        default=100,
        help="contacts the spread phase's subscribers are spread over",
    )
    parser.add_argument("--mode", choices=["one", "spread", "both"], default="both")
    parser.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        help="seconds to wait for every receipt of one change",
    )
    parser.add_argument("--gap", type=float, default=0.3, help="pause between changes (s)")
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--profile", help="py-spy both replicas during the timed changes")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="CHRONIK_X=value",
        help="extra setting for the Chronik processes (A/B experiments)",
    )
    parser.add_argument(
        "--no-client-deflate",
        action="store_true",
        help="do not offer permessage-deflate (browsers always offer it)",
    )
    parser.add_argument("--database-url")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
