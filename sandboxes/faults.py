"""Provider-neutral fault injection for the sandboxes: rate limits, 5xx, timeouts, resets, latency.

A :class:`FaultInjector` holds a list of active :class:`Fault` rules and exposes an aiohttp
middleware. For every request outside ``/_sandbox/`` the first matching rule that fires decides
what happens; the provider supplies ``render_error(status, retry_after)`` so the error body is the
provider's own format (Google JSON error, Microsoft Graph error). Its ``page_cap`` makes change
feeds answer with short pages (a server may always return fewer items than asked for), so every
round spans several pages.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RenderError = Callable[[int, float | None], web.Response]


class FaultKind(StrEnum):
    """What an injected fault does to a request."""

    RATE_LIMIT = "rate_limit"  # 429 (or the status given) with Retry-After
    SERVER_ERROR = "server_error"  # 5xx (the status given, default 503)
    TIMEOUT = "timeout"  # hold delay_s (default 30 s), then 504: the client times out first
    RESET = "reset"  # abort the TCP connection without any response
    LATENCY = "latency"  # sleep delay_s, then handle the request normally


@dataclass
class Fault:
    """One fault rule.

    ``next_n`` set: applies to the next N matching requests, then expires.
    ``next_n`` None: applies to each matching request with ``probability`` (seeded RNG), forever
    (until cleared). ``path_contains``/``method`` narrow which requests match.
    """

    kind: FaultKind
    status: int | None = None
    retry_after: float | None = None
    next_n: int | None = None
    probability: float = 1.0
    delay_s: float = 0.0
    path_contains: str | None = None
    method: str | None = None

    def matches(self, request: web.Request) -> bool:
        """True when the request's method and path fit this rule's filters."""
        if self.method is not None and request.method.upper() != self.method.upper():
            return False
        return self.path_contains is None or self.path_contains in request.path_qs


_DEFAULT_STATUS = {
    FaultKind.RATE_LIMIT: 429,
    FaultKind.SERVER_ERROR: 503,
    FaultKind.TIMEOUT: 504,
}
_DEFAULT_TIMEOUT_S = 30.0


class FaultInjector:
    """Active fault rules plus a count of what was injected (``injected``, keyed by kind value)."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._faults: dict[str, Fault] = {}
        self._ids = itertools.count(1)
        self.injected: collections.Counter[str] = collections.Counter()
        # At most this many items per change-feed page (None: as many as the client asks).
        self.page_cap: int | None = None

    @property
    def active(self) -> int:
        """Number of rules that can still fire."""
        return len(self._faults)

    def add(self, fault: Fault) -> str:
        """Register a rule; rules are consulted in the order added. Returns its id."""
        fault_id = f"fault-{next(self._ids)}"
        self._faults[fault_id] = fault
        return fault_id

    def remove(self, fault_id: str) -> bool:
        """Drop one rule; False when it was unknown or had already expired."""
        return self._faults.pop(fault_id, None) is not None

    def clear(self) -> None:
        """Drop every rule (the ``injected`` counter is kept)."""
        self._faults.clear()

    def reset(self) -> None:
        """Drop every rule, the page cap, and zero the counter (sandbox reset)."""
        self._faults.clear()
        self.injected.clear()
        self.page_cap = None

    def cap_page(self, size: int) -> int:
        """The page size a change-feed request gets: ``size``, or less under ``page_cap``."""
        if self.page_cap is None or size <= self.page_cap:
            return size
        self.injected["short_page"] += 1
        return self.page_cap

    def pick(self, request: web.Request) -> Fault | None:
        """Return the fault to apply to ``request`` (consuming one of its next_n), or None."""
        for fault_id, fault in list(self._faults.items()):
            if not fault.matches(request):
                continue
            if fault.next_n is not None:
                fault.next_n -= 1
                if fault.next_n <= 0:
                    del self._faults[fault_id]
                return fault
            if fault.probability >= 1.0 or self._rng.random() < fault.probability:
                return fault
        return None

    def middleware(self, render_error: RenderError) -> Any:
        """An aiohttp middleware applying the rules; ``/_sandbox/`` paths are never faulted."""

        @web.middleware
        async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith("/_sandbox/") or not self._faults:
                return await handler(request)
            fault = self.pick(request)
            if fault is None:
                return await handler(request)
            self.injected[fault.kind.value] += 1
            return await self._apply(fault, request, handler, render_error)

        return fault_middleware

    async def _apply(
        self, fault: Fault, request: web.Request, handler: Handler, render_error: RenderError
    ) -> web.StreamResponse:
        kind = fault.kind
        if kind is FaultKind.LATENCY:
            await asyncio.sleep(fault.delay_s)
            return await handler(request)
        if kind is FaultKind.RESET:
            # Close the socket without writing a byte: the client sees a dropped connection.
            # The response returned afterwards is never written (aiohttp quietly drops a write
            # to a closed transport), which keeps the server log free of fake tracebacks.
            transport = request.transport
            if transport is not None:
                transport.abort()
            return web.Response(status=499)
        status = fault.status or _DEFAULT_STATUS[kind]
        if kind is FaultKind.TIMEOUT:
            await asyncio.sleep(fault.delay_s or _DEFAULT_TIMEOUT_S)
            return render_error(status, None)
        if kind is FaultKind.RATE_LIMIT:
            retry_after = fault.retry_after if fault.retry_after is not None else 1.0
            return render_error(status, retry_after)
        return render_error(status, fault.retry_after)


def fault_from_json(body: dict[str, Any]) -> Fault:
    """Build a Fault from camelCase JSON (``kind``, ``status``, ``retryAfter``, ``nextN``,
    ``probability``, ``delayMs``, ``pathContains``, ``method``); ValueError when malformed."""
    try:
        kind = FaultKind(body["kind"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown fault kind: {body.get('kind')!r}") from exc
    status = body.get("status")
    retry_after = body.get("retryAfter")
    next_n = body.get("nextN")
    probability = float(body.get("probability", 1.0))
    if not 0.0 <= probability <= 1.0:
        raise ValueError("probability must be within [0, 1]")
    if next_n is not None and int(next_n) < 1:
        raise ValueError("nextN must be >= 1")
    return Fault(
        kind=kind,
        status=int(status) if status is not None else None,
        retry_after=float(retry_after) if retry_after is not None else None,
        next_n=int(next_n) if next_n is not None else None,
        probability=probability,
        delay_s=float(body.get("delayMs", 0)) / 1000.0,
        path_contains=body.get("pathContains"),
        method=body.get("method"),
    )


def fault_stats(injector: FaultInjector) -> dict[str, Any]:
    """The JSON body of ``GET /_sandbox/faults``."""
    return {"injected": dict(injector.injected), "active": injector.active}
