"""The OAuth 2.0 client side of linking: authorization URLs with PKCE, code exchange, refresh
and revocation. authlib builds the requests; aiohttp carries them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from sync.provider import NeedsReauth, ProviderError, ProviderUnavailable
from sync.providers.spec import OAuthApp

_TIMEOUT = aiohttp.ClientTimeout(total=20)
_FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


# Token errors only the user can fix by signing in again, and why, as the person reads it.
# Microsoft's identity platform answers a refresh with interaction_required (a new MFA or
# Conditional Access requirement) or consent_required (consent withdrawn); retrying cannot help.
# https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
_USER_MUST_RETURN = {
    "invalid_grant": "access was revoked or expired",
    "interaction_required": "your organisation now asks you to sign in again",
    "consent_required": "the permission to read your calendar was withdrawn",
    "login_required": "you need to sign in again",
}


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    # What the user granted, as the provider reports it; None when the response leaves it out
    # (RFC 6749 5.1: then it is what was asked for).
    scope: str | None = None


def new_code_verifier() -> str:
    """A PKCE code verifier: 64 characters from the unreserved set (RFC 7636 allows 43-128)."""
    return generate_token(64)


class OAuthClient:
    def __init__(self, app: OAuthApp, http: aiohttp.ClientSession, *, label: str) -> None:
        self.app = app
        self.label = label  # the provider's, for messages
        self._http = http

    def authorization_url(
        self, *, redirect_uri: str, state: str, code_verifier: str, login_hint: str | None = None
    ) -> str:
        """The provider's consent page for the authorization code flow with PKCE (S256)."""
        extra = dict(self.app.authorize_params)
        if login_hint:
            extra["login_hint"] = login_hint
        uri: str = prepare_grant_uri(
            self.app.authorize_url,
            self.app.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=" ".join(self.app.scopes),
            state=state,
            code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
            **extra,
        )
        return uri

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str
    ) -> TokenGrant:
        """Trade an authorization code for tokens; `ProviderError` when the provider refuses."""
        body = prepare_token_request(
            "authorization_code",
            redirect_uri=redirect_uri,
            code=code,
            code_verifier=code_verifier,
            **self._client_auth(),
        )
        return await self._token_request(body, refresh_token=None)

    async def refresh(self, refresh_token: str) -> TokenGrant:
        """A fresh access token; `NeedsReauth` when the grant is revoked or expired.

        Providers may rotate refresh tokens (Microsoft does): the new one is returned, the old
        one kept when none came back (Google).
        """
        body = prepare_token_request(
            "refresh_token", refresh_token=refresh_token, **self._client_auth()
        )
        return await self._token_request(body, refresh_token=refresh_token)

    async def revoke(self, token: str) -> bool:
        """Revoke a token at the provider (best effort); False when it could not be done."""
        if not self.app.revoke_url:
            return False
        try:
            async with self._http.post(
                self.app.revoke_url, data={"token": token}, headers=_FORM, timeout=_TIMEOUT
            ) as response:
                return response.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False

    def _client_auth(self) -> dict[str, str]:
        auth = {"client_id": self.app.client_id}
        if self.app.client_secret:
            auth["client_secret"] = self.app.client_secret
        return auth

    async def _token_request(self, body: str, *, refresh_token: str | None) -> TokenGrant:
        try:
            async with self._http.post(
                self.app.token_url, data=body, headers=_FORM, timeout=_TIMEOUT
            ) as response:
                status = response.status
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = {}
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ProviderUnavailable(
                f"{self.label} did not answer the token request ({type(exc).__name__})"
            ) from None
        if not isinstance(payload, dict):
            payload = {}
        if status == 200 and "access_token" in payload:
            return TokenGrant(
                access_token=str(payload["access_token"]),
                refresh_token=payload.get("refresh_token") or refresh_token,
                expires_at=datetime.now(UTC)
                + timedelta(seconds=int(payload.get("expires_in", 3600))),
                scope=str(payload["scope"]) if payload.get("scope") else None,
            )
        error = str(payload.get("error") or f"http_{status}")
        if error in _USER_MUST_RETURN:
            raise NeedsReauth(
                f"{self.label} no longer accepts this calendar link "
                f"({_USER_MUST_RETURN[error]}): link the calendar again.",
                status=status,
                reason=error,
            )
        if status >= 500 or status == 429:
            raise ProviderUnavailable(
                f"{self.label} token endpoint failed with HTTP {status}", status=status
            )
        raise ProviderError(
            f"{self.label} refused the token request: {error}",
            status=status,
            reason=error,
        )
