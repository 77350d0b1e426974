"""Start the Google and Microsoft sandboxes on real ports (tests, benchmarks, `chronik sandbox`)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sync.sandbox.google.app import GOOGLE_SANDBOX, GoogleSandbox, create_google_sandbox


def _microsoft_factory() -> tuple[Callable[..., web.Application], Any] | None:
    """(create_microsoft_sandbox, MICROSOFT_SANDBOX) once the Microsoft sandbox exists."""
    try:
        module = importlib.import_module("sync.sandbox.microsoft.app")
    except ModuleNotFoundError:
        return None
    return module.create_microsoft_sandbox, module.MICROSOFT_SANDBOX


@dataclass
class RunningSandboxes:
    """Both sandboxes listening on real ports. ``microsoft``/``microsoft_url`` are None only if
    the Microsoft sandbox module is not installed."""

    google_url: str
    microsoft_url: str | None
    google: GoogleSandbox
    microsoft: Any
    _runners: list[web.AppRunner] = field(default_factory=list, repr=False)

    async def close(self) -> None:
        """Stop both servers (and the Google push worker) and free their ports."""
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()


async def _serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None) or []
    actual = sockets[0].getsockname()[1] if sockets else port
    return runner, f"http://{host}:{actual}"


async def start_sandboxes(
    *, host: str = "127.0.0.1", google_port: int = 0, microsoft_port: int = 0, seed: int = 0
) -> RunningSandboxes:
    """Start both sandboxes (port 0 = an ephemeral port) and return their base URLs and state."""
    google_app = create_google_sandbox(seed=seed)
    google_runner, google_url = await _serve(google_app, host, google_port)
    runners = [google_runner]
    microsoft_url: str | None = None
    microsoft: Any = None
    factory = _microsoft_factory()
    if factory is not None:
        create_microsoft, key = factory
        microsoft_app = create_microsoft(seed=seed)
        try:
            microsoft_runner, microsoft_url = await _serve(microsoft_app, host, microsoft_port)
        except BaseException:
            await google_runner.cleanup()
            raise
        runners.append(microsoft_runner)
        microsoft = microsoft_app[key]
    return RunningSandboxes(
        google_url=google_url,
        microsoft_url=microsoft_url,
        google=google_app[GOOGLE_SANDBOX],
        microsoft=microsoft,
        _runners=runners,
    )


def serve_forever(host: str, google_port: int, microsoft_port: int, seed: int) -> None:
    """Run both sandboxes until interrupted; prints the two base URLs first."""

    async def main() -> None:
        running = await start_sandboxes(
            host=host, google_port=google_port, microsoft_port=microsoft_port, seed=seed
        )
        print(f"Google sandbox:    {running.google_url}", flush=True)
        print(f"Microsoft sandbox: {running.microsoft_url or '(not available)'}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await running.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
