"""Benchmark: page through a Google-sandbox calendar of N events over real HTTP.

    .venv/bin/python bench/sandbox_paging.py [N ...] [--rounds R] [--page-size P]

The sandbox runs in a child process (its own core, like a real provider would be elsewhere);
this process is the client: aiohttp GETs of events.list (maxResults 2500, pageToken until
nextSyncToken) and orjson parsing of every page. Prints events/s per size. Target: >= 50,000
events/s, so the sandbox is never the bottleneck of a sync benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import time
from multiprocessing.connection import Connection

import aiohttp
import orjson

EMAIL = "bench@example.com"


def _serve(conn: Connection, count: int) -> None:
    """Child process: start the Google sandbox, bulk-load ``count`` events, send URL + token."""
    from sync.sandbox.runner import start_sandboxes

    async def main() -> None:
        running = await start_sandboxes(seed=1)
        sandbox = running.google
        sandbox.create_user(EMAIL)
        started = time.perf_counter()
        sandbox.bulk_load(EMAIL, count)
        load_s = time.perf_counter() - started
        token = sandbox.oauth.issue_access_token(EMAIL)
        conn.send((running.google_url, token, load_s))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
        await running.close()

    asyncio.run(main())


async def _page_through(url: str, token: str, page_size: int) -> tuple[int, int, float, float]:
    """One full sync: returns (events, pages, seconds, first-page seconds)."""
    headers = {"Authorization": f"Bearer {token}"}
    params = {"maxResults": str(page_size)}
    events = pages = 0
    first = 0.0
    async with aiohttp.ClientSession(headers=headers) as http:
        started = time.perf_counter()
        while True:
            async with http.get(f"{url}/calendar/v3/calendars/primary/events",
                                params=params) as resp:
                resp.raise_for_status()
                body = orjson.loads(await resp.read())
            pages += 1
            if pages == 1:
                first = time.perf_counter() - started
            events += len(body["items"])
            if "nextPageToken" not in body:
                assert "nextSyncToken" in body
                break
            params = {"maxResults": str(page_size), "pageToken": body["nextPageToken"]}
        elapsed = time.perf_counter() - started
    return events, pages, elapsed, first


def _memory_gib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def run(count: int, rounds: int, page_size: int) -> float:
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(child, count), daemon=True)
    proc.start()
    url, token, load_s = parent.recv()
    best = 0.0
    try:
        for i in range(rounds):
            events, pages, elapsed, first = asyncio.run(_page_through(url, token, page_size))
            assert events == count, (events, count)
            rate = events / elapsed
            best = max(best, rate)
            print(f"  N={count:>7} round {i + 1}: {events} events, {pages} pages in "
                  f"{elapsed:.3f} s (first page {first * 1000:.0f} ms) -> {rate:,.0f} events/s")
    finally:
        parent.send("stop")
        proc.join(timeout=10)
    print(f"  N={count:>7} bulk load {load_s:.2f} s; best {best:,.0f} events/s")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1].strip())
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=2500)
    args = parser.parse_args()
    print(f"sandbox paging benchmark: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, "
          f"nproc={os.cpu_count()}, mem={_memory_gib():.1f} GiB, "
          f"python {platform.python_version()}, page size {args.page_size}")
    for count in args.sizes:
        run(count, args.rounds, args.page_size)


if __name__ == "__main__":
    main()
