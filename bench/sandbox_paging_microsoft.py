"""Benchmark: a full calendarView delta round over a Microsoft-sandbox calendar of N events.

    .venv/bin/python bench/sandbox_paging_microsoft.py [N ...] [--rounds R] [--page-size P]

The sandbox runs in a child process (its own core, like a real provider would be elsewhere);
this process is the client: aiohttp GETs of ``/v1.0/me/calendarView/delta`` with
``Prefer: odata.maxpagesize=P``, following ``@odata.nextLink`` until ``@odata.deltaLink``, and
orjson parsing of every page. Then one incremental round (10 changes) through the deltaLink.
The child freezes the collector's view of the loaded calendar (``gc.freeze()``) once loaded.
Prints events/s per size. Target: >= 50,000 events/s, so the sandbox is never the bottleneck of
a sync benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import os
import platform
import time
from multiprocessing.connection import Connection

import aiohttp
import orjson

EMAIL = "bench@contoso.example"
WINDOW = {"startDateTime": "2000-01-01T00:00:00Z", "endDateTime": "2100-01-01T00:00:00Z"}


def _serve(conn: Connection, count: int) -> None:
    """Child process: start the Microsoft sandbox, bulk-load ``count`` events, send URL + token;
    on "touch" change 10 events; on "stop" shut down."""
    from sandboxes.microsoft.testing import running_microsoft_sandbox

    async def main() -> None:
        async with running_microsoft_sandbox(seed=1, email=EMAIL) as harness:
            sandbox = harness.sandbox
            started = time.perf_counter()
            sandbox.bulk_load(EMAIL, count, start="2026-01-01T08:00:00Z")
            load_s = time.perf_counter() - started
            # The loaded calendar is long-lived data: keep the collector from rescanning it
            # on every page, as a long-running server would (gc.freeze).
            gc.collect()
            gc.freeze()
            conn.send((harness.url, harness.token, load_s))
            loop = asyncio.get_running_loop()
            while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
                assert command == "touch"
                ids = list(sandbox.user(EMAIL).events)[:10]
                for event_id in ids:
                    sandbox.update_event(EMAIL, event_id, {"subject": "Touched"})
                conn.send(len(ids))

    asyncio.run(main())


async def _round(
    http: aiohttp.ClientSession, url: str, params: dict[str, str] | None
) -> tuple[int, int, float, float, str]:
    """Follow one delta round: (items, pages, seconds, first-page seconds, deltaLink)."""
    items = pages = 0
    first = 0.0
    started = time.perf_counter()
    while True:
        async with http.get(url, params=params) as resp:
            resp.raise_for_status()
            body = orjson.loads(await resp.read())
        pages += 1
        if pages == 1:
            first = time.perf_counter() - started
        items += len(body["value"])
        params = None
        if "@odata.deltaLink" in body:
            return items, pages, time.perf_counter() - started, first, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]


def _memory_gib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


async def _client(
    parent: Connection, base: str, token: str, count: int, rounds: int, page_size: int
) -> float:
    headers = {"Authorization": f"Bearer {token}", "Prefer": f"odata.maxpagesize={page_size}"}
    best = 0.0
    delta_link = ""
    async with aiohttp.ClientSession(headers=headers) as http:
        for i in range(rounds):
            items, pages, elapsed, first, delta_link = await _round(
                http, f"{base}/v1.0/me/calendarView/delta", dict(WINDOW)
            )
            assert items == count, (items, count)
            rate = items / elapsed
            best = max(best, rate)
            print(
                f"  N={count:>7} round {i + 1}: {items} events, {pages} pages in "
                f"{elapsed:.3f} s (first page {first * 1000:.0f} ms) -> {rate:,.0f} events/s"
            )
        parent.send("touch")
        touched = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        items, pages, elapsed, _, _ = await _round(http, delta_link, None)
        assert items == touched, (items, touched)
        print(
            f"  N={count:>7} incremental round: {items} changes, {pages} page(s) in "
            f"{elapsed * 1000:.0f} ms"
        )
    return best


def run(count: int, rounds: int, page_size: int) -> float:
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(child, count), daemon=True)
    proc.start()
    url, token, load_s = parent.recv()
    try:
        best = asyncio.run(_client(parent, url, token, count, rounds, page_size))
    finally:
        parent.send("stop")
        proc.join(timeout=10)
    print(f"  N={count:>7} bulk load {load_s:.2f} s; best {best:,.0f} events/s")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1].strip())
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    print(
        f"microsoft sandbox delta benchmark: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, "
        f"nproc={os.cpu_count()}, mem={_memory_gib():.1f} GiB, "
        f"python {platform.python_version()}, page size {args.page_size}"
    )
    for count in args.sizes:
        run(count, args.rounds, args.page_size)


if __name__ == "__main__":
    main()
