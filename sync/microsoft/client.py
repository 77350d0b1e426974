"""Microsoft Graph v1.0 over HTTP: requests and error handling only, no database."""

from __future__ import annotations

import aiohttp

from sync.credentials import TokenSource
from sync.http import ProviderResponse, ProviderSession, RetryPolicy
from sync.provider import ProviderError

LABEL = "Microsoft 365"


def error_code(response: ProviderResponse) -> tuple[str | None, str]:
    """(code, message) from Graph's error body, tolerant of other bodies."""
    try:
        error = response.json()["error"]
        return str(error.get("code")), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, response.body[:200].decode(errors="replace")


def raise_for_status(response: ProviderResponse, what: str) -> None:
    if response.status < 300:
        return
    code, message = error_code(response)
    raise ProviderError(
        f"{LABEL} refused to {what}: HTTP {response.status} {message}".strip(),
        status=response.status,
        reason=code,
    )


class GraphCalendarClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        api_url: str,
        tokens: TokenSource,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._base = f"{api_url.rstrip('/')}/v1.0"
        self._session = ProviderSession(http, tokens, label=LABEL, policy=policy)

    async def calendar_owner(self) -> str:
        response = await self._session.request(
            "GET", f"{self._base}/me", params={"$select": "mail,userPrincipalName"}
        )
        raise_for_status(response, "read the signed-in user")
        me = response.json()
        return str(me.get("mail") or me["userPrincipalName"]).lower()
