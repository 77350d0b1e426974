"""Run once for every subscriber: one result computed by the first caller, handed to the rest.

A change reaches every subscriber of a timeline in the process as the same event object; what
they derive from it (the rows it names, the subscription's execution, its encoded `next`
payload) is the same for all who ask the same question, so it is computed once, kept in a
dict the event carries, and shared. Used on three floors (db/listen.py, schema/subscriptions.py,
app/live_socket.py), so it lives on the lowest one they all import; it is plain asyncio and
imports nothing of the product.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Hashable, MutableMapping
from typing import Any, TypeVar, cast

T = TypeVar("T")


def run_once(
    results: MutableMapping[Hashable, Any],
    key: Hashable,
    compute: Callable[[], T | Awaitable[T]],
) -> T | Awaitable[T]:
    """`compute()`, run by the first caller asking for `key`; every later caller gets what it
    gave. A plain value is kept and returned as is (the others take it without waiting). An
    awaitable is run as its own task, and each caller, the first too, is given its result once
    done, or else an awaitable of it that is shielded: one subscriber leaving (cancelled) does
    not cancel the work for the rest. Its failure is every caller's failure."""
    found = results.get(key, _MISSING)
    if found is _MISSING:
        value = compute()
        if not inspect.isawaitable(value):
            results[key] = value
            return value
        found = results[key] = asyncio.ensure_future(value)
    if isinstance(found, asyncio.Future):
        if found.done():
            return cast(T, found.result())
        return _shielded(found)
    return cast(T, found)


async def shared(
    results: MutableMapping[Hashable, Any], key: Hashable, load: Callable[[], Awaitable[T]]
) -> T:
    """`run_once` for a load that always awaits: its result, loaded once for all callers."""
    compute: Callable[[], T | Awaitable[T]] = load
    found = run_once(results, key, compute)
    return await found if inspect.isawaitable(found) else found


async def _shielded(future: asyncio.Future[T]) -> T:
    return await asyncio.shield(future)


_MISSING: Any = object()
