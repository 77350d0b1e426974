"""CalDAV as Chronik uses it: settings (`CHRONIK_CALDAV_*`), linking with a server, a username
and an app password (checked at once by discovery, stored encrypted), the client, no push (the
connection is polled), no sandbox (the tests run real Radicale and Xandikos servers).

The calendar linked is the server's schedule-default-calendar-URL (RFC 6638) where it has one,
else the first calendar of the home in the server's display order; a person who wants another
one gives that calendar's URL as the server (linking again changes it). The connection's
`calendarName` and `calendarUrl` say which one it is.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sync.http import RetryPolicy
from sync.model import ChangePage, ProviderEvent
from sync.provider import CalendarClient, EventDraft, NeedsReauth, PushChannel
from sync.providers.caldav import wire
from sync.providers.caldav.client import CalDavClient, is_event_id
from sync.providers.caldav.discovery import DiscoveredAccount, LinkRefused, check_link
from sync.providers.caldav.session import BasicCredentials
from sync.providers.spec import (
    ENV_PREFIX,
    CheckedCredentials,
    CredentialField,
    CredentialLinking,
    CredentialsRefused,
    ProviderApp,
    ProviderSettings,
    ProviderSpec,
)
from sync.tokens import AccessToken, TokenSource

NAME = "caldav"
LABEL = "CalDAV (iCloud, Fastmail, Nextcloud…)"
# The API URL of the deployment's app: each connection names its own server.
API_URL = "caldav://per-connection"

# Which typed value a refusal is about (the form marks that field).
_FIELD_OF_REASON = {
    "invalid_auth": "password",
    "cannot_connect": "server",
    "not_caldav": "server",
    "no_calendar": "server",
    "no_address": "username",
}


class CalDavSettings(ProviderSettings):
    """`CHRONIK_CALDAV_*`. CalDAV needs no registration with anyone: it is offered unless
    `CHRONIK_CALDAV_ENABLED=false`."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}CALDAV_")

    enabled: bool = True
    # Plain-HTTP servers beyond this machine (the app password would cross the network
    # readable); loopback servers are always allowed.
    allow_http: bool = False
    # How often a CalDAV connection is polled (CalDAV has no push); an unchanged calendar
    # costs one request (a sync-collection REPORT, or a ctag PROPFIND).
    poll_seconds: float = Field(default=120.0, ge=10.0, le=86_400.0)


def configure(settings: CalDavSettings, local_sandbox: str | None) -> ProviderApp | None:
    if not settings.enabled:
        return None
    return ProviderApp(
        provider=NAME,
        api_url=API_URL,
        options={"allow_http": "true" if settings.allow_http else "false"},
        poll_seconds=settings.poll_seconds,
    )


def _chosen(found: DiscoveredAccount, server: str) -> tuple[str, str]:
    """(calendar URL, how it was chosen): the calendar the person gave the URL of, else the
    one discovery chose."""
    if urlsplit(server.strip()).path not in ("", "/"):
        for calendar in found.calendars:
            if wire.same_path(server.strip(), calendar.url):
                return calendar.url, "the calendar URL you gave"
    return found.calendar_url, found.chosen_by


async def check(
    app: ProviderApp, http: aiohttp.ClientSession, values: Mapping[str, str]
) -> CheckedCredentials:
    server, username, password = values["server"], values["username"], values["password"]
    try:
        found = await check_link(
            http,
            server,
            username.strip(),
            password,
            allow_http=app.options.get("allow_http") == "true",
        )
    except LinkRefused as exc:
        raise CredentialsRefused(
            str(exc), status=exc.status, field=_FIELD_OF_REASON.get(exc.reason or "")
        ) from None
    calendar_url, chosen_by = _chosen(found, server)
    name = next((c.display_name for c in found.calendars if c.url == calendar_url), None)
    return CheckedCredentials(
        owner=found.owner_email.lower(),
        secrets={
            "username": username.strip(),
            "password": password,
            "calendar_url": calendar_url,
            "calendar_name": name or "",
            "chosen_by": chosen_by,
            "owner": found.owner_email.lower(),
            "schedules": "true" if found.schedules else "false",
        },
    )


def authorization(secrets: Mapping[str, str]) -> AccessToken:
    login = f"{secrets['username']}:{secrets['password']}".encode()
    return AccessToken(
        base64.b64encode(login).decode("ascii"),
        scheme="Basic",
        details={
            key: secrets.get(key, "")
            for key in ("calendar_url", "calendar_name", "chosen_by", "owner", "schedules")
        },
    )


