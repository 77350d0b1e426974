"""Where the memory of one idle `contactTimeline` subscription goes, by component.

    CHRONIK_TEST_DATABASE_URL=postgresql://... .venv/bin/python bench/ws_memory.py [-n 500]
        [--no-trace] [--frames 30] [--top 25]

One process runs Chronik under uvicorn (configured like `chronik serve`: same ws settings,
`gc.freeze()`), a child process (aiohttp) opens N graphql-transport-ws subscriptions to one
contact's timeline. After one warm-up subscription (first-use caches), the server takes a
tracemalloc snapshot, the client opens N, the server waits until the live feed holds N + 1
subscribers, collects garbage, and takes a second snapshot. The diff is grouped by traceback
and each allocation site is attributed to a component by the frames of its traceback.
RSS growth is measured too (with `--no-trace` without tracemalloc's own overhead).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

SUBSCRIPTION = """subscription($id: ID!) { contactTimeline(contactId: $id) {
  kind entry { occurredAt } meeting { title status startsAt } } }"""


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def client(url: str, token: str, contact: str, n: int, conn) -> None:  # type: ignore[no-untyped-def]
    import aiohttp
    import orjson

    async def main() -> None:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        slots = asyncio.Semaphore(64)
        readers = []

        async def one() -> aiohttp.ClientWebSocketResponse:
            async with slots:
                ws = await session.ws_connect(
                    url + "/graphql", protocols=("graphql-transport-ws",), compress=0
                )
                await ws.send_str(
                    orjson.dumps(
                        {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                    ).decode()
                )
                ack = await ws.receive_json(timeout=60)
                assert ack["type"] == "connection_ack", ack
                await ws.send_str(
                    orjson.dumps(
                        {
                            "id": "1",
                            "type": "subscribe",
                            "payload": {"query": SUBSCRIPTION, "variables": {"id": contact}},
                        }
                    ).decode()
                )

                async def read() -> None:
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.TEXT and '"ping"' in msg.data:
                            await ws.send_str('{"type":"pong"}')

                readers.append(asyncio.create_task(read()))
                return ws

        loop = asyncio.get_running_loop()
        sockets = [await one()]  # warm-up
        conn.send("warm")
        await loop.run_in_executor(None, conn.recv)
        sockets += await asyncio.gather(*(one() for _ in range(n)))
        conn.send("open")
        await loop.run_in_executor(None, conn.recv)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        for task in readers:
            task.cancel()
        await session.close()

    asyncio.run(main())


GROUPS = [
    # (group, predicate on a frame's filename); checked innermost frame first.
    (
        "our Context/Loaders/LiveFeed",
        ("/resolvers/", "/db/listen.py", "/app/graphql.py", "/app/live_socket.py", "/schema/"),
    ),
    ("strawberry handler/generator/execution", ("/strawberry/",)),
    ("graphql-core (parse/validate/execute)", ("/graphql/",)),
    (
        "uvicorn/websockets protocol+buffers",
        ("/uvicorn/", "/websockets/", "/wsproto/", "/h11/", "/starlette/"),
    ),
    ("asyncio (tasks/futures/queues/transports)", ("/asyncio/",)),
]


def classify(tb: tracemalloc.Traceback) -> str:
    # Innermost frame first: the first frame that belongs to a known component decides, but
    # asyncio frames only when no library frame sits under them (a Queue made by LiveFeed
    # counts as LiveFeed's; a Task made by strawberry as strawberry's).
    files = [frame.filename for frame in reversed(tb)]  # most recent first
    for filename in files:
        for group, parts in GROUPS[:-1]:
            if any(p in filename for p in parts):
                return group
    if any("/asyncio/" in f for f in files):
        return GROUPS[-1][0]
    return "other"


def site(tb: tracemalloc.Traceback) -> str:
    """The innermost two frames outside the stdlib, as file:line."""
    shown = []
    for frame in reversed(tb):  # tracemalloc lists the oldest frame first
        name = frame.filename
        short = name.split("site-packages/")[-1].split("/wsmem/")[-1]
        if "python3.11/" in name and "site-packages" not in name:
            short = "stdlib:" + name.split("python3.11/")[-1]
        shown.append(f"{short}:{frame.lineno}")
        if len(shown) >= 3:
            break
    return " < ".join(shown)


async def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from app.asgi import create_app
    from app.settings import Environment, Settings
    from db.contacts import ContactFields, create_contact
    from db.embedded import start_embedded_postgres
    from db.provisioning import provision_user
    from schema.ids import encode_id
    from tests.support.postgres import clone_database, create_template, drop_database, with_database
    from tests.support.server import free_port

    # Without a server URL, an embedded PostgreSQL as the service itself would use.
    admin = args.database_url or start_embedded_postgres(
        Path(tempfile.mkdtemp(prefix="chronik-bench-ws-"))
    )
    template = await create_template(admin)
    name = await clone_database(admin, template)
    await drop_database(admin, template)
    dsn = with_database(admin, name)
    try:
        db = await asyncpg.connect(dsn)
        made = await provision_user(
            db, account_name="Acme", email="o@acme.test", domains=("acme.test",)
        )
        contact = await create_contact(
            db,
            made.account.id,
            ContactFields(first_name="C", last_name="Zero", email="contact0@example.com"),
        )
        await db.close()
        port = free_port()
        settings = Settings(
            env=Environment.TEST,
            database_url=dsn,
            data_dir=Path("/tmp/chronik-wsmem"),
            secret_key="bench-secret-key-" + "x" * 32,  # type: ignore[arg-type]
            public_url=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
            run_worker=False,
        )
        app = create_app(settings)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            log_config=None,
            access_log=False,
            ws=settings.ws_implementation,
            ws_per_message_deflate=settings.ws_per_message_deflate,
            ws_max_size=settings.ws_max_message_bytes,
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
            await asyncio.sleep(0.01)
        gc.freeze()
        live = app.state.services.live

        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(
            target=client,
            args=(
                f"http://127.0.0.1:{port}",
                made.token,
                encode_id("Contact", contact.id),
                args.n,
                child,
            ),
        )
        proc.start()
        loop = asyncio.get_running_loop()

        async def until(count: int) -> None:
            while live.subscriber_count < count:  # noqa: ASYNC110 (a count, polled)
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            gc.collect()

        assert await loop.run_in_executor(None, parent.recv) == "warm"
        await until(1)
        if not args.no_trace:
            tracemalloc.start(args.frames)
        before_rss = rss()
        before = tracemalloc.take_snapshot() if not args.no_trace else None
        parent.send("go")
        assert await loop.run_in_executor(None, parent.recv) == "open"
        await until(args.n + 1)
        after_rss = rss()
        n = args.n
        print(f"N={n} subscriptions; live feed holds {live.subscriber_count}")
        print(
            f"RSS growth {(after_rss - before_rss) / n / 1024:.1f} KiB per subscription"
            + ("" if args.no_trace else " (includes tracemalloc's own bookkeeping)")
        )
        if before is not None:
            after = tracemalloc.take_snapshot()
            filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
            diff = after.filter_traces(filters).compare_to(
                before.filter_traces(filters), "traceback"
            )
            total = sum(d.size_diff for d in diff)
            count = sum(d.count_diff for d in diff)
            print(
                f"tracemalloc total {total / n:,.0f} B per subscription "
                f"({count / n:.0f} blocks); traced-memory overhead "
                f"{tracemalloc.get_tracemalloc_memory() / 1024 / 1024:.1f} MiB"
            )
            groups: dict[str, list[int]] = {}
            for d in diff:
                g = groups.setdefault(classify(d.traceback), [0, 0])
                g[0] += d.size_diff
                g[1] += d.count_diff
            print("\nby component (bytes / blocks per subscription):")
            for g, (size, cnt) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
                print(f"  {size / n:8,.0f} B  {cnt / n:6.1f}  {g}")
            print(f"\ntop {args.top} allocation sites (bytes per subscription):")
            for d in sorted(diff, key=lambda d: -d.size_diff)[: args.top]:
                print(
                    f"  {d.size_diff / n:7,.0f} B {d.count_diff / n:5.1f} "
                    f"[{classify(d.traceback)[:18]}] {site(d.traceback)}"
                )
            if args.full:
                for d in sorted(diff, key=lambda d: -d.size_diff)[: args.full]:
                    print(f"\n{d.size_diff / n:,.0f} B")
                    print("\n".join(d.traceback.format(limit=args.frames)))
        parent.send("close")
        await loop.run_in_executor(None, proc.join)
        server.should_exit = True
        await task
    finally:
        await drop_database(admin, name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--full", type=int, default=0, help="print N full tracebacks")
    parser.add_argument("--no-trace", action="store_true")
    parser.add_argument("--database-url", default=os.environ.get("CHRONIK_TEST_DATABASE_URL"))
    args = parser.parse_args()
    started = time.time()
    asyncio.run(serve(args))
    print(f"({time.time() - started:.1f} s; load avg {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
