"""Start the Google and Microsoft sandboxes on real ports (tests, benchmarks, `chronik sandbox`)."""

from __future__ import annotations

import asyncio
import contextlib
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


def serve_forever(host: str, google_port: int, microsoft_port: int, seed: int) -> None:
    """Run both sandboxes until interrupted; prints the two base URLs first."""

    async def main() -> None:
        running = await start_sandboxes(
            host=host, google_port=google_port, microsoft_port=microsoft_port, seed=seed
        )
        print(f"Google sandbox:    {running.google_url}", flush=True)
        print(f"Microsoft sandbox: {running.microsoft_url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await running.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
