"""``MicrosoftSandbox``: the state of one Microsoft sandbox and the Python face of its control API.

Tests and benchmarks running in-process drive it directly (``sandbox.create_event(...)``); the
``/_sandbox/`` routes are thin JSON wrappers around the same methods. Everything derives from one
seed and one clock, so two sandboxes built alike hand out the same ids and tokens.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from sandboxes.faults import FaultInjector
from sandboxes.oauth import OAuthAuthority
from sync.providers.microsoft.wire import Event

from .delta import DeltaTracker
from .ids import IdFactory, occurrence_id
from .quirks import GraphQuirks
from .resources import PATCHABLE
from .store import CalendarState, Mailbox, MailboxStore
from .subscriptions import Subscriptions
from .timefmt import dttz, from_epoch, parse_offset, short_offset_text


class MicrosoftSandbox:
    """Users, calendars, events, tokens, delta state, subscriptions and faults of one sandbox."""

    def __init__(
        self,
        *,
        seed: int = 0,
        access_token_ttl: int = 3600,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.seed = seed
        self.clock: Callable[[], float] = clock or time.time
        self._rng = random.Random(seed)
        self.ids = IdFactory(self._rng)
        self.tenant_id = self.ids.guid()
        self.application_id = self.ids.guid()
        self._token_rng = random.Random(seed + 1)  # tokens never shift the ids of events
        self.authority = OAuthAuthority(
            rng=self._token_rng,
            clock=self.clock,
            access_token_ttl=access_token_ttl,
            rotate_refresh_tokens=True,
            access_prefix="eyJ0eXAiOiJKV1QifQ.sbx.",
            refresh_prefix="0.ARsbx.",
            code_prefix="0.ACsbx.",
        )
        self.faults = FaultInjector(seed)
        self.quirks = GraphQuirks()
        self.store = MailboxStore(self.ids, self.now)
        self.delta = DeltaTracker(self.ids)
        self.subscriptions = Subscriptions(self.ids, self.now, self.tenant_id, self.application_id)
        self.store.listeners.append(self.subscriptions.on_change)

    def now(self) -> datetime:
        """The sandbox clock as an aware UTC datetime."""
        return from_epoch(self.clock())

    # -- users, calendars, tokens ---------------------------------------------------------------

    def create_user(self, email: str, display_name: str | None = None) -> Mailbox:
        """Create (idempotently) a user with a default calendar."""
        return self.store.create_user(email, display_name)

    def user(self, email: str) -> Mailbox:
        """An existing user; KeyError when unknown."""
        return self.store.user(email)

    def list_users(self) -> list[dict[str, Any]]:
        """Every user with its calendars (the body of ``GET /_sandbox/users``)."""
        return [
            {
                "id": u.id,
                "email": u.email,
                "displayName": u.display_name,
                "calendars": [self.store.calendar_resource(u, c) for c in u.calendars.values()],
            }
            for u in self.store.users.values()
        ]

    def add_calendar(self, email: str, name: str) -> CalendarState:
        """A secondary calendar for the user."""
        return self.store.add_calendar(self.user(email), name)

    def issue_access_token(self, email: str, scope: str = "Calendars.ReadWrite User.Read") -> str:
        """An access token for ``email`` without the browser flow (creates the user)."""
        self.create_user(email)
        return self.authority.issue_access_token(email, "sandbox", scope)

    def revoke_user(self, email: str) -> None:
        """The user revoked the app (or an admin revoked sessions): all their tokens die."""
        self.authority.revoke_user(email)

    def expire_access_tokens(self, email: str | None = None) -> None:
        """Make current access tokens expired: the next Graph call answers 401."""
        self.authority.expire_access_tokens(email)

    # -- events "as if done in Outlook" ---------------------------------------------------------

    def create_event(
        self, email: str, body: Mapping[str, Any], calendar_id: str | None = None
    ) -> Event:
        """Create an event in the user's (default or given) calendar. ``body`` is a Graph event
        resource; ``organizer`` may be another person (a contact inviting our user), in which
        case no invitations leave our user's mailbox."""
        return self.store.create_event(self.user(email), body, calendar_id)[0]

    def update_event(self, email: str, event_id: str, changes: Mapping[str, Any]) -> Event:
        """Edit an event (or one occurrence: it becomes an exception). Beyond Graph's PATCHable
        fields Outlook can also set ``isCancelled``."""
        user = self.user(email)
        event = self.store.get_event(user, event_id)
        if patchable(changes) or "isCancelled" not in changes:
            event = self.store.update_event(user, event_id, changes)
        if "isCancelled" in changes:
            event = self.store.force(
                user, event["id"], {"isCancelled": bool(changes["isCancelled"])}
            )
        return event

    def delete_event(self, email: str, event_id: str) -> None:
        """Delete an event, a series or one occurrence."""
        self.store.delete_event(self.user(email), event_id)

    def cancel_event(self, email: str, event_id: str) -> Event:
        """The meeting was cancelled: deleted (with cancellations) when our user organises it;
        otherwise marked ``isCancelled`` with a "Canceled: " subject until the user removes it."""
        return self.store.organizer_cancelled(self.user(email), event_id)

    def make_private(self, email: str, event_id: str, sensitivity: str = "private") -> Event:
        """Set an event's sensitivity (private by default)."""
        return self.store.update_event(self.user(email), event_id, {"sensitivity": sensitivity})

    def occurrence_id(self, series_id: str, original_start: str | datetime) -> str:
        """The id of the occurrence of ``series_id`` originally starting at ``original_start``."""
        moment = (
            original_start if isinstance(original_start, datetime) else parse_offset(original_start)
        )
        return occurrence_id(series_id, short_offset_text(moment))

    def cancel_occurrence(self, email: str, series_id: str, original_start: str) -> None:
        """Delete one occurrence of a series (it leaves calendarView: ``@removed`` in delta)."""
        self.delete_event(email, self.occurrence_id(series_id, original_start))

    def restore_occurrence(self, email: str, series_id: str, original_start: str) -> Event:
        """Bring a deleted occurrence back (a control of the sandbox: Outlook has no button for
        it, but a shared calendar's delegate re-adding it, or an admin restoring the item, gives
        the same feed): it reappears as a plain occurrence."""
        moment = parse_offset(original_start)
        return self.store.restore_occurrence(self.user(email), series_id, short_offset_text(moment))

    def modify_occurrence(
        self, email: str, series_id: str, original_start: str, changes: Mapping[str, Any]
    ) -> Event:
        """Change one occurrence of a series, making it an exception."""
        return self.update_event(email, self.occurrence_id(series_id, original_start), changes)

    def set_attendee_response(
        self, email: str, event_id: str, attendee: str, response: str
    ) -> Event:
        """An attendee answered the invitation (accepted, declined, tentativelyAccepted...)."""
        return self.store.set_attendee_response(self.user(email), event_id, attendee, response)

    def bulk_load(
        self,
        email: str,
        count: int,
        *,
        start: str | datetime | None = None,
        span_days: int = 365,
        minutes: int = 30,
        attendees: list[str] | None = None,
        calendar_id: str | None = None,
    ) -> int:
        """Add ``count`` single events spread over ``span_days`` from ``start`` (default: now,
        at the hour). Deterministic given the seed. Returns how many were added."""
        user = self.user(email)
        base = (
            start
            if isinstance(start, datetime)
            else (
                parse_offset(start)
                if start
                else self.now().replace(minute=0, second=0, microsecond=0)
            )
        )
        slots = max(1, span_days * 24 * 2)
        rng = random.Random(self.seed * 7919 + len(user.events))
        guests = attendees or []
        # Nothing built here is cyclic garbage; without this, full collections over the
        # growing heap make a 100,000-event load several times slower.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._bulk_events(user, count, base, slots, rng, minutes, guests, calendar_id)
        finally:
            if was_enabled:
                gc.enable()
        return count

    def _bulk_events(
        self,
        user: Mailbox,
        count: int,
        base: datetime,
        slots: int,
        rng: random.Random,
        minutes: int,
        guests: list[str],
        calendar_id: str | None,
    ) -> None:
        for n in range(count):
            begin = base + timedelta(minutes=30 * rng.randrange(slots))
            body: dict[str, Any] = {
                "subject": f"Meeting {n + 1}",
                "body": {"contentType": "text", "content": f"Agenda for meeting {n + 1}"},
                "start": dttz(begin),
                "end": dttz(begin + timedelta(minutes=minutes)),
                "location": {"displayName": f"Room {n % 17 + 1}"},
                "attendees": [{"emailAddress": {"address": g}, "type": "required"} for g in guests],
            }
            self.store.create_event(user, body, calendar_id)

    # -- delta, notifications, invitations, reset -----------------------------------------------

    def invalidate_delta_tokens(self, email: str | None = None) -> int:
        """Make the user's (or everyone's) delta and skip tokens answer 410 on next use."""
        return self.delta.invalidate(email)

    def invitations(self) -> list[dict[str, str]]:
        """Every meeting message sent (invitations, updates, cancellations), oldest first."""
        return [m.to_json() for m in self.store.outbox]

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification delivery attempted, oldest first."""
        return [d.to_json() for d in self.subscriptions.delivered]

    async def drain_notifications(self) -> None:
        """Wait until queued notifications have all been delivered or dropped."""
        await self.subscriptions.drain()

    def reset(self) -> None:
        """Forget all users, events, tokens, delta state, subscriptions, faults and logs, and
        restart the id and token sequences from the seed."""
        self._rng.seed(self.seed)
        self._token_rng.seed(self.seed + 1)
        self.tenant_id = self.ids.guid()
        self.application_id = self.ids.guid()
        self.subscriptions.tenant_id = self.tenant_id
        self.subscriptions.application_id = self.application_id
        self.store.users.clear()
        self.store.outbox.clear()
        self.delta.reset()
        self.subscriptions.reset()
        self.faults.reset()
        self.quirks.reset()
        self.authority.reset()


def patchable(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``changes`` that a Graph PATCH may set."""
    return {k: v for k, v in changes.items() if k in PATCHABLE}


# Where the application keeps its sandbox (``app[MICROSOFT_SANDBOX]``).
MICROSOFT_SANDBOX: web.AppKey[MicrosoftSandbox] = web.AppKey("microsoft_sandbox", MicrosoftSandbox)
