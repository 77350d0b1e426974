"""Microsoft 365 (Graph) as Chronik uses it: settings (`CHRONIK_MICROSOFT_*`), OAuth with the
identity platform, client, push (Graph subscriptions), sandbox."""

from __future__ import annotations

import aiohttp
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sync.http import RetryPolicy
from sync.provider import CalendarClient
from sync.providers.microsoft import links, push
from sync.providers.microsoft.client import LABEL, GraphCalendarClient
from sync.providers.spec import (
    ENV_PREFIX,
    SANDBOX_CLIENT_ID,
    OAuthApp,
    OAuthLinking,
    ProviderApp,
    ProviderSettings,
    ProviderSpec,
    SandboxSpec,
)
from sync.tokens import TokenSource

SCOPES = ("offline_access", "openid", "email", "User.Read", "Calendars.ReadWrite")

LINKING = OAuthLinking(
    scopes=SCOPES,
    authorize_params={"response_mode": "query", "prompt": "select_account"},
    permission_labels={
        "User.Read": "Sign you in and read your profile",
        "Calendars.ReadWrite": "Have full access to your calendars",
    },
)


class MicrosoftSettings(ProviderSettings):
    """`CHRONIK_MICROSOFT_*`. Without a client id, Microsoft 365 is Chronik's local sandbox."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}MICROSOFT_")

    client_id: str | None = None
    client_secret: SecretStr | None = None
    tenant: str = "common"
    # Base URLs; unset: the real Microsoft when a client id is set, else the sandbox.
    graph_url: str | None = None
    login_url: str | None = None
    # A sandbox running elsewhere (`chronik sandbox`); unset: `chronik serve` starts its own.
    sandbox_url: str | None = None
    sandbox_port: int = Field(
        default=8702, ge=1, le=65535, validation_alias=f"{ENV_PREFIX}SANDBOX_MICROSOFT_PORT"
    )


def configure(settings: MicrosoftSettings, local_sandbox: str | None) -> ProviderApp | None:
    """Real endpoints when a client id is configured, else a sandbox (the one at
    `CHRONIK_MICROSOFT_SANDBOX_URL`, or the one `chronik serve` started); explicit URL
    settings override either. None: neither."""
    sandbox = settings.sandbox_url or local_sandbox
    real = bool(settings.client_id)
    if not real and not sandbox:
        return None
    login = settings.login_url or ("https://login.microsoftonline.com" if real else str(sandbox))
    tenant = settings.tenant
    secret = settings.client_secret
    return ProviderApp(
        provider="microsoft",
        api_url=settings.graph_url or ("https://graph.microsoft.com" if real else str(sandbox)),
        oauth=OAuthApp(
            client_id=settings.client_id or SANDBOX_CLIENT_ID,
            client_secret=secret.get_secret_value() if secret is not None else None,
            authorize_url=f"{login}/{tenant}/oauth2/v2.0/authorize",
            token_url=f"{login}/{tenant}/oauth2/v2.0/token",
            # The identity platform has no endpoint to revoke one app's grant.
            revoke_url=None,
            scopes=LINKING.scopes,
            authorize_params=LINKING.authorize_params,
        ),
        sandbox=not real,
    )


def client(
    app: ProviderApp,
    http: aiohttp.ClientSession,
    tokens: TokenSource,
    policy: RetryPolicy | None,
) -> CalendarClient:
    return GraphCalendarClient(http, app.api_url, tokens, policy)


SPEC = ProviderSpec(
    name="microsoft",
    label=LABEL,
    settings=MicrosoftSettings,
    configure=configure,
    linking=LINKING,
    client=client,
    push=push.receive,
    sandbox=SandboxSpec(
        factory="sandboxes.microsoft.app:create_microsoft_sandbox",
        wanted=lambda s: not s.client_id and not s.sandbox_url,
        port=lambda s: s.sandbox_port,
        port_variable=f"{ENV_PREFIX}SANDBOX_MICROSOFT_PORT",
        default_port=8702,
    ),
    event_id_from_link=links.event_id_from_link,
    is_event_id=links.is_event_id,
)