class LinkedCalDav:
    """The `CalendarClient` of a stored CalDAV connection: a `CalDavClient` built from the
    connection's token (its stored login and calendar). A 401 is reported to the token
    source, which marks the connection NEEDS_REAUTH: a changed or revoked app password
    needs the person to link again."""

    def __init__(
        self, http: aiohttp.ClientSession, tokens: TokenSource, policy: RetryPolicy | None
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._policy = policy
        self._token: AccessToken | None = None
        self._client: CalDavClient | None = None

    async def _caldav(self) -> CalDavClient:
        token = await self._tokens.current()
        if self._client is None or self._token != token:
            username, _, password = base64.b64decode(token.value).decode().partition(":")
            schedules = token.details.get("schedules")
            self._client = CalDavClient(
                self._http,
                calendar_url=token.details["calendar_url"],
                credentials=BasicCredentials(username, password),
                owner_email=token.details["owner"],
                schedules=None if not schedules else schedules == "true",
                policy=self._policy,
            )
            self._token = token
        return self._client

    async def _refused(self, exc: NeedsReauth) -> NeedsReauth:
        """The token source's verdict on a 401 (for stored credentials: NEEDS_REAUTH)."""
        if exc.status == 401 and self._token is not None:
            try:
                await self._tokens.rejected(self._token)
            except NeedsReauth as marked:
                return marked
        return exc

    async def calendar_owner(self) -> str:
        return await (await self._caldav()).calendar_owner()

    async def sends_invitations(self) -> bool:
        client = await self._caldav()
        try:
            return await client.sends_invitations()
        except NeedsReauth as exc:
            raise await self._refused(exc) from None

    async def fetch_changes(self, cursor: str | None, *, window_start: datetime) -> ChangePage:
        client = await self._caldav()
        try:
            return await client.fetch_changes(cursor, window_start=window_start)
        except NeedsReauth as exc:
            raise await self._refused(exc) from None

    async def gone_series(self, series_ids: Sequence[str]) -> set[str]:
        client = await self._caldav()
        try:
            return await client.gone_series(series_ids)
        except NeedsReauth as exc:
            raise await self._refused(exc) from None

    async def cancelled_occurrences(self, series_ids: Sequence[str]) -> list[ProviderEvent]:
        client = await self._caldav()
        try:
            return await client.cancelled_occurrences(series_ids)
        except NeedsReauth as exc:
            raise await self._refused(exc) from None

    async def watch(self, *, address: str, channel_id: str, token: str) -> PushChannel:
        client = await self._caldav()
        return await client.watch(address=address, channel_id=channel_id, token=token)

    async def renew(
        self, channel: PushChannel, *, address: str, channel_id: str, token: str
    ) -> PushChannel:
        client = await self._caldav()
        return await client.renew(channel, address=address, channel_id=channel_id, token=token)

    async def stop(self, channel: PushChannel) -> None:
        return None

    async def create_event(
        self, draft: EventDraft, *, idempotency_key: str, send_invitations: bool
    ) -> ProviderEvent:
        client = await self._caldav()
        try:
            return await client.create_event(
                draft, idempotency_key=idempotency_key, send_invitations=send_invitations
            )
        except NeedsReauth as exc:
            raise await self._refused(exc) from None

    async def update_event(
        self, provider_event_id: str, draft: EventDraft, *, etag: str | None, send_updates: bool
    ) -> ProviderEvent:
        client = await self._caldav()
        try:
            return await client.update_event(
                provider_event_id, draft, etag=etag, send_updates=send_updates
            )
        except NeedsReauth as exc:
            raise await self._refused(exc) from None

    async def cancel_event(self, provider_event_id: str, *, notify: bool) -> None:
        client = await self._caldav()
        try:
            await client.cancel_event(provider_event_id, notify=notify)
        except NeedsReauth as exc:
            raise await self._refused(exc) from None

    async def delete_event(self, provider_event_id: str) -> None:
        client = await self._caldav()
        try:
            await client.delete_event(provider_event_id)
        except NeedsReauth as exc:
            raise await self._refused(exc) from None

    async def read_event(self, provider_event_id: str) -> ProviderEvent:
        client = await self._caldav()
        try:
            return await client.read_event(provider_event_id)
        except NeedsReauth as exc:
            raise await self._refused(exc) from None

    async def free_busy(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        client = await self._caldav()
        try:
            return await client.free_busy(start, end)
        except NeedsReauth as exc:
            raise await self._refused(exc) from None


def client(
    app: ProviderApp, http: aiohttp.ClientSession, tokens: TokenSource, policy: RetryPolicy | None
) -> CalendarClient:
    return LinkedCalDav(http, tokens, policy)


LINKING = CredentialLinking(
    fields=(
        CredentialField("server", "Server (URL or host, e.g. caldav.fastmail.com)"),
        CredentialField("username", "Username (usually your email address)"),
        CredentialField("password", "App password", secret=True),
    ),
    check=check,
    authorization=authorization,
)

SPEC = ProviderSpec(
    name=NAME,
    label=LABEL,
    settings=CalDavSettings,
    configure=configure,
    linking=LINKING,
    client=client,
    push=None,
    sandbox=None,
    is_event_id=is_event_id,
)
