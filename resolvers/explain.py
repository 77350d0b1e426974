"""Explaining an event of the caller's own linked calendar: is it on contact timelines, and
why (not)?

The event is read from the provider now (through the provider client), decided by the sync's
own rules (`sync.explain` over `sync.rules.decide`) and compared with what Chronik holds. Only
the caller's own calendar is ever read: an admin cannot explain a colleague's events (the
answer would reveal a calendar Chronik only reads for its owner's timelines).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from db import connections as connections_db
from db import contacts as contacts_db
from db import explain as explain_db
from db.connections import ConnectionRow
from db.contacts import ContactRow
from resolvers.context import Context
from resolvers.errors import (
    NotFound,
    PreconditionFailed,
    ProviderFailed,
    ValidationFailed,
)
from resolvers.meetings import meeting as load_meeting
from sync.address_book import AddressBook
from sync.event_links import NotAnEvent, provider_event_id
from sync.explain import Explanation, Held, SyncHealth, Verdict, explain, sentence, with_series
from sync.model import ProviderEvent
from sync.provider import (
    CalendarClient,
    EventGone,
    NeedsReauth,
    ProviderError,
    ProviderUnavailable,
)
from sync.rules import Stored

ClientFor = Callable[[ConnectionRow], CalendarClient]


@dataclass(frozen=True)
class ExplainedEvent:
    explanation: Explanation
    sentence: str
    # The contacts whose timelines show the event, or will once the sync catches up.
    contacts: list[ContactRow]
    series: ExplainedEvent | None = None


async def explain_event(
    ctx: Context, *, event: str | None = None, meeting_id: int | None = None
) -> ExplainedEvent:
    """The caller's event named by `event` (a provider event id or event link) or by the
    `meeting_id` of a meeting from the caller's calendar: exactly one of them."""
    viewer = await ctx.viewer()
    if (event is None) == (meeting_id is None):
        raise ValidationFailed("event: give either event or meetingId", field="event")
    if meeting_id is not None:
        meeting = await load_meeting(ctx, meeting_id)
        # Whose meeting it is was checked before this ran (schema/permissions.py).
        if not meeting.provider_event_id:
            raise PreconditionFailed("This meeting has no calendar event to explain.")
        event = meeting.provider_event_id
    assert event is not None
    services = ctx.services
    return await explain_for_user(
        ctx.pool,
        user_id=viewer.user_id,
        account_id=viewer.account_id,
        event=event,
        client_for=lambda row: services.calendar_client(row.provider, row.id),
        excluded_domains=services.engine.excluded_domains,
    )


async def explain_for_user(
    pool: asyncpg.Pool,
    *,
    user_id: int,
    account_id: int,
    event: str,
    client_for: ClientFor,
    excluded_domains: frozenset[str],
) -> ExplainedEvent:
    """Explain the event `event` names in the user's linked calendar.

    Raises `PreconditionFailed` without an active linked calendar, `ValidationFailed` (field
    `event`) when the text is neither an event link nor an event id of its provider,
    `NotFound` when the calendar has no such event, `ProviderFailed` when the provider cannot
    answer."""
    connection = await connections_db.connection_for_user(pool, user_id)
    if connection is None or connection.status == "disconnected":
        raise PreconditionFailed(
            "Link your calendar first (startCalendarLink): Chronik "
            "explains events of your own linked calendar."
        )
    if connection.status != "active":
        raise PreconditionFailed(
            "Your calendar link has expired or was revoked: link the calendar again, then retry."
        )
    try:
        event_id = provider_event_id(event, connection.provider)
    except NotAnEvent as exc:
        raise ValidationFailed(f"event: {exc}", field="event") from None
    explainer = _Explainer(pool, connection, client_for(connection), excluded_domains)
    explanation = await explainer.explain(event_id)
    if explanation.verdict is Verdict.OCCURRENCE_OF_SERIES and explanation.event.series_id:
        try:
            series = await explainer.explain(explanation.event.series_id)
        except NotFound:
            pass
        else:
            explanation = with_series(explanation, series)
    rows = await contacts_db.contacts_by_ids(
        pool, account_id, sorted(explanation.contact_ids | _all_shown(explanation))
    )
    return _presented(explanation, rows)


def _presented(explanation: Explanation, rows: dict[int, ContactRow]) -> ExplainedEvent:
    names = {contact_id: _name(row) for contact_id, row in rows.items()}
    return ExplainedEvent(
        explanation=explanation,
        sentence=sentence(explanation, lambda c: names.get(c, "a removed contact")),
        contacts=[rows[c] for c in sorted(explanation.contact_ids) if c in rows],
        series=_presented(explanation.series, rows) if explanation.series else None,
    )


class _Explainer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        connection: ConnectionRow,
        client: CalendarClient,
        excluded_domains: frozenset[str],
    ) -> None:
        self._pool = pool
        self._connection = connection
        self._client = client
        self._excluded = excluded_domains

    async def explain(self, event_id: str) -> Explanation:
        connection = self._connection
        held = await explain_db.held_meeting(
            self._pool, connection.account_id, connection.id, event_id
        )
        event = await self._read(event_id, known=held is not None)
        book = AddressBook(
            connection.account_id,
            calendar_email=connection.calendar_email,
            linked_at=connection.linked_at,
            excluded_domains=self._excluded,
        )
        context = await book.context_for_events(self._pool, [event])
        stored = None
        if held is not None:
            # As the engine sees it: a meeting removed in Chronik is never synced again.
            stored = Stored(held.meeting_id, held.frozen or held.deleted, held.cancelled)
        return explain(
            event,
            context,
            Held(
                stored,
                removed_in_chronik=bool(held and held.deleted),
                on_timelines=held.contact_ids if held else frozenset(),
            ),
            SyncHealth(last_error=connection.last_error),
        )

    async def _read(self, event_id: str, *, known: bool) -> ProviderEvent:
        try:
            return await self._client.read_event(event_id)
        except EventGone:
            if known:  # deleted at the provider after Chronik stored it (the feed's view too)
                return ProviderEvent(provider_event_id=event_id, removed=True)
            raise NotFound("Your linked calendar has no such event.") from None
        except NeedsReauth:
            raise PreconditionFailed(
                "Your calendar link has expired or was revoked: link the calendar again, "
                "then retry."
            ) from None
        except ProviderUnavailable as exc:
            raise ProviderFailed(f"{exc} Try again in a moment.") from None
        except ProviderError as exc:
            raise ProviderFailed(f"The calendar provider refused: {exc}") from None


def _all_shown(explanation: Explanation) -> frozenset[int]:
    shown = explanation.on_timelines
    if explanation.series is not None:
        shown |= explanation.series.on_timelines | explanation.series.contact_ids
    return shown


def _name(row: ContactRow) -> str:
    return " ".join(p for p in (row.first_name, row.last_name) if p) or row.email
