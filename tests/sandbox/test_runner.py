"""sync/sandbox/runner.py: both sandboxes on real ephemeral ports, reachable, then closed."""

from __future__ import annotations

import aiohttp
import pytest

from sync.sandbox.runner import start_sandboxes


async def test_start_sandboxes_serves_both_and_closes() -> None:
    running = await start_sandboxes(seed=3)
    try:
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
            async with http.get(running.google_url + "/_sandbox/users"):
                pass
