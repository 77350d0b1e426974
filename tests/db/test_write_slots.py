"""Sync pages written at once across the deployment (db/write_slots.py): every worker
process takes one of the deployment's slots for each page transaction."""

from __future__ import annotations

import asyncio

import asyncpg

from db.write_slots import take_write_slot


async def _page(database_url: str, slots: int, held: asyncio.Event, go: asyncio.Event) -> None:
    """A page transaction of another worker process: holds its slot until `go`."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await take_write_slot(conn, slots)
            held.set()
            await go.wait()
    finally:
        await conn.close()


async def _waits_for_a_slot(database_url: str, slots: int) -> bool:
    """Whether a page transaction has to wait while another process writes a page."""
    held, go = asyncio.Event(), asyncio.Event()
    other = asyncio.create_task(_page(database_url, slots, held, go))
    await held.wait()
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            taking = asyncio.create_task(take_write_slot(conn, slots))
            done, _ = await asyncio.wait([taking], timeout=0.5)
            go.set()  # the other page commits: its slot is free
            await taking  # and this one gets it
    finally:
        await conn.close()
        go.set()
        await other
    return not done


async def test_with_one_slot_a_page_waits_for_the_page_another_worker_writes(
    database_url: str,
) -> None:
    assert await _waits_for_a_slot(database_url, 1)


async def test_with_two_slots_two_pages_are_written_at_once(database_url: str) -> None:
    assert not await _waits_for_a_slot(database_url, 2)


async def test_without_a_limit_nothing_waits(database_url: str) -> None:
    assert not await _waits_for_a_slot(database_url, 0)


async def test_a_slot_is_free_again_once_its_page_rolled_back(database_url: str) -> None:
    failing, other = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        try:
            async with failing.transaction():
                await take_write_slot(failing, 1)
                raise RuntimeError("the page failed")
        except RuntimeError:
            pass
        # The failed page's session lives on (a pooled connection): its slot does not.
        async with other.transaction():
            await asyncio.wait_for(take_write_slot(other, 1), timeout=5)
    finally:
        await failing.close()
        await other.close()
