"""Waiting for something another task or process does, with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(
    condition: Callable[[], bool], *, within: float = 10.0, step: float = 0.005
) -> None:
    """Return once `condition()` holds; AssertionError after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(step)
