"""Benchmark: page through a Google-sandbox calendar of N events over real HTTP.

    .venv/bin/python bench/sandbox_paging.py [N ...] [--rounds R] [--page-size P]

The sandbox runs in a child process (its own core, like a real provider would be elsewhere);
this process is the client: aiohttp GETs of events.list (maxResults 2500, pageToken until
nextSyncToken). Two client modes per round: "parse" decodes every page with orjson (what a
sync client does), "raw" only scans the bytes for the page token (what the sandbox plus HTTP
can deliver; the parse cost belongs to the client). Prints events/s per size and mode.
Target: >= 50,000 events/s, so the sandbox is never the bottleneck of a sync benchmark.
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
    from sandboxes.google.app import GOOGLE_SANDBOX
    from sandboxes.runner import start_sandboxes

    async def main() -> None:
        running = await start_sandboxes(seed=1)
        sandbox = running.app("google")[GOOGLE_SANDBOX]
        sandbox.create_user(EMAIL)
        started = time.perf_counter()
        sandbox.bulk_load(EMAIL, count)
        load_s = time.perf_counter() - started
        token = sandbox.oauth.issue_access_token(EMAIL)
        conn.send((running.url("google"), token, load_s))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
        await running.close()

    asyncio.run(main())


def _raw_page(body: bytes) -> tuple[int, str | None]:
    """(events on the page, nextPageToken) without decoding the JSON: the envelope's
    ``nextPageToken`` precedes ``items`` in the sandbox's answer."""
    head = body[: body.find(b'"items":[')]
    marker = b'"nextPageToken":"'
    start = head.find(marker)
    token = None
    if start >= 0:
        start += len(marker)
        token = head[start : head.index(b'"', start)].decode()
    return body.count(b'"kind":"calendar#event"'), token


async def _page_through(
    url: str, token: str, page_size: int, parse: bool
) -> tuple[int, int, float, float]:
    """One full sync: returns (events, pages, seconds, first-page seconds)."""
    headers = {"Authorization": f"Bearer {token}"}
    params = {"maxResults": str(page_size)}
    events = pages = 0
    first = 0.0
    async with aiohttp.ClientSession(headers=headers) as http:
        started = time.perf_counter()
        while True:
            async with http.get(
                f"{url}/calendar/v3/calendars/primary/events", params=params
            ) as resp:
                resp.raise_for_status()
                raw = await resp.read()
            if parse:
                body = orjson.loads(raw)
                count, next_page = len(body["items"]), body.get("nextPageToken")
            else:
                count, next_page = _raw_page(raw)
            pages += 1
            if pages == 1:
                first = time.perf_counter() - started
            events += count
            if next_page is None:
                assert b'"nextSyncToken"' in raw
                break
            params = {"maxResults": str(page_size), "pageToken": next_page}
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
    best = {"parse": 0.0, "raw": 0.0}
    try:
        for i in range(rounds):
            for mode in ("parse", "raw"):
                events, pages, elapsed, first = asyncio.run(
                    _page_through(url, token, page_size, parse=mode == "parse")
                )
                assert events == count, (events, count)
                rate = events / elapsed
                best[mode] = max(best[mode], rate)
                print(
                    f"  N={count:>7} round {i + 1} {mode:>5}: {events} events, {pages} pages "
                    f"in {elapsed:.3f} s (first page {first * 1000:.0f} ms) "
                    f"-> {rate:,.0f} events/s"
                )
    finally:
        parent.send("stop")
        proc.join(timeout=10)
    print(
        f"  N={count:>7} bulk load {load_s:.2f} s; best {best['parse']:,.0f} events/s "
        f"with client parsing, {best['raw']:,.0f} events/s raw"
    )
    return best["parse"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1].strip())
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=2500)
    args = parser.parse_args()
    print(
        f"sandbox paging benchmark: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, "
        f"nproc={os.cpu_count()}, mem={_memory_gib():.1f} GiB, "
        f"python {platform.python_version()}, page size {args.page_size}"
    )
    for count in args.sizes:
        run(count, args.rounds, args.page_size)


if __name__ == "__main__":
    main()
