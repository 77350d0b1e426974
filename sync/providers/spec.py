"""What a provider package exports: one `ProviderSpec`, everything Chronik must know of it.

The rest of Chronik never asks which provider it talks to: settings, services, linking,
webhook routes, the CLI's sandbox command, the GraphQL provider enum and the live page all
iterate the specs of `sync.providers.registry`.

A spec says
- `name` (stored in the database, part of URLs) and `label` (what a person reads);
- `settings`: its own pydantic-settings class (its own `CHRONIK_<NAME>_` prefix), and
  `configure`, which turns those settings (and the URL of a sandbox `chronik serve` started
  for it, if any) into the deployment's `ProviderApp`, or None when it is not configured;
- `linking`: `OAuthLinking` (scopes, authorize parameters, permission labels) or
  `CredentialLinking` (the fields a person types, and a check at link time that returns the
  calendar's owner and what to store encrypted);
- `client`: the factory of its `CalendarClient`;
- `push`: how it verifies the change notifications POSTed to `/webhooks/<name>` (or None:
  polling only);
- `sandbox`: where its local sandbox is built (or None);
- `never_people_domains`: the domains of addresses the provider gives things that are never
  people (rooms, resources, shared calendars); the sync treats them like the account's own,
  besides the deployment's `CHRONIK_EXCLUDED_EMAIL_DOMAINS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import asyncpg
from pydantic_settings import BaseSettings, SettingsConfigDict

from sync.http import RetryPolicy
from sync.provider import CalendarClient, ProviderError
from sync.tokens import AccessToken, TokenSource

ENV_PREFIX = "CHRONIK_"
# The client id of every sandbox's OAuth app.
SANDBOX_CLIENT_ID = "chronik-sandbox"


class ProviderSettings(BaseSettings):
    """Base of a provider's settings: read from the environment (and `.env`) under the
    provider's own prefix, e.g. `CHRONIK_GOOGLE_`. A field may name its variable outside the
    prefix with `validation_alias` (the sandbox ports: `CHRONIK_SANDBOX_GOOGLE_PORT`)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )


@dataclass(frozen=True)
class OAuthApp:
    """A provider's OAuth client registration and endpoints, as Chronik uses them."""

    client_id: str
    client_secret: str | None
    authorize_url: str
    token_url: str
    revoke_url: str | None
    scopes: tuple[str, ...]
    # Extra authorization parameters, e.g. Google's `access_type=offline` for refresh tokens.
    authorize_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderApp:
    """A provider as this deployment uses it: its API, how it signs in, whether a sandbox."""

    provider: str  # the spec's name
    api_url: str
    oauth: OAuthApp | None = None  # None: a provider whose users type credentials
    sandbox: bool = False
    # Provider-specific values its client needs (e.g. a CalDAV server's base URL).
    options: Mapping[str, str] = field(default_factory=dict)
    # How often its connections are polled when that is more often than the workers' poll
    # (a provider without push); None: the workers' interval.
    poll_seconds: float | None = None


@dataclass(frozen=True)
class OAuthLinking:
    """Linking through the provider's consent page (authorization code flow with PKCE)."""

    scopes: tuple[str, ...]
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    # How the provider's consent page names a permission, so a person recognises the one
    # they unticked.
    permission_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CredentialField:
    """One value a person types to link a calendar (server URL, username, app password)."""

    name: str  # the key in `linkCalendarWithCredentials(credentials: [{name, value}])`
    label: str
    secret: bool = False  # a password: the page masks it, and it is only stored encrypted
    max_length: int = 1024


@dataclass(frozen=True)
class CheckedCredentials:
    """What a successful credential check found: the calendar's owner (lower-cased address)
    and what to store encrypted for later requests."""

    owner: str
    secrets: Mapping[str, str]


class CredentialsRefused(ProviderError):
    """The provider refused the credentials (wrong password, no such calendar); the message
    is for the person who typed them, `field` names the typed value it is about (None: the
    whole of them)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, status=status, reason=reason)
        self.field = field


# (the deployment's app, the HTTP session, the typed values) → the owner and the secrets;
# raises `CredentialsRefused`, or `ProviderError` when the provider cannot answer.
CredentialCheck = Callable[
    [ProviderApp, aiohttp.ClientSession, Mapping[str, str]], Awaitable[CheckedCredentials]
]


@dataclass(frozen=True)
class CredentialLinking:
    """Linking with values a person types; checked at once, stored encrypted."""

    fields: tuple[CredentialField, ...]
    check: CredentialCheck
    # The stored secrets → the token every request carries (e.g. HTTP Basic), with in its
    # `details` what the client needs besides (e.g. the calendar's URL on the user's server):
    # the client factory gets the token source, never the stored secrets themselves.
    authorization: Callable[[Mapping[str, str]], AccessToken]


class ClientFactory(Protocol):
    def __call__(
        self,
        app: ProviderApp,
        http: aiohttp.ClientSession,
        tokens: TokenSource,
        policy: RetryPolicy | None,
    ) -> CalendarClient: ...


@dataclass(frozen=True)
class WebhookRequest:
    """A POST to `/webhooks/<name>`, free of any web framework."""

    headers: Mapping[str, str]  # lower-cased names
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    text: str | None = None  # a plain-text body (Graph's validation handshake)


# Verify one notification (its channel's token) and queue a sync; never sync inline.
PushVerifier = Callable[[asyncpg.Pool, WebhookRequest], Awaitable[WebhookAnswer]]


@dataclass(frozen=True)
class SandboxSpec:
    """A provider's local sandbox: what `chronik serve` starts when the provider is not
    configured otherwise, and `chronik sandbox` runs on its own.

    `factory` is a dotted path (`module:function`, the function taking `seed=` and returning
    an aiohttp application), imported only when a sandbox is started: the sandboxes import
    the providers' wire types, so a direct import from here would run an arrow from `sync/`
    up into `sandboxes/` (and load them into deployments that talk to the real provider)."""

    factory: str
    # Whether `chronik serve` runs it, given the provider's settings (no real app, and no
    # sandbox running elsewhere), and on which port; the port's variable, for messages.
    wanted: Callable[[Any], bool]
    port: Callable[[Any], int]
    port_variable: str
    default_port: int


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    label: str
    settings: type[ProviderSettings]
    # (its settings, the URL of the sandbox `chronik serve` started for it or None) → the
    # deployment's app, or None when the provider is not configured.
    configure: Callable[[Any, str | None], ProviderApp | None]
    linking: OAuthLinking | CredentialLinking
    client: ClientFactory
    push: PushVerifier | None = None
    sandbox: SandboxSpec | None = None
    # The provider's event links and ids (`chronik explain`, `explainEvent`):
    # text → the event id, or None when it is not one of the provider's links.
    event_id_from_link: Callable[[str], str | None] = lambda text: None
    is_event_id: Callable[[str], bool] = lambda text: bool(text)
    # Lower-case domains (and their subdomains) whose addresses are never people: an
    # attendee there is never a contact nor logged (rule 4), whichever calendar it is in.
    never_people_domains: frozenset[str] = frozenset()
