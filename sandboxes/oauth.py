"""Provider-neutral OAuth 2.0 authorization-server state for the sandboxes (no HTTP).

Holds authorization codes (single use, PKCE-bound), refresh tokens and access tokens, all in
memory and generated from a seeded RNG, with an injectable clock for expiry. Each sandbox wraps it
in its provider's own endpoints and error format.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class OAuthError(Exception):
    """An RFC 6749 error: ``error`` is the code (invalid_grant, invalid_request, invalid_client,
    unsupported_grant_type, invalid_scope), ``description`` the human text."""

    def __init__(self, error: str, description: str = "", *, reason: str | None = None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        # A finer cause for providers that report it separately (Google answers a redirect_uri
        # differing from the authorize step's with error=redirect_uri_mismatch).
        self.reason = reason


@dataclass
class TokenSet:
    """What a token endpoint hands out. ``refresh_token`` is None when none is (re)issued."""

    access_token: str
    refresh_token: str | None
    expires_in: int
    scope: str
    token_type: str = "Bearer"


@dataclass
class _Code:
    email: str
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    method: str | None
    offline: bool
    expires_at: float


@dataclass
class _Refresh:
    email: str
    client_id: str
    scope: str
    expires_at: float | None
    revoked: bool = False
    access_tokens: set[str] = field(default_factory=set)


@dataclass
class _Access:
    email: str
    client_id: str
    scope: str
    expires_at: float
    refresh_token: str | None
    revoked: bool = False


_ALPHABET = string.ascii_letters + string.digits + "-_"


def pkce_s256(verifier: str) -> str:
    """The S256 code challenge for ``verifier`` (RFC 7636: BASE64URL(SHA256(verifier)), no pad)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthAuthority:
    """Codes, refresh tokens and access tokens of one sandbox provider.

    ``token_requests`` counts token-endpoint calls by grant_type; the HTTP layer increments it.
    ``rotate_refresh_tokens``: when True (Microsoft identity platform) a refresh grant returns a
    new refresh token too; when False (Google) it returns none and the old one stays in use.
    """

    def __init__(
        self,
        *,
        rng: random.Random,
        clock: Callable[[], float] = time.time,
        access_token_ttl: int = 3600,
        code_ttl: int = 600,
        refresh_token_ttl: int | None = None,
        rotate_refresh_tokens: bool = False,
        access_prefix: str = "at.",
        refresh_prefix: str = "rt.",
        code_prefix: str = "code.",
    ) -> None:
        self._rng = rng
        self._clock = clock
        self.access_token_ttl = access_token_ttl
        self.code_ttl = code_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self._prefixes = (access_prefix, refresh_prefix, code_prefix)
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._access: dict[str, _Access] = {}
        self.token_requests: collections.Counter[str] = collections.Counter()

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token ever issued, live or not (tests check none of them
        is stored in plaintext)."""
        return [*self._access, *self._refresh]

    def _token(self, prefix: str, length: int) -> str:
        return prefix + "".join(self._rng.choice(_ALPHABET) for _ in range(length))

    # -- authorization code grant ---------------------------------------------------------------

    def issue_code(
        self,
        *,
        email: str,
        client_id: str,
        redirect_uri: str,
        scope: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
        offline: bool | None = None,
    ) -> str:
        """Create a single-use authorization code for ``email``.

        ``offline`` decides whether exchanging it yields a refresh token; when None it is True iff
        the scope contains ``offline_access`` (Microsoft style; Google passes access_type=offline).
        """
        method = code_challenge_method or ("plain" if code_challenge else None)
        if method not in (None, "plain", "S256"):
            raise OAuthError("invalid_request", f"Unsupported code_challenge_method: {method}")
        if offline is None:
            offline = "offline_access" in scope.split()
        code = self._token(self._prefixes[2], 40)
        self._codes[code] = _Code(
            email=email,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            challenge=code_challenge,
            method=method,
            offline=offline,
            expires_at=self._clock() + self.code_ttl,
        )
        return code

    def exchange_code(
        self, *, code: str, client_id: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenSet:
        """Redeem a code (single use: a second redemption is invalid_grant) and verify PKCE."""
        entry = self._codes.pop(code, None)
        if entry is None or entry.expires_at <= self._clock():
            raise OAuthError("invalid_grant", "Malformed auth code.")
        if entry.client_id != client_id:
            raise OAuthError("invalid_grant", "Unauthorized client or scope in request.")
        if entry.redirect_uri != redirect_uri:
            raise OAuthError("invalid_grant", "Bad Request", reason="redirect_uri_mismatch")
        if entry.challenge is not None:
            if not code_verifier:
                raise OAuthError("invalid_grant", "Missing code verifier.")
            expected = pkce_s256(code_verifier) if entry.method == "S256" else code_verifier
            if not hmac.compare_digest(expected, entry.challenge):
                raise OAuthError("invalid_grant", "Invalid code verifier.")
        refresh_token: str | None = None
        if entry.offline:
            refresh_token = self._new_refresh(entry.email, client_id, entry.scope)
        access = self._new_access(entry.email, client_id, entry.scope, refresh_token)
        return TokenSet(access, refresh_token, self.access_token_ttl, entry.scope)

    # -- refresh grant --------------------------------------------------------------------------

    def refresh(self, *, refresh_token: str, client_id: str, scope: str | None = None) -> TokenSet:
        """A new access token for a live refresh token; invalid_grant when unknown/revoked/expired
        or issued to another client; invalid_scope when ``scope`` asks for more than granted."""
        entry = self._refresh.get(refresh_token)
        if (
            entry is None
            or entry.revoked
            or (entry.expires_at is not None and entry.expires_at <= self._clock())
        ):
            raise OAuthError("invalid_grant", "Token has been expired or revoked.")
        if entry.client_id != client_id:
            raise OAuthError("invalid_grant", "Unauthorized")
        granted = entry.scope
        if scope:
            if not set(scope.split()) <= set(entry.scope.split()):
                raise OAuthError("invalid_scope", "Some requested scopes were invalid.")
            granted = scope
        new_refresh: str | None = None
        owner = refresh_token
        if self.rotate_refresh_tokens:
            new_refresh = self._new_refresh(entry.email, client_id, entry.scope)
            owner = new_refresh
        access = self._new_access(entry.email, client_id, granted, owner)
        return TokenSet(access, new_refresh, self.access_token_ttl, granted)

    # -- revocation and control -----------------------------------------------------------------

    def revoke(self, token: str) -> bool:
        """Revoke an access or refresh token; revoking a refresh token kills its access tokens.
        False when the token is unknown."""
        if token in self._refresh:
            self._revoke_refresh(token)
            return True
        access = self._access.get(token)
        if access is None:
            return False
        access.revoked = True
        # Google's revoke on an access token also revokes the grant behind it.
        if access.refresh_token is not None:
            self._revoke_refresh(access.refresh_token)
        return True

    def _revoke_refresh(self, token: str) -> None:
        entry = self._refresh[token]
        entry.revoked = True
        for access in entry.access_tokens:
            self._access[access].revoked = True

    def revoke_user(self, email: str) -> None:
        """The user removed the app's access in the provider's UI: every token of theirs dies."""
        for token, entry in self._refresh.items():
            if entry.email == email:
                self._revoke_refresh(token)
        for access in self._access.values():
            if access.email == email:
                access.revoked = True

    def expire_access_tokens(self, email: str | None = None) -> None:
        """Make access tokens (all, or only ``email``'s) expired now, forcing 401 on next use."""
        now = self._clock()
        for access in self._access.values():
            if email is None or access.email == email:
                access.expires_at = min(access.expires_at, now)

    def has_grant(self, email: str, client_id: str) -> bool:
        """Whether ``email`` already gave ``client_id`` offline access (a live refresh token).
        Google only issues a new refresh token for such a user when ``prompt=consent``."""
        now = self._clock()
        return any(
            entry.email == email
            and entry.client_id == client_id
            and not entry.revoked
            and (entry.expires_at is None or entry.expires_at > now)
            for entry in self._refresh.values()
        )

    def email_for_access_token(self, token: str) -> str | None:
        """The user an access token belongs to; None when unknown, revoked or expired."""
        access = self._access.get(token)
        if access is None or access.revoked or access.expires_at <= self._clock():
            return None
        return access.email

    def scope_for_access_token(self, token: str) -> str | None:
        """The scope string granted to a live access token, None otherwise."""
        return self._access[token].scope if self.email_for_access_token(token) else None

    def issue_access_token(self, email: str, client_id: str = "sandbox", scope: str = "") -> str:
        """Mint an access token directly (tests and benchmarks that skip the browser flow)."""
        return self._new_access(email, client_id, scope, None)

    def reset(self) -> None:
        """Forget every code and token and zero the counters."""
        self._codes.clear()
        self._refresh.clear()
        self._access.clear()
        self.token_requests.clear()

    # -- internals ------------------------------------------------------------------------------

    def _new_refresh(self, email: str, client_id: str, scope: str) -> str:
        token = self._token(self._prefixes[1], 64)
        expires_at = None
        if self.refresh_token_ttl is not None:
            expires_at = self._clock() + self.refresh_token_ttl
        self._refresh[token] = _Refresh(email, client_id, scope, expires_at)
        return token

    def _new_access(self, email: str, client_id: str, scope: str, refresh: str | None) -> str:
        token = self._token(self._prefixes[0], 80)
        self._access[token] = _Access(
            email, client_id, scope, self._clock() + self.access_token_ttl, refresh
        )
        if refresh is not None:
            self._refresh[refresh].access_tokens.add(token)
        return token
