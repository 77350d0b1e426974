"""The per-request context: who is calling, the database, and the request's dataloaders."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import asyncpg

from db import users
from db.listen import LiveFeed
from resolvers.errors import Unauthenticated
from resolvers.loaders import Loaders
from sync.engine import SyncEngine
from sync.linking import Linker
from sync.provider import CalendarClient
from sync.providers.spec import ProviderApp

# A few, so a request's list items still load concurrently, but never the whole pool.
CONNECTIONS_PER_REQUEST = 3

TOKEN_REQUIRED = "A valid API token is required: send 'Authorization: Bearer <token>'."


class Services(Protocol):
    """What requests use of the services a process shares (`app.services.Services` is one):
    declared here, on the floor that uses it, so nothing here imports the app."""

    @property
    def apps(self) -> Mapping[str, ProviderApp]: ...

    @property
    def linker(self) -> Linker: ...

    @property
    def engine(self) -> SyncEngine: ...

    def live_feed(self) -> LiveFeed: ...

    def calendar_client(self, provider: str, connection_id: int) -> CalendarClient: ...


@dataclass(frozen=True, slots=True)
class Viewer:
    """The authenticated caller; every query is scoped to `account_id`."""

    user_id: int
    account_id: int
    email: str
    is_admin: bool
    # The API token the caller signed in with: a websocket it opened closes when it is revoked.
    token_id: int


@dataclass
class Context:
    pool: asyncpg.Pool
    # The bearer token as presented (HTTP header or websocket connection_init payload).
    token: str | None
    services: Services
    # Set by the websocket protocol from the `connection_init` payload.
    connection_params: dict[str, Any] | None = None
    _viewer: Viewer | None = field(default=None, repr=False)
    _authenticated: bool = field(default=False, repr=False)
    # Top-level fields resolve concurrently: they must share one lookup, not race past it.
    _auth_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    # The pool's connections one request may hold at once (see `statement_slot`).
    _slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(CONNECTIONS_PER_REQUEST), repr=False
    )

    def statement_slot(self) -> asyncio.Semaphore:
        """Held around each statement of a resolver that runs once per item of a list (a
        timeline per contact of a page): graphql-core runs them all at once, and a page of
        100 contacts would otherwise take every pooled connection while other requests
        (other accounts') wait for one."""
        return self._slots

    def one_statement_at_a_time(self) -> None:
        """For an expensive request: its per-item statements run one after another, so it
        takes one pooled connection and one PostgreSQL backend, not several. (A websocket's
        context serves all its operations: the rest of that connection's, then.)"""
        self._slots = asyncio.Semaphore(1)

    async def viewer(self) -> Viewer:
        """The caller, looked up once per request; `Unauthenticated` without a valid token."""
        if not self._authenticated:
            async with self._auth_lock:
                if not self._authenticated:
                    await self._authenticate()
        if self._viewer is None:
            raise Unauthenticated(TOKEN_REQUIRED)
        return self._viewer

    @property
    def known_viewer(self) -> Viewer | None:
        """The caller if already authenticated (no lookup): None before, or when anonymous."""
        return self._viewer

    async def is_authenticated(self) -> bool:
        """Whether the token names a user (looked up once per request, like `viewer()`)."""
        try:
            await self.viewer()
        except Unauthenticated:
            return False
        return True

    async def _authenticate(self) -> None:
        if self.token:
            row = await users.user_for_token(self.pool, self.token)
            if row is not None:
                self._viewer = Viewer(row.id, row.account_id, row.email, row.is_admin, row.token_id)
        self._authenticated = True

    @cached_property
    def loaders(self) -> Loaders:
        """The request's dataloaders; call only after `viewer()` succeeded."""
        assert self._viewer is not None, "authenticate before loading account data"
        return Loaders(self.pool, self._viewer.account_id)

    def renew_loaders(self) -> None:
        """Forget everything loaded so far (a subscription's next event must see fresh rows)."""
        self.__dict__.pop("loaders", None)


def token_from_connection_params(params: dict[str, Any] | None) -> str | None:
    """The token of a websocket `connection_init` payload: the same `Authorization` value as on
    HTTP (any key case), or a bare `token`."""
    if not params:
        return None
    for key, value in params.items():
        if key.lower() == "authorization" and isinstance(value, str):
            return bearer_token(value)
    token = params.get("token")
    return token if isinstance(token, str) and token else None


def bearer_token(value: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive)."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
