"""Authenticated requests to a provider API, retried the way the providers ask.

Every provider call goes through `ProviderSession.request`: it adds the token source's
`Authorization` header (a bearer token, or HTTP Basic for a provider linked with a password),
swaps a rejected token (401) for a refreshed one once, and retries throttling (429, and whatever the
provider's `is_throttled` recognises, e.g. Google's 403 rateLimitExceeded), 5xx, timeouts and
connection resets with exponential backoff and jitter, honouring `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from sync.provider import ProviderUnavailable
from sync.tokens import TokenSource
from telemetry.metrics import observe_provider_request

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 30.0

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        # "Full jitter": spreads retries of many connections instead of synchronising them.
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


@dataclass(frozen=True)
class ProviderResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
    except (TypeError, ValueError):
        return None


def _never(response: ProviderResponse) -> bool:
    return False


class ProviderSession:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        tokens: TokenSource,
        *,
        label: str,
        metric_name: str,
        policy: RetryPolicy | None = None,
        is_throttled: Callable[[ProviderResponse], bool] = _never,
        max_in_flight: int | None = None,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._label = label
        self._metric_name = metric_name
        self._policy = policy or RetryPolicy()
        self._is_throttled = is_throttled
        # At most this many requests of this session on the wire at once (Outlook serves 4
        # per app and mailbox); waiting for a slot is not part of a request's timeout.
        self._slots = asyncio.Semaphore(max_in_flight) if max_in_flight else None

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        json_per_attempt: Callable[[], Any] | None = None,
        body: bytes | None = None,
    ) -> ProviderResponse:
        """The provider's final answer (any status that retrying cannot change).

        `json_per_attempt`, instead of `json`, builds a new body for every attempt: for a POST
        that is not idempotent, whose lost answer may hide that it took effect (a retry with
        the same body would be refused as a duplicate). `body`, instead of either, is sent as
        it is, with the `Content-Type` the caller puts in `headers` (e.g. a CalDAV REPORT's XML).

        Raises `ProviderUnavailable` (its `status` the last answer retried, None when that
        attempt got no answer) after the last retry, `NeedsReauth` when the token cannot
        be renewed.
        """
        policy = self._policy
        token = await self._tokens.current()
        renewed = False
        last_problem = "no attempt made"
        retry_after: float | None = None
        last_status: int | None = None  # of the last answer retried, None after a lost one
        data = orjson.dumps(json) if json is not None else body
        for attempt in range(policy.attempts):
            if attempt:
                await asyncio.sleep(policy.backoff(attempt - 1, retry_after))
            retry_after = None
            if json_per_attempt is not None:
                data = orjson.dumps(json_per_attempt())
            request_headers = {
                "Authorization": token.authorization,
                "Accept": "application/json",
            }
            if json is not None or json_per_attempt is not None:
                request_headers["Content-Type"] = "application/json"
            request_headers.update(headers or {})
            status = None
            async with self._slots or contextlib.nullcontext():
                started = time.perf_counter()
                try:
                    async with self._http.request(
                        method,
                        url,
                        params=params,
                        data=data,
                        headers=request_headers,
                        timeout=aiohttp.ClientTimeout(total=policy.timeout),
                    ) as raw:
                        status = raw.status
                        response = ProviderResponse(raw.status, dict(raw.headers), await raw.read())
                except (TimeoutError, aiohttp.ClientError) as exc:
                    last_problem = f"{type(exc).__name__} talking to {self._label}"
                    last_status = None
                    continue
                finally:
                    observe_provider_request(
                        self._metric_name, status, time.perf_counter() - started
                    )
            if response.status == 401 and not renewed:
                token = await self._tokens.rejected(token)
                renewed = True
                continue
            if response.status in RETRYABLE_STATUS or self._is_throttled(response):
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                last_problem = f"{self._label} answered HTTP {response.status}"
                last_status = response.status
                continue
            return response
        raise ProviderUnavailable(
            f"{last_problem} after {policy.attempts} attempts; Chronik will try again later.",
            status=last_status,
            retry_after=retry_after,
        )
