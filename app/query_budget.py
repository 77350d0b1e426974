"""Each account's budget of query cost: a token bucket per account, in this process.

An account may spend `points` within `window_seconds`: its bucket holds at most `points`
and refills continuously at `points / window_seconds` per second. A query is charged its
estimated cost (its worst-case nodes, at least 1) before it runs; when the bucket holds less,
the query is refused and told how long until it would fit. Every API process keeps its own
buckets (N replicas allow N times the budget), which is enough to keep one tenant from
starving the others of the process they share.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

# Buckets are forgotten once full again (a full bucket is the same as none); swept when
# this many are held.
SWEEP_AT = 10_000


class _Bucket:
    __slots__ = ("points", "updated")

    def __init__(self, points: float, now: float) -> None:
        self.points = points
        self.updated = now


class AccountBudgets:
    """Token buckets of cost points, keyed by account id."""

    def __init__(
        self,
        points: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(points)
        self.rate = points / window_seconds
        self.clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def charge(self, account_id: int, cost: int) -> float | None:
        """Take `cost` points from the account's bucket; None when taken, else the seconds
        until the bucket will hold them (nothing is taken then)."""
        now = self.clock()
        bucket = self._buckets.get(account_id)
        if bucket is None:
            if len(self._buckets) >= SWEEP_AT:
                self._sweep(now)
            bucket = self._buckets[account_id] = _Bucket(self.capacity, now)
        else:
            bucket.points = min(self.capacity, bucket.points + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if cost <= bucket.points:
            bucket.points -= cost
            return None
        return (min(cost, self.capacity) - bucket.points) / self.rate

    def _sweep(self, now: float) -> None:
        full = [
            account
            for account, bucket in self._buckets.items()
            if bucket.points + (now - bucket.updated) * self.rate >= self.capacity
        ]
        for account in full:
            del self._buckets[account]


def retry_after_seconds(wait: float) -> int:
    """Whole seconds to wait (at least 1), as `Retry-After` counts them."""
    return max(1, math.ceil(wait))
