"""What every calendar provider has in common: its name and the errors its clients raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sync.model import ChangePage


class ProviderName(StrEnum):
    GOOGLE = "google"
    MICROSOFT = "microsoft"

    @property
    def label(self) -> str:
        return {"google": "Google Calendar", "microsoft": "Microsoft 365"}[self.value]


GOOGLE_SCOPES = (
    "openid",
    "email",
    # Read and write events of the user's calendars; Chronik only touches the primary one.
    "https://www.googleapis.com/auth/calendar.events",
    # Read the primary calendar's id (its owner's address) and free/busy.
    "https://www.googleapis.com/auth/calendar.readonly",
)
MICROSOFT_SCOPES = ("offline_access", "openid", "email", "User.Read", "Calendars.ReadWrite")

SANDBOX_CLIENT_ID = "chronik-sandbox"


@dataclass(frozen=True)
class ProviderApp:
    """A provider's OAuth client registration and base URLs, as Chronik uses them."""

    provider: ProviderName
    client_id: str
    client_secret: str | None
    authorize_url: str
    token_url: str
    revoke_url: str | None
    api_url: str
    scopes: tuple[str, ...]
    # Extra authorization parameters, e.g. Google's `access_type=offline` for refresh tokens.
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    sandbox: bool = False


class ProviderError(Exception):
    """The provider answered with an error Chronik cannot fix by retrying right away."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason


class ProviderUnavailable(ProviderError):
    """Throttled, failing or unreachable after every retry; `retry_after` is the provider's hint."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class NeedsReauth(ProviderError):
    """The user's grant is gone (revoked, expired): only linking the calendar again helps."""


@dataclass(frozen=True)
class PushChannel:
    """A provider push registration (Google watch channel, Graph subscription)."""

    channel_id: str
    resource_id: str | None  # Google's resourceId (needed to stop); None for Graph
    expires_at: datetime


class CalendarClient(Protocol):
    """What the rest of Chronik asks of any provider's API client. Every method talks to the
    user's PRIMARY calendar only, and raises `ProviderError` subclasses on failure."""

    async def calendar_owner(self) -> str:
        """The lower-cased email of the primary calendar's owner."""
        ...

    async def fetch_changes(self, cursor: str | None, *, window_start: datetime) -> ChangePage:
        """One page of the change feed. `cursor` None starts a full sync (every event,
        tombstones excluded); otherwise it is a cursor from an earlier `ChangePage`.
        `window_start`: providers that need a time window (Graph calendarView) start it here;
        others ignore it. Raises `CursorExpired` when the provider answers 410."""
        ...

    async def watch(self, *, address: str, channel_id: str, token: str) -> PushChannel:
        """Ask the provider to POST change notifications for the primary calendar to
        `address`; `token` comes back with each (Google channel token, Graph clientState)."""
        ...

    async def renew(
        self, channel: PushChannel, *, address: str, channel_id: str, token: str
    ) -> PushChannel:
        """Extend a push registration before it expires. Graph: PATCH the subscription's
        expiration (same id back). Google channels cannot be extended: watch again under
        `channel_id`, then stop the old channel."""
        ...

    async def stop(self, channel: PushChannel) -> None:
        """End a push registration (best effort: an unknown channel is not an error)."""
        ...
