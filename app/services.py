"""Everything a Chronik process shares between requests, built once at start."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import asyncpg

from app.database import database_url
from app.providers import provider_apps, sandbox_ports
from app.settings import Settings
from db.listen import LiveFeed
from db.migrate import apply_migrations
from db.pool import SYNC_SESSION, QueryObserver, create_pool
from db.providers import register_providers
from sync.clients import calendar_client
from sync.credentials import Credentials
from sync.engine import EngineSettings, SyncEngine
from sync.linking import Linker
from sync.oauth_client import OAuthClient
from sync.provider import CalendarClient
from sync.providers import registry
from sync.providers.spec import CredentialLinking, ProviderApp
from sync.token_vault import TokenVault
from sync.worker import SyncWorker, WorkerSettings, worker_name

log = logging.getLogger("chronik")


@dataclass
class Services:
    settings: Settings
    dsn: str
    pool: asyncpg.Pool
    # The sync has a pool of its own: a long initial sync never starves API requests of
    # connections (and request SQL can be counted without the worker's).
    sync_pool: asyncpg.Pool
    http: aiohttp.ClientSession
    vault: TokenVault
    # The configured providers, by name (a provider that is not configured has none).
    apps: dict[str, ProviderApp]
    linker: Linker
    credentials: Credentials
    engine: SyncEngine
    # Started by the API process only (workers have no subscribers).
    live: LiveFeed | None = None

    def live_feed(self) -> LiveFeed:
        if self.live is None:
            raise RuntimeError("live updates are served by API processes only")
        return self.live

    def calendar_client(self, provider: str, connection_id: int) -> CalendarClient:
        """The API client of a stored connection (tokens refreshed as needed); `KeyError`
        naming the provider when it is not configured here."""
        return calendar_client(
            self.apps[provider], self.http, self.credentials.for_connection(connection_id)
        )

    def new_worker(self) -> SyncWorker:
        settings = self.settings
        return SyncWorker(
            self.sync_pool,
            self.engine,
            WorkerSettings(
                concurrency=settings.worker_concurrency,
                poll_seconds=settings.sync_poll_seconds,
                lease_seconds=settings.sync_lease_seconds,
                push_quiet_seconds=settings.sync_push_quiet_seconds,
                push_max_wait_seconds=settings.sync_push_max_wait_seconds,
                reconcile_seconds=settings.sync_reconcile_seconds or None,
                retention=timedelta(days=settings.retention_days),
            ),
            dsn=self.dsn,
        )


@contextlib.asynccontextmanager
async def running_services(
    settings: Settings,
    *,
    migrate: bool = True,
    on_query: QueryObserver | None = None,
    own_sandboxes: bool = True,
) -> AsyncIterator[Services]:
    """Open the database, the provider HTTP session and (when no provider is configured and
    `own_sandboxes`) the local sandboxes; close them all on exit. Without `own_sandboxes`
    (a `chronik worker`), the sandboxes are the ones `chronik serve` runs on the sandbox ports."""
    vault = TokenVault(settings.resolved_secret_key(), settings.previous_keys())
    async with contextlib.AsyncExitStack() as stack:
        dsn = await database_url(settings)
        pool = await create_pool(
            dsn,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            on_query=on_query,
        )
        stack.push_async_callback(pool.close)
        if migrate:
            async with pool.acquire() as conn:
                await apply_migrations(conn)
        # Two per lane (a page committing, the next one planned beside it: sync/engine.py),
        # plus two for the worker's own queue queries.
        sync_pool = await create_pool(
            dsn,
            min_size=0,
            max_size=2 * settings.worker_concurrency + 2,
            server_settings=SYNC_SESSION,
        )
        stack.push_async_callback(sync_pool.close)
        local = (
            await _start_local_sandboxes(settings, stack)
            if own_sandboxes
            else _served_sandboxes(settings)
        )
        http = await stack.enter_async_context(aiohttp.ClientSession())
        apps = provider_apps(settings, local)
        # The provider columns are FK'd to calendar_providers: every registered provider is
        # there before anything is stored for it (with how often it is polled).
        polls = {name: app.poll_seconds for name, app in apps.items()}
        await register_providers(
            pool, [(spec.name, spec.label, polls.get(spec.name)) for spec in registry.specs()]
        )
        oauth = {
            name: OAuthClient(app.oauth, http, label=registry.spec(name).label)
            for name, app in apps.items()
            if app.oauth is not None
        }
        typed = {
            spec.name: spec.linking
            for spec in registry.specs()
            if isinstance(spec.linking, CredentialLinking)
        }
        credentials = Credentials(pool, vault, oauth, typed)
        engine = SyncEngine(
            sync_pool,
            apps,
            http,
            Credentials(sync_pool, vault, oauth, typed),
            EngineSettings(
                public_url=str(settings.public_url),
                excluded_domains=frozenset(d.lower() for d in settings.excluded_email_domains),
                lease_seconds=settings.sync_lease_seconds,
                max_pages_per_run=settings.sync_max_pages_per_run,
                pages_at_once=settings.worker_pages_at_once,
                deployment_pages_at_once=settings.sync_pages_at_once,
            ),
            worker_id=worker_name(),
        )
        yield Services(
            settings=settings,
            dsn=dsn,
            pool=pool,
            sync_pool=sync_pool,
            http=http,
            vault=vault,
            apps=apps,
            linker=Linker(pool, vault, apps, http, str(settings.public_url), credentials),
            credentials=credentials,
            engine=engine,
        )


def _served_sandboxes(settings: Settings) -> dict[str, str]:
    """The sandboxes `chronik serve` runs on their ports (for a `chronik worker`)."""
    host = settings.sandbox_host
    return {spec.name: f"http://{host}:{port}" for spec, port in sandbox_ports(settings)}


async def _start_local_sandboxes(
    settings: Settings, stack: contextlib.AsyncExitStack
) -> dict[str, str]:
    """Start the sandbox of every provider configured with neither an app nor a sandbox URL;
    their URLs by provider name."""
    wanted = sandbox_ports(settings)
    if not wanted:
        return {}
    from sandboxes.runner import serve_sandbox  # only a sandbox deployment loads it

    urls = {}
    for spec, port in wanted:
        assert spec.sandbox is not None
        sandbox = await serve_sandbox(spec.sandbox.factory, host=settings.sandbox_host, port=port)
        stack.push_async_callback(sandbox.close)
        log.info(
            "%s: no credentials configured, using the local sandbox at %s", spec.label, sandbox.url
        )
        urls[spec.name] = sandbox.url
    return urls
