"""Start sandboxes on real ports: any provider's by its spec's factory (`chronik serve`,
`chronik sandbox`), or the Google and Microsoft ones together (tests, benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from sandboxes.google.app import GOOGLE_SANDBOX, GoogleSandbox, create_google_sandbox
from sandboxes.microsoft.app import (
    MICROSOFT_SANDBOX,
    MicrosoftSandbox,
    create_microsoft_sandbox,
)


@dataclass
class RunningSandboxes:
    """Both sandboxes listening on real ports, with their in-process state objects."""

    google_url: str
    microsoft_url: str
    google: GoogleSandbox
    microsoft: MicrosoftSandbox
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


@dataclass
class ServedSandbox:
    """One sandbox listening on a real port."""

    url: str
    app: web.Application
    _runner: web.AppRunner = field(repr=False)

    async def close(self) -> None:
        await self._runner.cleanup()


def load_factory(factory: str) -> Callable[..., web.Application]:
    """The function a spec's `module:function` dotted path names."""
    module, _, name = factory.partition(":")
    made: Callable[..., web.Application] = getattr(importlib.import_module(module), name)
    return made


async def serve_sandbox(factory: str, *, host: str, port: int, seed: int = 0) -> ServedSandbox:
    """Build the sandbox `factory` names and serve it on `host:port` (0: an ephemeral port)."""
    app = load_factory(factory)(seed=seed)
    runner, url = await _serve(app, host, port)
    return ServedSandbox(url, app, runner)


async def start_sandboxes(
    *, host: str = "127.0.0.1", google_port: int = 0, microsoft_port: int = 0, seed: int = 0
) -> RunningSandboxes:
    """Start both sandboxes (port 0 = an ephemeral port) and return their base URLs and state."""
    google_app = create_google_sandbox(seed=seed)
    microsoft_app = create_microsoft_sandbox(seed=seed)
    google_runner, google_url = await _serve(google_app, host, google_port)
    try:
        microsoft_runner, microsoft_url = await _serve(microsoft_app, host, microsoft_port)
    except BaseException:
        await google_runner.cleanup()
        raise
    return RunningSandboxes(
        google_url=google_url,
        microsoft_url=microsoft_url,
        google=google_app[GOOGLE_SANDBOX],
        microsoft=microsoft_app[MICROSOFT_SANDBOX],
        _runners=[google_runner, microsoft_runner],
    )


def serve_forever(host: str, sandboxes: Sequence[tuple[str, str, int]], seed: int) -> None:
    """Run the sandboxes `(label, factory, port)` until interrupted; prints their base URLs
    first."""

    async def main() -> None:
        served: list[ServedSandbox] = []
        try:
            width = max((len(label) for label, _, _ in sandboxes), default=0)
            for label, factory, port in sandboxes:
                sandbox = await serve_sandbox(factory, host=host, port=port, seed=seed)
                served.append(sandbox)
                print(f"{label} sandbox: {' ' * (width - len(label))}{sandbox.url}", flush=True)
            await asyncio.Event().wait()
        finally:
            for sandbox in served:
                await sandbox.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
