"""Start sandboxes on real ports: one provider's by its spec's factory (`chronik serve`,
`chronik sandbox`), or every registered provider's that has one (tests, benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from sync.providers import registry


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


@dataclass
class RunningSandboxes:
    """Sandboxes listening on real ports, by provider name, with their applications (whose
    state objects the tests drive)."""

    served: dict[str, ServedSandbox] = field(default_factory=dict)

    def url(self, provider: str) -> str:
        return self.served[provider].url

    def app(self, provider: str) -> web.Application:
        return self.served[provider].app

    async def close(self) -> None:
        """Stop every server (and what runs beside it, e.g. Google's push worker) and free
        its port."""
        for sandbox in self.served.values():
            await sandbox.close()
        self.served.clear()


async def start_sandboxes(
    *, host: str = "127.0.0.1", ports: Mapping[str, int] | None = None, seed: int = 0
) -> RunningSandboxes:
    """Start the sandbox of every registered provider that has one, each on the port `ports`
    gives its provider's name (else 0: an ephemeral port)."""
    running = RunningSandboxes()
    try:
        for spec in registry.specs():
            if spec.sandbox is not None:
                port = (ports or {}).get(spec.name, 0)
                running.served[spec.name] = await serve_sandbox(
                    spec.sandbox.factory, host=host, port=port, seed=seed
                )
    except BaseException:
        await running.close()
        raise
    return running


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
