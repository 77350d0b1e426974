"""sync/sandbox/runner.py: both sandboxes on real ephemeral ports, reachable, then closed."""

from __future__ import annotations

import aiohttp

from sync.sandbox.runner import start_sandboxes


async def test_start_sandboxes_serves_google_and_closes() -> None:
    running = await start_sandboxes(seed=3)
    try:
        assert running.google_url.startswith("http://127.0.0.1:")
        running.google.create_user("runner@example.com")
        async with aiohttp.ClientSession() as http:
            async with http.get(running.google_url + "/_sandbox/users") as resp:
                assert resp.status == 200
                users = (await resp.json())["users"]
            assert [u["email"] for u in users] == ["runner@example.com"]
            if running.microsoft_url is not None:
                assert running.microsoft is not None
                assert running.microsoft_url != running.google_url
    finally:
        await running.close()
    async with aiohttp.ClientSession() as http:
        try:
            async with http.get(running.google_url + "/_sandbox/users") as resp:
                closed = False
        except aiohttp.ClientConnectionError:
            closed = True
    assert closed
