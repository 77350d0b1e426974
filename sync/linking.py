"""Linking a user's primary calendar: start an OAuth attempt, open it in the starting user's
browser, complete it at the callback; or link at once with credentials the user typed; and
disconnect.

How a provider links is in its spec (`OAuthLinking` or `CredentialLinking`).

The flow is the authorization code flow with PKCE (S256), bound to the Chronik user who
started it:
1. `start` stores a single-use, expiring `state` for the user with an encrypted PKCE verifier
   and returns Chronik's own `/oauth/{provider}/start?state=…` URL.
2. That page asks the browser to prove it is the starting user's (their API token, sent from
   Chronik's own origin). Only then `open_in_browser` binds the attempt to the browser (a
   random nonce in an HttpOnly cookie, its hash in the database) and sends it on to the
   provider's consent page. A link URL opened by anyone else goes nowhere.
3. The provider redirects to `/oauth/{provider}/callback`; `complete` requires the bound
   browser before it uses the state (another browser burns nothing), exchanges the code with
   the verifier, checks every calendar permission was granted, asks the provider whose primary
   calendar it is, and stores the encrypted tokens — unless that calendar is linked elsewhere.

With typed credentials, `link_with_credentials` checks them with the provider at once (its
spec's check answers whose calendar it is and what to keep) and stores them encrypted.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

import aiohttp
import asyncpg
from authlib.common.security import generate_token

from db import accounts as accounts_db
from db import connections as connections_db
from db import link_states, sync_state
from db.connections import ConnectionRow
from db.errors import DuplicateError
from db.link_states import LinkState, StateProblem
from sync.clients import calendar_client
from sync.credentials import Credentials, StaticToken
from sync.oauth_client import OAuthClient, new_code_verifier
from sync.provider import ProviderError, PushChannel
from sync.providers import registry
from sync.providers.spec import (
    CredentialLinking,
    CredentialsRefused,
    OAuthLinking,
    ProviderApp,
)
from sync.token_vault import TokenVault

log = logging.getLogger(__name__)

LINK_TTL = timedelta(minutes=10)
BROWSER_COOKIE = "chronik_link"


class LinkProblem(StrEnum):
    """Why a link attempt that reached the provider ended without a link."""

    CONFLICT = "conflict"  # the calendar is linked in another place already
    PERMISSION_MISSING = "permission_missing"  # a calendar permission was not granted
    DECLINED = "declined"  # the person did not allow access
    PROVIDER_ERROR = "provider_error"  # the provider refused or failed
    INTEGRATION_CHANGED = "integration_changed"  # the account changed provider meanwhile
    CREDENTIALS_REFUSED = "credentials_refused"  # the provider refused what the person typed


class LinkError(Exception):
    """The link cannot be completed; the message is for the person in front of the browser.

    `problem` is set once the attempt was used (it is remembered for `calendarLinkAttempt`).
    """

    def __init__(
        self, message: str, problem: LinkProblem | None = None, *, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.problem = problem
        # The typed credential the refusal is about (`CredentialsRefused.field`).
        self.field = field


_STATE_MESSAGES = {
    StateProblem.UNKNOWN: "This calendar link is not valid. Start linking again from Chronik.",
    StateProblem.USED: "This calendar link was already used. Start linking again from Chronik.",
    StateProblem.EXPIRED: "This calendar link has expired (links last 10 minutes). "
    "Start linking again from Chronik.",
    StateProblem.OTHER_USER: "This calendar link was started by another Chronik user: only they "
    "can continue it, signed in to Chronik in their own browser. Nothing was linked. To link "
    "your own calendar, start linking from Chronik.",
    StateProblem.OTHER_BROWSER: "This calendar link was started by another user or in another "
    "browser. Nothing was linked. Start linking again from Chronik in this browser.",
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
        apps: Mapping[str, ProviderApp],
        http: aiohttp.ClientSession,
        public_url: str,
        credentials: Credentials | None = None,
    ) -> None:
        self._pool = pool
        self._vault = vault
        self._apps = apps
        self._http = http
        self._public_url = public_url.rstrip("/")
        # Stored connections' tokens (refreshed as needed), to stop push on disconnect.
        self._credentials = credentials

    def oauth(self, provider: str) -> OAuthClient:
        """The OAuth client of a configured provider that links through a consent page."""
        oauth = self._apps[provider].oauth
        if oauth is None:
            raise LinkError(f"{_label(provider)} does not link through a consent page.")
        return OAuthClient(oauth, self._http, label=_label(provider))

    def redirect_uri(self, provider: str) -> str:
        return f"{self._public_url}/oauth/{provider}/callback"

    async def start(
        self, *, user_id: int, provider: str, login_hint: str | None = None
    ) -> StartedLink:
        """Record a new attempt for the user and return the URL the browser must open."""
        state = generate_token(43)
        expires_at = datetime.now(UTC) + LINK_TTL
        verifier = self._vault.encrypt({"code_verifier": new_code_verifier(), "hint": login_hint})
        await link_states.create_state(
            self._pool,
            state_hash=_hash(state),
            user_id=user_id,
            provider=provider,
            verifier_cipher=verifier,
            expires_at=expires_at,
        )
        query = urlencode({"state": state})
        return StartedLink(f"{self._public_url}/oauth/{provider}/start?{query}", expires_at)

    async def check_open(self, provider: str, state: str) -> None:
        """`LinkError` when the attempt can no longer be continued (nothing changes)."""
        problem = await link_states.check_state(self._pool, _hash(state))
        if problem is not None:
            raise LinkError(_STATE_MESSAGES[problem])

    async def open_in_browser(self, provider: str, state: str, *, user_id: int) -> BrowserBinding:
        """Bind the attempt to this browser, which proved to be `user_id`'s: the provider URL
        to go on to and the cookie value. `LinkError` (nothing bound) for anyone but the user
        who started the attempt."""
        nonce = generate_token(32)
        bound = await link_states.bind_browser(self._pool, _hash(state), _hash(nonce), user_id)
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
        self, provider: str, *, state: str, code: str, browser_cookie: str | None
    ) -> ConnectionRow:
        """Finish the attempt: `LinkError` with a message for the person, nothing stored."""
        attempt = await self._consume(provider, state, browser_cookie)
        try:
            row = await self._link(provider, attempt, code)
        except LinkError as exc:
            await link_states.record_outcome(
                self._pool, _hash(state), linked=False, problem=exc.problem, message=str(exc)
            )
            raise
        await link_states.record_outcome(
            self._pool, _hash(state), linked=True, calendar_email=row.calendar_email
        )
        # Sync now, not at the next poll: a relinked calendar (after re-authentication) has
        # missed changes, and its run registers push again.
        await sync_state.request_sync(self._pool, row.id)
        return row

    async def decline(
        self, provider: str, *, state: str, browser_cookie: str | None, message: str
    ) -> None:
        """The provider sent the browser back without a code (the person said no): remember
        it for the user's own browser; another browser changes nothing."""
        try:
            await self._consume(provider, state, browser_cookie)
        except LinkError:
            return
        await link_states.record_outcome(
            self._pool, _hash(state), linked=False, problem=LinkProblem.DECLINED, message=message
        )

    async def _consume(self, provider: str, state: str, browser_cookie: str | None) -> LinkState:
        browser = _hash(browser_cookie) if browser_cookie else None
        async with self._pool.acquire() as conn:
            used = await link_states.consume_state(conn, _hash(state), browser)
        return self._checked(used, provider)

    async def _link(self, provider: str, attempt: LinkState, code: str) -> ConnectionRow:
        secrets = self._vault.decrypt(attempt.verifier_cipher)
        oauth = self.oauth(provider)
        try:
            grant = await oauth.exchange_code(
                code=code,
                redirect_uri=self.redirect_uri(provider),
                code_verifier=secrets["code_verifier"],
            )
            linking = registry.spec(provider).linking
            assert isinstance(linking, OAuthLinking)
            require_permissions(linking, grant.scope)
            client = calendar_client(
                self._apps[provider], self._http, StaticToken(grant.access_token)
            )
            owner = await client.calendar_owner()
        except MissingPermission as exc:
            raise LinkError(str(exc), LinkProblem.PERMISSION_MISSING) from None
        except ProviderError as exc:
            raise LinkError(
                f"{_label(provider)} did not complete the link: {exc}", LinkProblem.PROVIDER_ERROR
            ) from None
        tokens = {"access_token": grant.access_token, "refresh_token": grant.refresh_token}
        return await self._save(
            provider,
            account_id=attempt.account_id,
            user_id=attempt.user_id,
            owner=owner,
            secrets=tokens,
            expires_at=grant.expires_at,
        )

    async def link_with_credentials(
        self, *, account_id: int, user_id: int, provider: str, values: Mapping[str, str]
    ) -> ConnectionRow:
        """Link the user's calendar of a provider that links with typed credentials: check
        them with the provider now, store what its check returned (encrypted), and sync.
        `LinkError` with a message for the person (nothing stored) when the provider refuses
        them, cannot answer, or the calendar is linked elsewhere. `values` hold exactly the
        spec's fields (checked by the caller)."""
        linking = registry.spec(provider).linking
        assert isinstance(linking, CredentialLinking)
        try:
            checked = await linking.check(self._apps[provider], self._http, values)
        except CredentialsRefused as exc:
            raise LinkError(str(exc), LinkProblem.CREDENTIALS_REFUSED, field=exc.field) from None
        except ProviderError as exc:
            raise LinkError(
                f"{_label(provider)} did not complete the link: {exc}", LinkProblem.PROVIDER_ERROR
            ) from None
        row = await self._save(
            provider,
            account_id=account_id,
            user_id=user_id,
            owner=checked.owner.lower(),
            secrets=dict(checked.secrets),
            expires_at=None,
        )
        await sync_state.request_sync(self._pool, row.id)
        return row

    async def _save(
        self,
        provider: str,
        *,
        account_id: int,
        user_id: int,
        owner: str,
        secrets: Mapping[str, str | None],
        expires_at: datetime | None,
    ) -> ConnectionRow:
        """Store the link, unless the account changed provider meanwhile or the calendar is
        linked elsewhere (`LinkError`)."""
        account = await accounts_db.get_account(self._pool, account_id)
        if account is None or account.integration_provider != provider:
            raise LinkError(
                f"Your account no longer uses {_label(provider)}; nothing was linked.",
                LinkProblem.INTEGRATION_CHANGED,
            )
        try:
            saved = await connections_db.save_link(
                self._pool,
                account_id=account_id,
                user_id=user_id,
                provider=provider,
                calendar_email=owner,
                token_ciphertext=self._vault.encrypt(dict(secrets)),
                token_expires_at=expires_at,
            )
        except DuplicateError:
            raise LinkError(
                f"The calendar of {owner} is already linked to Chronik by someone else (in your "
                "account or another one). A calendar can be linked in one place at a time: it "
                "must be disconnected there first. Nothing was linked.",
                LinkProblem.CONFLICT,
            ) from None
        if saved.last_synced_at is not None:  # a relink: sync now, with a new push channel
            await sync_state.relinked(self._pool, saved.id)
        return saved

    def chosen_calendar(self, row: ConnectionRow) -> Mapping[str, str]:
        """What a provider linked with typed credentials says of the calendar it linked: the
        `calendar_url`, `calendar_name` and `chosen_by` of its `authorization` details (empty
        for OAuth providers, whose calendar is the account's primary one, and when unlinked)."""
        linking = registry.spec(row.provider).linking
        if not isinstance(linking, CredentialLinking) or row.token_ciphertext is None:
            return {}
        details = linking.authorization(self._vault.decrypt(row.token_ciphertext)).details
        return {
            key: details[key]
            for key in ("calendar_url", "calendar_name", "chosen_by")
            if details.get(key)
        }

    async def latest_attempt(self, user_id: int) -> link_states.AttemptRow | None:
        return await link_states.latest_attempt(self._pool, user_id)

    @staticmethod
    def _checked(result: LinkState | StateProblem, provider: str) -> LinkState:
        if isinstance(result, StateProblem):
            raise LinkError(_STATE_MESSAGES[result])
        if result.provider != provider:
            raise LinkError(_STATE_MESSAGES[StateProblem.UNKNOWN])
        return result

    async def disconnect(self, row: ConnectionRow) -> None:
        """Stop push and revoke the grant at the provider (best effort), then forget the tokens
        and the push registration; meetings stay."""
        await self._stop_push(row)
        if row.token_ciphertext is not None:
            tokens = self._vault.decrypt(row.token_ciphertext)
            app = self._apps.get(row.provider)
            if app is not None and app.oauth is not None:
                token = tokens.get("refresh_token") or tokens.get("access_token")
                if token:
                    await self.oauth(row.provider).revoke(token)
        await sync_state.forget_push(self._pool, row.id)
        await connections_db.disconnect(self._pool, row.id)

    async def _stop_push(self, row: ConnectionRow) -> None:
        """Stop the connection's push channel or subscription, so the provider stops calling
        (Google channels.stop, Graph DELETE subscription). Failures are logged: the
        registration expires on its own, and its calls are refused once disconnected."""
        app = self._apps.get(row.provider)
        if self._credentials is None or app is None:
            return
        stored = await sync_state.stored_push(self._pool, row.id)
        if stored is None:
            return
        client = calendar_client(app, self._http, self._credentials.for_connection(row.id))
        channel = PushChannel(stored.channel_id, stored.resource_id, stored.expires_at)
        try:
            await client.stop(channel)
        except ProviderError as exc:
            log.warning("connection %s: could not stop push on disconnect: %s", row.id, exc)


class MissingPermission(ProviderError):
    """The person unticked a calendar permission on the consent page."""


# Scopes that only sign the user in; every other scope Chronik asks for is a calendar
# permission it cannot work without.
SIGN_IN_SCOPES = frozenset({"openid", "email", "profile", "offline_access"})


def _label(provider: str) -> str:
    return registry.spec(provider).label


def require_permissions(linking: OAuthLinking, granted: str | None) -> None:
    """`MissingPermission` naming every calendar permission the grant lacks. Providers report
    Graph scopes with their resource prefix (`https://graph.microsoft.com/Calendars.ReadWrite`)
    and in any case; a response without `scope` granted what was asked."""
    if granted is None:
        return
    have = {g.lower() for g in granted.split()}
    missing = [
        scope
        for scope in linking.scopes
        if scope not in SIGN_IN_SCOPES
        and scope.lower() not in have
        and not any(g.endswith("/" + scope.lower()) for g in have)
    ]
    if missing:
        labels = linking.permission_labels
        named = "; ".join(f"{labels[s]} ({s})" if s in labels else s for s in missing)
        raise MissingPermission(
            f"You did not allow Chronik to: {named}. Chronik needs every calendar permission "
            "it asks for: link again and leave them all ticked. Nothing was linked."
        )
