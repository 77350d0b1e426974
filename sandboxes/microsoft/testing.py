"""Helpers for tests and benchmarks that talk to the Microsoft sandbox over real HTTP.

``running_microsoft_sandbox()`` starts the sandbox on an ephemeral port with a user and an
access token and yields a :class:`MicrosoftHarness` (Graph calls, the OAuth flow, the control
API). :class:`NotificationReceiver` is a webhook endpoint that answers Graph's validation
handshake (or refuses to, when told) and records the notifications it receives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from sandboxes.oauth import pkce_s256

from .app import MICROSOFT_SANDBOX, create_microsoft_sandbox
from .sandbox import MicrosoftSandbox

USER = "alice@contoso.example"
CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
REDIRECT_URI = "http://localhost:8000/oauth/microsoft/callback"
VERIFIER = "chronik-pkce-verifier-" + "v" * 40
SCOPE = "offline_access Calendars.ReadWrite User.Read openid email"


@dataclass
class MicrosoftHarness:
    """A running Microsoft sandbox, an HTTP session and the default user's access token."""

    url: str
    sandbox: MicrosoftSandbox
    http: aiohttp.ClientSession
    token: str
    email: str = USER
    clock: Any = None  # the clock the sandbox was built with (a FakeClock in tests)

    async def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        """One Graph request with the bearer token; returns (status, JSON or None, response).
        ``path`` may be a full URL (a nextLink)."""
        headers = {"Authorization": f"Bearer {token or self.token}", **kwargs.pop("headers", {})}
        url = path if path.startswith("http") else self.url + path
        async with self.http.request(method, url, headers=headers, **kwargs) as resp:
            raw = await resp.read()
            body = orjson.loads(raw) if raw and resp.content_type == "application/json" else None
            return resp.status, body, resp

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        """A control API call that must succeed; returns its JSON (or None)."""
        async with self.http.request(method, self.url + path, **kwargs) as resp:
            raw = await resp.read()
            assert resp.status < 300, (resp.status, raw)
            return orjson.loads(raw) if raw else None

    async def authorize(
        self,
        email: str | None = None,
        *,
        verifier: str = VERIFIER,
        scope: str = SCOPE,
        state: str = "st4te",
    ) -> str:
        """The non-interactive authorize step (login_hint of an existing user): the code."""
        params = {
            "client_id": CLIENT_ID,
            "response_type": "code",
            "redirect_uri": REDIRECT_URI,
            "response_mode": "query",
            "scope": scope,
            "state": state,
            "login_hint": email or self.email,
            "code_challenge": pkce_s256(verifier),
            "code_challenge_method": "S256",
        }
        async with self.http.get(
            self.url + "/common/oauth2/v2.0/authorize", params=params, allow_redirects=False
        ) as resp:
            assert resp.status == 302, (resp.status, await resp.text())
            location = URL(resp.headers["Location"])
        assert location.query.get("state") == state, location
        return location.query["code"]

    async def token_request(self, **form: str) -> tuple[int, dict[str, Any]]:
        """POST /common/oauth2/v2.0/token with ``client_id`` added."""
        async with self.http.post(
            self.url + "/common/oauth2/v2.0/token", data={"client_id": CLIENT_ID, **form}
        ) as resp:
            return resp.status, orjson.loads(await resp.read())

    async def login(self, email: str | None = None, scope: str = SCOPE) -> dict[str, Any]:
        """Authorization code + PKCE end to end; returns the token response."""
        code = await self.authorize(email, scope=scope)
        status, body = await self.token_request(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=VERIFIER,
            scope=scope,
        )
        assert status == 200, body
        return body


@asynccontextmanager
async def running_microsoft_sandbox(
    *,
    seed: int = 0,
    clock: Callable[[], float] | None = None,
    email: str = USER,
    access_token_ttl: int = 3600,
) -> AsyncIterator[MicrosoftHarness]:
    """Start the sandbox on 127.0.0.1:<ephemeral>, create ``email`` and a token for them."""
    app = create_microsoft_sandbox(seed=seed, clock=clock, access_token_ttl=access_token_ttl)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    sandbox = app[MICROSOFT_SANDBOX]
    sandbox.create_user(email, "Alice Contoso")
    token = sandbox.issue_access_token(email)
    try:
        async with aiohttp.ClientSession() as http:
            yield MicrosoftHarness(
                str(server.make_url("")).rstrip("/"), sandbox, http, token, email, clock
            )
    finally:
        await server.close()


@dataclass
class NotificationReceiver:
    """A webhook: echoes ``validationToken`` (unless ``echo`` is False) and records the
    notifications POSTed to it."""

    url: str = ""
    echo: bool = True
    validations: list[str] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        token = request.query.get("validationToken")
        if token is not None:
            self.validations.append(token)
            if not self.echo:
                return web.Response(status=200, text="ok")
            return web.Response(text=token, content_type="text/plain")
        payload = orjson.loads(await request.read())
        async with self._arrived:
            self.notifications.extend(payload["value"])
            self._arrived.notify_all()
        return web.Response(status=202)

    async def wait_for(self, count: int, within: float = 5.0) -> list[dict[str, Any]]:
        """Wait (at most ``within`` seconds) until ``count`` notifications arrived; returns
        them all."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.notifications) >= count), within
            )
        return list(self.notifications)


@asynccontextmanager
async def running_receiver(path: str = "/hooks/graph") -> AsyncIterator[NotificationReceiver]:
    """A :class:`NotificationReceiver` listening on an ephemeral port."""
    receiver = NotificationReceiver()
    app = web.Application()
    app.router.add_post(path, receiver.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    receiver.url = str(server.make_url(path))
    try:
        yield receiver
    finally:
        await server.close()
