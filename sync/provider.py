"""What every calendar provider's client offers (`CalendarClient`) and the errors it raises.
What else Chronik knows of a provider is in its spec (sync/providers/spec.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from sync.model import ChangePage, ProviderEvent


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


class NotSupported(ProviderError):
    """The provider cannot do what was asked at all (e.g. Graph cannot change a meeting
    without mailing its attendees); retrying or relinking will not help."""


class NeedsReauth(ProviderError):
    """The user's grant is gone (revoked, expired): only linking the calendar again helps."""


class PermissionMissing(ProviderError):
    """The grant lacks a permission the call needs (unticked on the consent page, or granted
    before Chronik checked): only linking the calendar again, with it ticked, helps."""


@dataclass(frozen=True)
class PushChannel:
    """A provider push registration (Google watch channel, Graph subscription)."""

    channel_id: str
    resource_id: str | None  # Google's resourceId (needed to stop); None for Graph
    expires_at: datetime


@dataclass(frozen=True)
class EventDraft:
    """A meeting as Chronik asks a provider to create or update it on the primary calendar."""

    title: str
    description: str | None
    location: str | None
    starts_at: datetime  # UTC-aware; for all-day: midnight UTC of the first day
    ends_at: datetime  # UTC-aware; for all-day: midnight UTC of the day after the last (exclusive)
    time_zone: str  # IANA name, e.g. "Europe/Berlin": how the event shows in the calendar
    all_day: bool
    attendees: tuple[tuple[str, str | None], ...]  # (email lower-cased, display name)


class EventChanged(ProviderError):
    """The event changed at the provider since Chronik read it (etag / If-Match mismatch)."""


class EventGone(ProviderError):
    """The event no longer exists at the provider (404 / 410)."""


@runtime_checkable
class SaysIfItInvites(Protocol):
    """A client whose provider may not send invitations for the events Chronik writes (a
    CalDAV server without RFC 6638 scheduling sends none); clients without this method belong
    to providers that always send them when asked (Google, Microsoft)."""

    async def sends_invitations(self) -> bool: ...


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

    async def gone_series(self, series_ids: Sequence[str]) -> set[str]:
        """Of `series_ids` (recurring series Chronik holds), those a full listing would no
        longer show (deleted at the provider, or with nothing left in the listing's window).
        Asked when a page removed items without saying which series they belonged to (Graph
        reports a deleted series only as `@removed` stubs of its instances); a provider whose
        feed reports a deleted series itself (Google) answers the empty set."""
        ...

    async def cancelled_occurrences(self, series_ids: Sequence[str]) -> list[ProviderEvent]:
        """The cancelled occurrences of `series_ids` (held series), each a cancelled EXCEPTION
        as a full listing would give it, read afresh. Asked with `gone_series`: a provider
        whose feed drops a cancelled occurrence for a bare removal stub (Graph) names them
        here; one whose feed lists them itself (Google) answers the empty list."""
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

    async def create_event(
        self, draft: EventDraft, *, idempotency_key: str, send_invitations: bool
    ) -> ProviderEvent:
        """Create the event on the primary calendar, the provider inviting the attendees
        (or not). Safe to retry with the same `idempotency_key`: a second call returns the
        event the first one created instead of a twin (Google: an event id derived from the
        key, 409 → read it back; Graph: `transactionId`)."""
        ...

    async def update_event(
        self, provider_event_id: str, draft: EventDraft, *, etag: str | None, send_updates: bool
    ) -> ProviderEvent:
        """Replace the event's fields (attendees included: added ones are invited) with
        `If-Match: etag` when given; `EventChanged` on a mismatch, `EventGone` when missing."""
        ...

    async def cancel_event(self, provider_event_id: str, *, notify: bool) -> None:
        """Cancel the meeting for everyone (attendees get a cancellation when `notify`).
        An event that is already gone is not an error."""
        ...

    async def delete_event(self, provider_event_id: str) -> None:
        """Remove the event from the calendar without notifying anyone; gone is fine."""
        ...

    async def read_event(self, provider_event_id: str) -> ProviderEvent:
        """The event of the primary calendar as its change feed reports it now: an unchanged
        occurrence of a series is OCCURRENCE, a changed one EXCEPTION, a deleted event (where
        the provider keeps it) CANCELLED. `EventGone` when the primary calendar has no such
        event (or the id is not one the provider could have issued)."""
        ...

    async def free_busy(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Busy intervals (UTC-aware, sorted) of the primary calendar between start and end."""
        ...
