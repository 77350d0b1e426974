"""db/once.py: what every subscriber of one change shares (the end-to-end sharing is in
tests/app/test_live.py and tests/app/test_live_socket.py; bench/fanout.py measures it)."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any

import pytest

from db.once import run_once, shared


async def test_one_load_serves_every_caller_even_when_the_first_leaves() -> None:
    results: dict[Hashable, Any] = {}
    calls = 0
    gate = asyncio.Event()

    async def load() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return "rows"

    first = asyncio.create_task(shared(results, "k", load))
    others = [asyncio.create_task(shared(results, "k", load)) for _ in range(3)]
    await asyncio.sleep(0)
    first.cancel()  # the first subscriber leaves while the load runs
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*others) == ["rows"] * 3
    assert calls == 1
    assert first.cancelled()
    # Later callers take the finished result.
    assert await shared(results, "k", load) == "rows"
    assert calls == 1


async def test_a_value_computed_at_once_is_kept_and_a_failure_is_everyones() -> None:
    results: dict[Hashable, Any] = {}
    computed: list[str] = []

    def encode() -> str:
        computed.append("x")
        return "payload"

    assert run_once(results, "a", encode) == "payload"
    assert run_once(results, "a", encode) == "payload"
    assert computed == ["x"]

    async def broken() -> str:
        raise ValueError("no rows")

    callers = [shared(results, "b", broken) for _ in range(2)]
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert [type(o) for o in outcomes] == [ValueError, ValueError]
    with pytest.raises(ValueError):
        await shared(results, "b", broken)
