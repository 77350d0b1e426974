"""`chronik serve` as a child process: for tests that measure the server's own memory."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.settings import Settings
from tests.support.server import free_port
from tests.support.workers import chronik_env


@dataclass
class ServedChronik:
    url: str
    port: int
    process: asyncio.subprocess.Process

    def rss_bytes(self) -> int:
        """The server's resident memory now."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS line")


@asynccontextmanager
async def served_chronik(settings: Settings, log: Path, **env: str) -> AsyncIterator[ServedChronik]:
    """`chronik serve` (no worker) with `settings` plus `env`, ready (`/readyz`) when entered,
    killed on exit."""
    port = free_port()
    served = settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    handle = log.open("w")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        env=chronik_env(served, CHRONIK_RUN_WORKER="false", **env),
        stdout=handle,
        stderr=asyncio.subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 60
            while True:
                assert time.monotonic() < deadline and process.returncode is None, "not ready"
                try:
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        yield ServedChronik(url, port, process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        handle.close()
