"""sandboxes/runner.py: every registered provider's sandbox on a real ephemeral port,
reachable, then closed."""

from __future__ import annotations

import dataclasses

import aiohttp
import pytest
from aiohttp import web

from sandboxes.runner import start_sandboxes
from sync.providers import registry
from sync.providers.spec import SandboxSpec
from tests.support.sandboxes import Sandboxes


async def test_start_sandboxes_serves_both_and_closes() -> None:
    running = Sandboxes((await start_sandboxes(seed=3)).served)
    try:
        assert sorted(running.served) == ["google", "microsoft"]
        google_url = running.google_url
        assert running.google_url.startswith("http://127.0.0.1:")
        assert running.microsoft_url.startswith("http://127.0.0.1:")
        assert running.google_url != running.microsoft_url
        running.google.create_user("runner@example.com")
        async with aiohttp.ClientSession() as http:
            async with http.get(running.google_url + "/_sandbox/users") as resp:
                assert resp.status == 200
                users = (await resp.json())["users"]
            assert [u["email"] for u in users] == ["runner@example.com"]
            async with http.get(running.microsoft_url + "/_sandbox/users") as resp:
                assert resp.status == 200
            # Both speak their own API: an unauthenticated call is a 401 on each.
            async with http.get(running.google_url + "/calendar/v3/calendars/primary") as resp:
                assert resp.status == 401
            async with http.get(running.microsoft_url + "/v1.0/me/events") as resp:
                assert resp.status == 401
    finally:
        await running.close()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(google_url + "/_sandbox/users"):
                pass


def echo_sandbox(*, seed: int) -> web.Application:
    """The sandbox of a provider registered by a test: answers with its seed."""

    async def seed_of(request: web.Request) -> web.Response:
        return web.json_response({"seed": seed})

    app = web.Application()
    app.router.add_get("/seed", seed_of)
    return app


async def test_a_registered_providers_sandbox_is_started_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = SandboxSpec(
        factory=f"{__name__}:echo_sandbox",
        wanted=lambda settings: True,
        port=lambda settings: 0,
        port_variable="CHRONIK_SANDBOX_ECHO_PORT",
        default_port=8799,
    )
    echo = dataclasses.replace(registry.spec("dummy"), name="echo", sandbox=sandbox)
    registry.specs()  # the built-in providers first, as in any process
    monkeypatch.setitem(registry._specs, "echo", echo)  # registered for this test only
    running = await start_sandboxes(seed=7)
    try:
        assert sorted(running.served) == ["echo", "google", "microsoft"]
        async with aiohttp.ClientSession() as http:
            async with http.get(running.url("echo") + "/seed") as resp:
                assert await resp.json() == {"seed": 7}
    finally:
        await running.close()
    assert running.served == {}


async def test_serve_forever_prints_both_urls_and_serves() -> None:
    """The blocking entry point behind `chronik sandbox`, run as a child process."""
    import asyncio
    import sys

    code = (
        "from sandboxes.runner import serve_forever; serve_forever('127.0.0.1', ["
        "('Google Calendar', 'sandboxes.google.app:create_google_sandbox', 0), "
        "('Microsoft 365', 'sandboxes.microsoft.app:create_microsoft_sandbox', 0)], 5)"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 20)).decode() for _ in range(2)]
        urls = [line.split()[-1] for line in lines]
        assert lines[0].startswith("Google Calendar sandbox:")
        assert lines[1].startswith("Microsoft 365 sandbox:")
        async with aiohttp.ClientSession() as http:
            for url in urls:
                async with http.get(url + "/_sandbox/users") as resp:
                    assert resp.status == 200
    finally:
        proc.terminate()
        await proc.wait()
