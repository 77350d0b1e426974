"""Valid access tokens for calendar connections.

For a provider linked with typed credentials (a password), the token is what its spec builds
from the stored secrets (e.g. HTTP Basic); nothing refreshes it: a 401 marks the connection
NEEDS_REAUTH (the password changed) and only linking again helps.

Tokens are refreshed shortly before they expire and whenever the provider rejects one (401).
A refresh happens once per connection at a time: an asyncio lock serialises the callers of
this process, a row lock those of every other process, and the token version tells a waiter
that someone else already refreshed. A refresh refused with `invalid_grant` marks the
connection NEEDS_REAUTH; from then on no request reaches the provider until the user links
the calendar again, so a revoked grant never turns into a retry storm.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg

from db import connections as connections_db
from db.connections import ConnectionRow
from sync.oauth_client import OAuthClient
from sync.provider import NeedsReauth
from sync.providers.spec import CredentialLinking
from sync.token_vault import TokenVault
from sync.tokens import AccessToken

REFRESH_MARGIN = timedelta(seconds=60)


class StaticToken:
    """A token fresh from a code exchange, used before any connection is stored."""

    def __init__(self, value: str) -> None:
        self._token = AccessToken(value)

    async def current(self) -> AccessToken:
        return self._token

    async def rejected(self, token: AccessToken) -> AccessToken:
        raise NeedsReauth("The provider rejected a token it has just issued.")


class Credentials:
    def __init__(
        self,
        pool: asyncpg.Pool,
        vault: TokenVault,
        oauth: Mapping[str, OAuthClient],
        typed: Mapping[str, CredentialLinking] | None = None,
    ) -> None:
        self._pool = pool
        self._vault = vault
        # By provider name: how an OAuth provider's tokens refresh, how a provider linked with
        # typed credentials turns its stored secrets into a token.
        self._oauth = oauth
        self._typed = dict(typed or {})
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    def for_connection(self, connection_id: int) -> ConnectionTokens:
        return ConnectionTokens(self, connection_id)

    async def access_token(self, connection_id: int) -> AccessToken:
        """A token valid for at least a minute; `NeedsReauth` when the link is broken."""
        row = await connections_db.connection_by_id(self._pool, connection_id)
        usable = self._usable(row)
        typed = self._typed.get(usable.provider)
        if typed is not None:
            assert usable.token_ciphertext is not None
            secrets = self._vault.decrypt(usable.token_ciphertext)
            return replace(typed.authorization(secrets), version=usable.token_version)
        if _fresh(usable):
            assert usable.token_ciphertext is not None
            return AccessToken(
                self._vault.decrypt(usable.token_ciphertext)["access_token"], usable.token_version
            )
        return await self._refresh(connection_id, seen_version=usable.token_version, force=False)

    async def token_rejected(self, connection_id: int, token: AccessToken) -> AccessToken:
        """Refresh after a 401, unless another caller already replaced that token. Typed
        credentials cannot be refreshed: the connection needs the person to link again."""
        row = self._usable(await connections_db.connection_by_id(self._pool, connection_id))
        if row.provider in self._typed:
            message = (
                "The calendar server refused the stored credentials (was the password "
                "changed or revoked?): link the calendar again."
            )
            await connections_db.mark_needs_reauth(self._pool, connection_id, message)
            raise NeedsReauth(message)
        return await self._refresh(connection_id, seen_version=token.version, force=True)

    @staticmethod
    def _usable(row: ConnectionRow | None) -> ConnectionRow:
        if row is None or row.status == "disconnected" or row.token_ciphertext is None:
            raise NeedsReauth("This calendar is not linked.")
        if row.status != "active":
            raise NeedsReauth(row.last_error or "The calendar link needs to be renewed.")
        return row

    async def _refresh(
        self, connection_id: int, *, seen_version: int | None, force: bool
    ) -> AccessToken:
        async with self._locks[connection_id]:
            failure: NeedsReauth | None = None
            async with self._pool.acquire() as conn, conn.transaction():
                row = self._usable(await connections_db.lock_tokens(conn, connection_id))
                assert row.token_ciphertext is not None
                tokens = self._vault.decrypt(row.token_ciphertext)
                replaced = row.token_version != seen_version
                if replaced or (not force and _fresh(row)):
                    return AccessToken(tokens["access_token"], row.token_version)
                oauth = self._oauth[row.provider]
                try:
                    grant = await oauth.refresh(tokens["refresh_token"])
                except NeedsReauth as exc:
                    await connections_db.mark_needs_reauth(conn, connection_id, str(exc))
                    failure = exc
                else:
                    ciphertext = self._vault.encrypt(
                        {"access_token": grant.access_token, "refresh_token": grant.refresh_token}
                    )
                    version = await connections_db.store_tokens(
                        conn, connection_id, ciphertext, grant.expires_at
                    )
                    return AccessToken(grant.access_token, version)
            raise failure


def _fresh(row: ConnectionRow) -> bool:
    expires = row.token_expires_at
    return expires is not None and expires - datetime.now(UTC) > REFRESH_MARGIN


class ConnectionTokens:
    """The `TokenSource` of one stored connection."""

    def __init__(self, credentials: Credentials, connection_id: int) -> None:
        self._credentials = credentials
        self._connection_id = connection_id

    async def current(self) -> AccessToken:
        return await self._credentials.access_token(self._connection_id)

    async def rejected(self, token: AccessToken) -> AccessToken:
        return await self._credentials.token_rejected(self._connection_id, token)
