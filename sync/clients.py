"""The API client for a provider, behind the one `CalendarClient` protocol."""

from __future__ import annotations

import aiohttp

from sync.http import RetryPolicy
from sync.provider import CalendarClient
from sync.providers import registry
from sync.providers.spec import ProviderApp
from sync.tokens import TokenSource


def calendar_client(
    app: ProviderApp,
    http: aiohttp.ClientSession,
    tokens: TokenSource,
    policy: RetryPolicy | None = None,
) -> CalendarClient:
    """The client of `app`'s provider; `UnknownProvider` when no spec has its name."""
    return registry.spec(app.provider).client(app, http, tokens, policy)
