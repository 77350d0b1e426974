"""A calendar provider defined entirely in the tests: an in-memory calendar per address, linked
with an address and a password (HTTP Basic credentials), no push, no sandbox.

It shows what a provider package provides and nothing more. Importing this module registers
`SPEC`; `tests/conftest.py` imports it before anything builds the schema (the
`CalendarProvider` enum then holds `DUMMY`), and
`tests/sync/test_provider_registry.py` links and syncs it through the public API, without any
product file naming it.
"""

from __future__ import annotations

import base64
import itertools
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
from pydantic_settings import SettingsConfigDict

from sync.http import RetryPolicy
from sync.model import ChangePage, ProviderEvent
from sync.provider import (
    CalendarClient,
    EventDraft,
    EventGone,
    NeedsReauth,
    NotSupported,
    PushChannel,
)
from sync.providers import registry
from sync.providers.spec import (
    CheckedCredentials,
    CredentialField,
    CredentialLinking,
    CredentialsRefused,
    ProviderApp,
    ProviderSettings,
    ProviderSpec,
)
from sync.tokens import AccessToken, TokenSource

NAME = "dummy"
_versions = itertools.count(1)


@dataclass
class DummyCalendar:
    """One person's calendar: events by id, each with the version of its last change."""

    owner: str
    password: str
    events: dict[str, tuple[int, ProviderEvent]] = field(default_factory=dict)

    def put(self, event: ProviderEvent) -> None:
        self.events[event.provider_event_id] = (next(_versions), event)


# Every dummy calendar of this test process, by owner address (lower-cased).
CALENDARS: dict[str, DummyCalendar] = {}


def calendar(owner: str, password: str) -> DummyCalendar:
    """A new, empty calendar of `owner` that links with `password`."""
    made = DummyCalendar(owner.lower(), password)
    CALENDARS[made.owner] = made
    return made


class DummySettings(ProviderSettings):
    """`CHRONIK_DUMMY_ENABLED=false` leaves the provider unconfigured."""

    model_config = SettingsConfigDict(env_prefix="CHRONIK_DUMMY_")

    enabled: bool = True


def configure(settings: DummySettings, local_sandbox: str | None) -> ProviderApp | None:
    return ProviderApp(provider=NAME, api_url="memory://dummy") if settings.enabled else None


def _basic(address: str, password: str) -> str:
    return base64.b64encode(f"{address}:{password}".encode()).decode()


def _calendar_of(token: AccessToken) -> DummyCalendar | None:
    """What a server does with a request for the calendar at `details["calendar"]` (as a
    CalDAV client would name the calendar's URL) and its `Authorization` header: Basic, with
    the owner's right password (None: it would answer 401)."""
    if token.scheme != "Basic":
        return None
    address, _, password = base64.b64decode(token.value).decode().partition(":")
    found = CALENDARS.get(token.details.get("calendar", ""))
    if found is None or found.owner != address or found.password != password:
        return None
    return found


async def check(
    app: ProviderApp, http: aiohttp.ClientSession, values: Mapping[str, str]
) -> CheckedCredentials:
    address = values["address"].strip().lower()
    found = CALENDARS.get(address)
    if found is None or found.password != values["password"]:
        raise CredentialsRefused("The dummy server refused that address and password.")
    return CheckedCredentials(owner=address, secrets={**values, "address": address})


def authorization(secrets: Mapping[str, str]) -> AccessToken:
    return AccessToken(
        _basic(secrets["address"], secrets["password"]),
        scheme="Basic",
        details={"calendar": secrets["address"]},
    )


class DummyClient:
    """The `CalendarClient` of one dummy calendar: a change feed of versions, no push."""

    def __init__(self, tokens: TokenSource) -> None:
        self._tokens = tokens

    async def _calendar(self) -> DummyCalendar:
        token = await self._tokens.current()
        found = _calendar_of(token)
        if found is None:  # a 401: the token source decides (stored credentials: relink)
            found = _calendar_of(await self._tokens.rejected(token))
        if found is None:
            raise NeedsReauth("the dummy server refused the credentials")
        return found

    async def calendar_owner(self) -> str:
        return (await self._calendar()).owner

    async def fetch_changes(self, cursor: str | None, *, window_start: datetime) -> ChangePage:
        """Every event changed after the cursor's version (all of them without a cursor)."""
        held = await self._calendar()
        since = int(cursor) if cursor else 0
        changed = [(v, e) for v, e in held.events.values() if v > since]
        latest = max([since, *(v for v, _ in held.events.values())])
        return ChangePage([e for _, e in changed], str(latest), complete=True)

    async def gone_series(self, series_ids: Sequence[str]) -> set[str]:
        return set()

    async def cancelled_occurrences(self, series_ids: Sequence[str]) -> list[ProviderEvent]:
        return []

    async def watch(self, *, address: str, channel_id: str, token: str) -> PushChannel:
        raise NotSupported("the dummy provider has no push")

    async def renew(
        self, channel: PushChannel, *, address: str, channel_id: str, token: str
    ) -> PushChannel:
        raise NotSupported("the dummy provider has no push")

    async def stop(self, channel: PushChannel) -> None:
        return None

    async def create_event(
        self, draft: EventDraft, *, idempotency_key: str, send_invitations: bool
    ) -> ProviderEvent:
        raise NotSupported("the dummy provider only reads")

    async def update_event(
        self, provider_event_id: str, draft: EventDraft, *, etag: str | None, send_updates: bool
    ) -> ProviderEvent:
        raise NotSupported("the dummy provider only reads")

    async def cancel_event(self, provider_event_id: str, *, notify: bool) -> None:
        raise NotSupported("the dummy provider only reads")

    async def delete_event(self, provider_event_id: str) -> None:
        raise NotSupported("the dummy provider only reads")

    async def read_event(self, provider_event_id: str) -> ProviderEvent:
        held = await self._calendar()
        if provider_event_id not in held.events:
            raise EventGone(f"no dummy event {provider_event_id!r}", status=404)
        return held.events[provider_event_id][1]

    async def free_busy(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        return []


def client(
    app: ProviderApp, http: aiohttp.ClientSession, tokens: TokenSource, policy: RetryPolicy | None
) -> CalendarClient:
    return DummyClient(tokens)


SPEC = ProviderSpec(
    name=NAME,
    label="Dummy Calendar",
    settings=DummySettings,
    configure=configure,
    linking=CredentialLinking(
        fields=(
            CredentialField("address", "Calendar address"),
            CredentialField("password", "App password", secret=True),
        ),
        check=check,
        authorization=authorization,
    ),
    client=client,
    # Its meeting rooms: never a contact's meeting, though no product file names them.
    never_people_domains=frozenset({"rooms.dummy.test"}),
)

# The schema's provider enums are derived from the registry when `schema.enums` is imported:
# registered after that, the provider would be missing from GraphQL.
assert "schema.enums" not in sys.modules, "import tests.support.dummy_provider before the schema"
registry.register(SPEC)
