"""Google Calendar as Chronik uses it: settings (`CHRONIK_GOOGLE_*`), OAuth, client, push,
sandbox."""

from __future__ import annotations

import aiohttp
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sync.http import RetryPolicy
from sync.provider import CalendarClient
from sync.providers.google import links, push
from sync.providers.google.client import LABEL, GoogleCalendarClient, is_event_id
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

SCOPES = (
    "openid",
    "email",
    # Read and write events of the user's calendars; Chronik only touches the primary one.
    "https://www.googleapis.com/auth/calendar.events",
    # Read the primary calendar's id (its owner's address) and free/busy.
    "https://www.googleapis.com/auth/calendar.readonly",
)

LINKING = OAuthLinking(
    scopes=SCOPES,
    # offline: a refresh token; consent: Google only returns one when it asks.
    authorize_params={
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    },
    permission_labels={
        "https://www.googleapis.com/auth/calendar.events": "View and edit events on all your "
        "calendars",
        "https://www.googleapis.com/auth/calendar.readonly": "See and download any calendar you "
        "can access using your Google Calendar",
    },
)


class GoogleSettings(ProviderSettings):
    """`CHRONIK_GOOGLE_*`. Without a client id, Google is Chronik's local sandbox."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}GOOGLE_")

    client_id: str | None = None
    client_secret: SecretStr | None = None
    # Base URLs; unset: the real Google when a client id is set, else the sandbox.
    api_url: str | None = None
    auth_url: str | None = None
    token_url: str | None = None
    revoke_url: str | None = None
    # A sandbox running elsewhere (`chronik sandbox`); unset: `chronik serve` starts its own.
    sandbox_url: str | None = None
    sandbox_port: int = Field(
        default=8701, ge=1, le=65535, validation_alias=f"{ENV_PREFIX}SANDBOX_GOOGLE_PORT"
    )


def configure(settings: GoogleSettings, local_sandbox: str | None) -> ProviderApp | None:
    """Real endpoints when a client id is configured, else a sandbox (the one at
    `CHRONIK_GOOGLE_SANDBOX_URL`, or the one `chronik serve` started); explicit URL settings
    override either. None: neither."""
    sandbox = settings.sandbox_url or local_sandbox
    real = bool(settings.client_id)
    if not real and not sandbox:
        return None
    auth_base = "https://accounts.google.com" if real else sandbox
    token_base = "https://oauth2.googleapis.com" if real else sandbox
    secret = settings.client_secret
    return ProviderApp(
        provider="google",
        api_url=settings.api_url or ("https://www.googleapis.com" if real else str(sandbox)),
        oauth=OAuthApp(
            client_id=settings.client_id or SANDBOX_CLIENT_ID,
            client_secret=secret.get_secret_value() if secret is not None else None,
            authorize_url=settings.auth_url or f"{auth_base}/o/oauth2/v2/auth",
            token_url=settings.token_url or f"{token_base}/token",
            revoke_url=settings.revoke_url or f"{token_base}/revoke",
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
    return GoogleCalendarClient(http, app.api_url, tokens, policy)


SPEC = ProviderSpec(
    name="google",
    label=LABEL,
    settings=GoogleSettings,
    configure=configure,
    linking=LINKING,
    client=client,
    push=push.receive,
    sandbox=SandboxSpec(
        factory="sandboxes.google.app:create_google_sandbox",
        wanted=lambda s: not s.client_id and not s.sandbox_url,
        port=lambda s: s.sandbox_port,
        port_variable=f"{ENV_PREFIX}SANDBOX_GOOGLE_PORT",
        default_port=8701,
    ),
    event_id_from_link=links.event_id_from_link,
    is_event_id=is_event_id,
    # Rooms and resources booked as attendees (`<id>@resource.calendar.google.com`), and
    # secondary or shared calendars invited to a meeting (`<id>@group.calendar.google.com`).
    never_people_domains=frozenset({"resource.calendar.google.com", "group.calendar.google.com"}),
)
