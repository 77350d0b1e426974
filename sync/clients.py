"""The API client for a provider, behind the one `CalendarClient` protocol."""

from __future__ import annotations

import aiohttp

from sync.credentials import TokenSource
from sync.http import RetryPolicy
from sync.provider import CalendarClient, ProviderApp, ProviderName
from sync.providers.google.client import GoogleCalendarClient
from sync.providers.microsoft.client import GraphCalendarClient


def calendar_client(
    app: ProviderApp,
    http: aiohttp.ClientSession,
    tokens: TokenSource,
    policy: RetryPolicy | None = None,
) -> CalendarClient:
    if app.provider is ProviderName.GOOGLE:
        return GoogleCalendarClient(http, app.api_url, tokens, policy)
    return GraphCalendarClient(http, app.api_url, tokens, policy)
