"""Shared fixtures of the sandbox tests: sandboxes on ephemeral ports, HTTP clients, receivers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sync.sandbox.google.app import GOOGLE_SANDBOX, GoogleSandbox, create_google_sandbox

ALICE = "alice@example.com"


class FakeClock:
    """A settable clock for expiry tests (seconds since the epoch)."""

    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class GoogleHarness:
    """A running Google sandbox, a client session and Alice's access token."""

    url: str
    sandbox: GoogleSandbox
    http: aiohttp.ClientSession
    token: str
    clock: FakeClock

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        """One API request; returns (status, parsed JSON or None, response)."""
        headers = {**self.auth(token), **kwargs.pop("headers", {})}
        async with self.http.request(method, self.url + path, headers=headers, **kwargs) as resp:
            raw = await resp.read()
            body = await resp.json(content_type=None) if raw else None
            return resp.status, body, resp

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.http.request(method, self.url + path, **kwargs) as resp:
            assert resp.status < 300, (resp.status, await resp.text())
            raw = await resp.read()
            return await resp.json(content_type=None) if raw else None


@pytest.fixture
async def google() -> AsyncIterator[GoogleHarness]:
    clock = FakeClock()
    app = create_google_sandbox(seed=7, clock=clock)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    sandbox = app[GOOGLE_SANDBOX]
    sandbox.create_user(ALICE, "Alice Example")
    token = sandbox.oauth.issue_access_token(ALICE, "chronik", "calendar")
    async with aiohttp.ClientSession() as http:
        yield GoogleHarness(str(server.make_url("")).rstrip("/"), sandbox, http, token, clock)
    await server.close()


@dataclass
class Receiver:
    """An HTTP endpoint that records every request it gets (push notification target)."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    holder: list[Receiver] = []

    async def record(request: web.Request) -> web.Response:
        holder[0].requests.append(
            {"headers": dict(request.headers), "body": await request.read(), "path": request.path}
        )
        return web.Response(status=holder[0].status)

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    holder.append(Receiver(str(server.make_url("/hook"))))
    yield holder[0]
    await server.close()
