"""Which provider endpoints this deployment uses: the real ones, or the local sandboxes."""

from __future__ import annotations

from collections.abc import Mapping

from app.settings import Settings
from sync.provider import (
    GOOGLE_SCOPES,
    MICROSOFT_SCOPES,
    SANDBOX_CLIENT_ID,
    ProviderApp,
    ProviderName,
)


def _secret(value: object) -> str | None:
    return value.get_secret_value() if value is not None else None  # type: ignore[attr-defined]


def sandbox_wanted(settings: Settings) -> list[ProviderName]:
    """Providers without credentials nor a sandbox URL: `chronik serve` runs their sandbox."""
    wanted = []
    if not settings.google_client_id and not settings.google_sandbox_url:
        wanted.append(ProviderName.GOOGLE)
    if not settings.microsoft_client_id and not settings.microsoft_sandbox_url:
        wanted.append(ProviderName.MICROSOFT)
    return wanted


def provider_apps(
    settings: Settings, local_sandboxes: Mapping[ProviderName, str] | None = None
) -> dict[ProviderName, ProviderApp]:
    """Each provider's app: real endpoints when a client id is configured, else a sandbox
    (the one at `CHRONIK_*_SANDBOX_URL`, or the one `chronik serve` started). Explicit
    `CHRONIK_*_URL` settings override either."""
    local = dict(local_sandboxes or {})
    apps: dict[ProviderName, ProviderApp] = {}

    google_sandbox = settings.google_sandbox_url or local.get(ProviderName.GOOGLE)
    if settings.google_client_id or google_sandbox:
        real = bool(settings.google_client_id)
        auth_base = "https://accounts.google.com" if real else google_sandbox
        token_base = "https://oauth2.googleapis.com" if real else google_sandbox
        apps[ProviderName.GOOGLE] = ProviderApp(
            provider=ProviderName.GOOGLE,
            client_id=settings.google_client_id or SANDBOX_CLIENT_ID,
            client_secret=_secret(settings.google_client_secret),
            authorize_url=settings.google_auth_url or f"{auth_base}/o/oauth2/v2/auth",
            token_url=settings.google_token_url or f"{token_base}/token",
            revoke_url=settings.google_revoke_url or f"{token_base}/revoke",
            api_url=(
                settings.google_api_url
                or ("https://www.googleapis.com" if real else str(google_sandbox))
            ),
            scopes=GOOGLE_SCOPES,
            # offline: a refresh token; consent: Google only returns one when it asks.
            authorize_params={
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
            },
            sandbox=not real,
        )

    microsoft_sandbox = settings.microsoft_sandbox_url or local.get(ProviderName.MICROSOFT)
    if settings.microsoft_client_id or microsoft_sandbox:
        real = bool(settings.microsoft_client_id)
        login = settings.microsoft_login_url or (
            "https://login.microsoftonline.com" if real else str(microsoft_sandbox)
        )
        tenant = settings.microsoft_tenant
        apps[ProviderName.MICROSOFT] = ProviderApp(
            provider=ProviderName.MICROSOFT,
            client_id=settings.microsoft_client_id or SANDBOX_CLIENT_ID,
            client_secret=_secret(settings.microsoft_client_secret),
            authorize_url=f"{login}/{tenant}/oauth2/v2.0/authorize",
            token_url=f"{login}/{tenant}/oauth2/v2.0/token",
            # The identity platform has no endpoint to revoke one app's grant.
            revoke_url=None,
            api_url=settings.microsoft_graph_url
            or ("https://graph.microsoft.com" if real else str(microsoft_sandbox)),
            scopes=MICROSOFT_SCOPES,
            authorize_params={"response_mode": "query", "prompt": "select_account"},
            sandbox=not real,
        )
    return apps
