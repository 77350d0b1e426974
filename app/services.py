"""Everything a Chronik process shares between requests, built once at start."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import asyncpg

from app.database import open_pool
from app.providers import provider_apps, sandbox_wanted
from app.settings import Settings
from db.migrate import apply_migrations
from db.pool import QueryObserver
from sync.credentials import Credentials
from sync.linking import Linker
from sync.oauth_client import OAuthClient
from sync.provider import ProviderApp, ProviderName
from sync.token_vault import TokenVault

log = logging.getLogger("chronik")


@dataclass
class Services:
    settings: Settings
    pool: asyncpg.Pool
    http: aiohttp.ClientSession
    vault: TokenVault
    apps: dict[ProviderName, ProviderApp]
    linker: Linker
    credentials: Credentials


@contextlib.asynccontextmanager
async def running_services(
    settings: Settings, *, migrate: bool = True, on_query: QueryObserver | None = None
) -> AsyncIterator[Services]:
    """Open the database, the provider HTTP session and (when no provider is configured) the
    local sandboxes; close them all on exit."""
    vault = TokenVault(settings.resolved_secret_key(), settings.previous_keys())
    async with contextlib.AsyncExitStack() as stack:
        pool = await open_pool(settings, on_query=on_query)
        stack.push_async_callback(pool.close)
        if migrate:
            async with pool.acquire() as conn:
                await apply_migrations(conn)
        local = await _start_local_sandboxes(settings, stack)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        apps = provider_apps(settings, local)
        oauth = {name: OAuthClient(app, http) for name, app in apps.items()}
        yield Services(
            settings=settings,
            pool=pool,
            http=http,
            vault=vault,
            apps=apps,
            linker=Linker(pool, vault, apps, http, str(settings.public_url)),
            credentials=Credentials(pool, vault, oauth),
        )


async def _start_local_sandboxes(
    settings: Settings, stack: contextlib.AsyncExitStack
) -> dict[ProviderName, str]:
    wanted = sandbox_wanted(settings)
    if not wanted:
        return {}
    from sync.sandbox.runner import start_sandboxes  # only a sandbox deployment loads it

    sandboxes = await start_sandboxes(
        host=settings.sandbox_host,
        google_port=settings.sandbox_google_port,
        microsoft_port=settings.sandbox_microsoft_port,
    )
    stack.push_async_callback(sandboxes.close)
    urls = {ProviderName.GOOGLE: sandboxes.google_url}
    if sandboxes.microsoft_url:
        urls[ProviderName.MICROSOFT] = sandboxes.microsoft_url
    for name in wanted:
        if name in urls:
            log.info(
                "%s: no credentials configured, using the local sandbox at %s",
                name.label,
                urls[name],
            )
    return {name: url for name, url in urls.items() if name in wanted}
