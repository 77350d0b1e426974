"""sandboxes/runner.py: both sandboxes on real ephemeral ports, reachable, then closed."""

from __future__ import annotations

import aiohttp
import pytest

from sandboxes.runner import start_sandboxes


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
