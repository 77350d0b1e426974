"""Shared fixtures of the sandbox tests: sandboxes on ephemeral ports, HTTP clients, receivers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from sandboxes.google.app import GOOGLE_SANDBOX, GoogleSandbox, create_google_sandbox
from sandboxes.oauth import pkce_s256

ALICE = "alice@example.com"
CLIENT_ID = "chronik-test.apps.googleusercontent.com"
REDIRECT_URI = "http://localhost:8000/oauth/google/callback"
VERIFIER = "s3cr3t-verifier-" + "x" * 40


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

    async def authorize(
        self,
        email: str = ALICE,
        *,
        verifier: str = VERIFIER,
        offline: bool = True,
        redirect_uri: str = REDIRECT_URI,
        prompt: str | None = "consent",
    ) -> str:
        """The non-interactive authorize step (login_hint): returns the authorization code."""
        params = {
            "client_id": CLIENT_ID,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "openid email https://www.googleapis.com/auth/calendar",
            "state": "xyz",
            "login_hint": email,
            "code_challenge": pkce_s256(verifier),
            "code_challenge_method": "S256",
        }
        if prompt is not None:
            params["prompt"] = prompt
        if offline:
            params["access_type"] = "offline"
        async with self.http.get(
            self.url + "/o/oauth2/v2/auth", params=params, allow_redirects=False
        ) as resp:
            assert resp.status == 302, await resp.text()
            location = URL(resp.headers["Location"])
        assert location.query["state"] == "xyz"
        return location.query["code"]

    async def token_request(self, **form: str) -> tuple[int, dict[str, Any]]:
        """POST /token (form-encoded, client credentials added)."""
        data = {"client_id": CLIENT_ID, "client_secret": "sandbox-secret", **form}
        async with self.http.post(self.url + "/token", data=data) as resp:
            return resp.status, await resp.json(content_type=None)

    async def login(self, email: str = ALICE) -> dict[str, Any]:
        """Full code + PKCE flow; returns the token response (with refresh_token)."""
        code = await self.authorize(email)
        status, body = await self.token_request(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=VERIFIER,
        )
        assert status == 200, body
        return body

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


# -- Microsoft sandbox (fixtures for tests/sandboxes/test_microsoft_*.py) --------------------------


@pytest.fixture
async def microsoft() -> AsyncIterator[Any]:
    """A running Microsoft sandbox (seed 7, FakeClock at ``harness.clock``) with a user and
    their access token: a ``sandboxes.microsoft.testing.MicrosoftHarness``."""
    from sandboxes.microsoft.testing import running_microsoft_sandbox

    async with running_microsoft_sandbox(seed=7, clock=FakeClock()) as harness:
        yield harness


@pytest.fixture
async def graph_receiver() -> AsyncIterator[Any]:
    """A Graph webhook endpoint that echoes validation tokens and records notifications."""
    from sandboxes.microsoft.testing import running_receiver

    async with running_receiver() as receiver:
        yield receiver
