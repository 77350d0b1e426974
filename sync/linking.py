"""Linking a user's primary calendar: start an OAuth attempt, open it in a browser, complete
it at the callback, and disconnect.

The flow is the authorization code flow with PKCE (S256):
1. `start` stores a single-use, expiring `state` for the user with an encrypted PKCE verifier
   and returns Chronik's own `/oauth/{provider}/start?state=…` URL.
2. Opening that URL binds the attempt to the browser (a random nonce in an HttpOnly cookie,
   its hash in the database) and redirects to the provider's consent page.
3. The provider redirects to `/oauth/{provider}/callback`; `complete` requires the same
   browser, an unused unexpired state of that provider, exchanges the code with the verifier,
   asks the provider whose primary calendar it is, and stores the encrypted tokens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import aiohttp
import asyncpg
from authlib.common.security import generate_token

from db import accounts as accounts_db
from db import connections as connections_db
from db import link_states
from db.connections import ConnectionRow
from db.errors import DuplicateError
from db.link_states import LinkState, StateProblem
from sync.clients import calendar_client
from sync.credentials import StaticToken
from sync.oauth_client import OAuthClient, new_code_verifier
from sync.provider import ProviderApp, ProviderError, ProviderName
from sync.token_vault import TokenVault

LINK_TTL = timedelta(minutes=10)
BROWSER_COOKIE = "chronik_link"


class LinkError(Exception):
    """The link cannot be completed; the message is for the person in front of the browser."""


_STATE_MESSAGES = {
    StateProblem.UNKNOWN: "This calendar link is not valid. Start linking again from Chronik.",
    StateProblem.USED: "This calendar link was already used. Start linking again from Chronik.",
    StateProblem.EXPIRED: "This calendar link has expired (links last 10 minutes). "
    "Start linking again from Chronik.",
}


def _hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


@dataclass(frozen=True)
class StartedLink:
    authorization_url: str
    expires_at: datetime


@dataclass(frozen=True)
class BrowserBinding:
    provider_url: str
    cookie_value: str


class Linker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        vault: TokenVault,
        apps: Mapping[ProviderName, ProviderApp],
        http: aiohttp.ClientSession,
        public_url: str,
    ) -> None:
        self._pool = pool
        self._vault = vault
        self._apps = apps
        self._http = http
        self._public_url = public_url.rstrip("/")

    def oauth(self, provider: ProviderName) -> OAuthClient:
        return OAuthClient(self._apps[provider], self._http)

    def redirect_uri(self, provider: ProviderName) -> str:
        return f"{self._public_url}/oauth/{provider.value}/callback"

    async def start(
        self, *, user_id: int, provider: ProviderName, login_hint: str | None = None
    ) -> StartedLink:
        """Record a new attempt for the user and return the URL the browser must open."""
        state = generate_token(43)
        expires_at = datetime.now(UTC) + LINK_TTL
        verifier = self._vault.encrypt({"code_verifier": new_code_verifier(), "hint": login_hint})
        await link_states.create_state(
            self._pool,
            state_hash=_hash(state),
            user_id=user_id,
            provider=provider.value,
            verifier_cipher=verifier,
            expires_at=expires_at,
        )
        query = urlencode({"state": state})
        return StartedLink(f"{self._public_url}/oauth/{provider.value}/start?{query}", expires_at)

    async def open_in_browser(self, provider: ProviderName, state: str) -> BrowserBinding:
        """Bind the attempt to this browser; the provider URL to go on to and the cookie value."""
        nonce = generate_token(32)
        bound = await link_states.bind_browser(self._pool, _hash(state), _hash(nonce))
        attempt = self._checked(bound, provider)
        secrets = self._vault.decrypt(attempt.verifier_cipher)
        url = self.oauth(provider).authorization_url(
            redirect_uri=self.redirect_uri(provider),
            state=state,
            code_verifier=secrets["code_verifier"],
            login_hint=secrets.get("hint"),
        )
        return BrowserBinding(url, nonce)

    async def complete(
        self, provider: ProviderName, *, state: str, code: str, browser_cookie: str | None
    ) -> ConnectionRow:
        """Finish the attempt: `LinkError` with a message for the person, nothing stored."""
        async with self._pool.acquire() as conn:
            attempt = self._checked(await link_states.consume_state(conn, _hash(state)), provider)
        if (
            attempt.browser_hash is None
            or not browser_cookie
            or (_hash(browser_cookie) != attempt.browser_hash)
        ):
            raise LinkError(
                "This calendar link was started by another user or in another browser. "
                "Start linking again from Chronik in this browser."
            )
        secrets = self._vault.decrypt(attempt.verifier_cipher)
        oauth = self.oauth(provider)
        try:
            grant = await oauth.exchange_code(
                code=code,
                redirect_uri=self.redirect_uri(provider),
                code_verifier=secrets["code_verifier"],
            )
            client = calendar_client(
                self._apps[provider], self._http, StaticToken(grant.access_token)
            )
            owner = await client.calendar_owner()
        except ProviderError as exc:
            raise LinkError(f"{provider.label} did not complete the link: {exc}") from None
        account = await accounts_db.get_account(self._pool, attempt.account_id)
        if account is None or account.integration_provider != provider.value:
            raise LinkError(f"Your account no longer uses {provider.label}; nothing was linked.")
        tokens = {"access_token": grant.access_token, "refresh_token": grant.refresh_token}
        try:
            return await connections_db.save_link(
                self._pool,
                account_id=attempt.account_id,
                user_id=attempt.user_id,
                provider=provider.value,
                calendar_email=owner,
                token_ciphertext=self._vault.encrypt(tokens),
                token_expires_at=grant.expires_at,
            )
        except DuplicateError:
            raise LinkError(
                f"The calendar of {owner} is already linked by another user of your account."
            ) from None

    @staticmethod
    def _checked(result: LinkState | StateProblem, provider: ProviderName) -> LinkState:
        if isinstance(result, StateProblem):
            raise LinkError(_STATE_MESSAGES[result])
        if result.provider != provider.value:
            raise LinkError(_STATE_MESSAGES[StateProblem.UNKNOWN])
        return result

    async def disconnect(self, row: ConnectionRow) -> None:
        """Revoke the grant at the provider (best effort) and forget the tokens; meetings stay."""
        if row.token_ciphertext is not None:
            tokens = self._vault.decrypt(row.token_ciphertext)
            provider = ProviderName(row.provider)
            if provider in self._apps:
                token = tokens.get("refresh_token") or tokens.get("access_token")
                if token:
                    await self.oauth(provider).revoke(token)
        await connections_db.disconnect(self._pool, row.id)
