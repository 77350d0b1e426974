"""Requests to a CalDAV server with HTTP Basic credentials, retried like every provider call.

`sync.http.ProviderSession` sends a bearer token; CalDAV servers (iCloud, Fastmail, Nextcloud,
Radicale, Xandikos) take a username and an app password instead. The retry behaviour is the
same: 429, 5xx, timeouts and connection resets are retried with exponential backoff and
jitter (`RetryPolicy`), honouring `Retry-After`. A 401 is never retried: the password was
changed or revoked, and only linking again helps (`NeedsReauth`).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDict

from sync.http import RETRYABLE_STATUS, ProviderResponse, RetryPolicy, retry_after_seconds
from sync.provider import NeedsReauth, ProviderUnavailable
from telemetry.metrics import observe_provider_request

LABEL = "The CalDAV server"
METRIC_NAME = "caldav"


@dataclass(frozen=True)
class BasicCredentials:
    """A CalDAV login: the username and an app password (never the account's main password
    where the server offers app passwords: iCloud and Fastmail require them)."""

    username: str
    password: str

    def __repr__(self) -> str:  # never the password in a log line or a traceback
        return f"BasicCredentials(username={self.username!r}, password=***)"


class DavSession:
    """One CalDAV login's requests. `request` returns the server's final answer (any status
    retrying cannot change), raises `NeedsReauth` on 401 and `ProviderUnavailable` when the
    retries ran out."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        credentials: BasicCredentials,
        *,
        policy: RetryPolicy | None = None,
        label: str = LABEL,
    ) -> None:
        self._http = http
        login = f"{credentials.username}:{credentials.password}".encode()
        self._authorization = "Basic " + base64.b64encode(login).decode("ascii")
        self._policy = policy or RetryPolicy()
        self._label = label

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ProviderResponse:
        """Send `method` to `url` (redirects are answered, not followed: the caller decides
        whether a Location is one to follow with the credentials)."""
        policy = self._policy
        last_problem = "no attempt made"
        retry_after: float | None = None
        for attempt in range(policy.attempts):
            if attempt:
                await asyncio.sleep(policy.backoff(attempt - 1, retry_after))
            retry_after = None
            status = None
            started = time.perf_counter()
            try:
                async with self._http.request(
                    method,
                    url,
                    data=body,
                    headers={**(headers or {}), "Authorization": self._authorization},
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=policy.timeout),
                ) as raw:
                    status = raw.status
                    # Header names case-insensitive: servers write `Etag`, `ETag`, `etag`.
                    answer_headers = CIMultiDict(raw.headers)
                    response = ProviderResponse(raw.status, answer_headers, await raw.read())
            except (TimeoutError, aiohttp.ClientError) as exc:
                last_problem = f"{type(exc).__name__} talking to {self._label.lower()}"
                continue
            finally:
                observe_provider_request(METRIC_NAME, status, time.perf_counter() - started)
            if response.status == 401:
                raise NeedsReauth(
                    f"{self._label} refused the username or app password (HTTP 401): "
                    "link the calendar again with a valid app password.",
                    status=401,
                )
            if response.status in RETRYABLE_STATUS:
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                last_problem = f"{self._label} answered HTTP {response.status}"
                continue
            return response
        raise ProviderUnavailable(
            f"{last_problem} after {policy.attempts} attempts; Chronik will try again later.",
            retry_after=retry_after,
        )
