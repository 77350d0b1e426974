"""Google Calendar API v3 over HTTP: requests and error handling only, no database."""

from __future__ import annotations

import aiohttp

from sync.credentials import TokenSource
from sync.google.wire import Calendar, ErrorBody
from sync.http import ProviderResponse, ProviderSession, RetryPolicy
from sync.provider import ProviderError

LABEL = "Google Calendar"
# Google signals throttling with 403 as well as 429; these reasons are worth a retry.
_THROTTLE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


def error_reason(response: ProviderResponse) -> tuple[str | None, str]:
    """(reason, message) from Google's JSON error body, tolerant of other bodies."""
    try:
        body: ErrorBody = response.json()
        error = body["error"]
        reasons = [item.get("reason") for item in error.get("errors", [])]
        return (reasons[0] if reasons else None), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, response.body[:200].decode(errors="replace")


def is_throttled(response: ProviderResponse) -> bool:
    return response.status == 403 and error_reason(response)[0] in _THROTTLE_REASONS


def raise_for_status(response: ProviderResponse, what: str) -> None:
    if response.status < 300:
        return
    reason, message = error_reason(response)
    raise ProviderError(
        f"{LABEL} refused to {what}: HTTP {response.status} {message}".strip(),
        status=response.status,
        reason=reason,
    )


class GoogleCalendarClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        api_url: str,
        tokens: TokenSource,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._base = f"{api_url.rstrip('/')}/calendar/v3"
        self._session = ProviderSession(
            http, tokens, label=LABEL, policy=policy, is_throttled=is_throttled
        )

    async def calendar_owner(self) -> str:
        # The primary calendar's id is its owner's address.
        response = await self._session.request("GET", f"{self._base}/calendars/primary")
        raise_for_status(response, "read the primary calendar")
        calendar: Calendar = response.json()
        return calendar["id"].lower()
