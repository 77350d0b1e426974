"""Subscriptions: live timelines (contacts, companies, deals, tickets) and sync progress
(graphql-transport-ws).

Fan-out: a change of a contact's timeline reaches every subscriber of that contact in the
process as ONE shared `TimelineUpdate` object (see resolvers/live.py). `SharedEventExecutor`
executes the subscription's selection set over such an object once per (query text,
variables, viewer) and hands the same result to every subscriber asking exactly that: at
2,000 subscribers of one contact, one execution per change instead of 2,000.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from enum import Enum
from functools import partial
from typing import Any

import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from db.once import run_once
from db.records import DEALS, TICKETS
from resolvers import live
from resolvers.context import Context
from schema.connections import CalendarConnection, SyncState
from schema.ids import decode_id, encode_id
from schema.linked_nodes import Meeting, TimelineEntry
from schema.permissions import AnyUser, OwnCalendar, guarded_by

ChronikInfo = Info[Context, None]


@strawberry.enum
class TimelineUpdateKind(Enum):
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"
    RESYNC = "resync"


@strawberry.type(
    description="A change to a contact's timeline. RESYNC: updates may have been "
    "missed (the server lost its feed for a moment), or a company's timeline gained or lost "
    "a contact's meetings (the contact joined or left it): refetch the timeline."
)
class TimelineUpdate:
    kind: TimelineUpdateKind
    entry: TimelineEntry | None = strawberry.field(
        description="The entry as it is now; null when removed (and for RESYNC)."
    )
    meeting: Meeting | None = strawberry.field(
        description="The meeting as it is now; null for RESYNC or when deleted from Chronik."
    )
    # Results of executing subscriptions over this (shared) update, by what was asked.
    shared_results: strawberry.Private[dict[tuple[Any, ...], Any]] = dataclasses.field(
        default_factory=dict
    )


def _graphql_update(update: live.TimelineUpdate) -> TimelineUpdate:
    """The GraphQL object of an update: made once, shared like the update itself."""
    made = update.derived.get("graphql")
    if made is None:
        made = update.derived["graphql"] = TimelineUpdate(
            kind=TimelineUpdateKind(update.kind),
            entry=TimelineEntry.from_row(update.entry) if update.entry else None,
            meeting=Meeting.from_row(update.meeting) if update.meeting else None,
        )
    assert isinstance(made, TimelineUpdate)
    return made


def _graphql_record_update(update: live.RecordTimelineUpdate, entry_type: str) -> TimelineUpdate:
    """The GraphQL object of a company's, deal's or ticket's update (its entries are named as
    the record's `timeline` names them)."""
    made = update.derived.get("graphql")
    if made is None:
        entry = update.entry
        made = update.derived["graphql"] = TimelineUpdate(
            kind=TimelineUpdateKind(update.kind),
            entry=TimelineEntry(
                id=encode_id(entry_type, entry.meeting.id),
                occurred_at=entry.occurred_at,
                meeting=Meeting.from_row(entry.meeting),
            )
            if entry
            else None,
            meeting=Meeting.from_row(update.meeting) if update.meeting else None,
        )
    assert isinstance(made, TimelineUpdate)
    return made


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """Executes a subscription event over a shared `TimelineUpdate` once for all subscribers
    that sent the same query text with the same variables as the same viewer (results may
    depend on who asks, so never across viewers). Everything else executes as usual."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        results = getattr(self.root_value, "shared_results", None)
        key = self._sharing_key() if isinstance(results, dict) else None
        if results is None or key is None:
            return super().execute_operation(serially)
        # Its own task when it awaits: the first subscriber leaving must not cancel it for
        # the others.
        return run_once(results, key, partial(super().execute_operation, serially))

    def _sharing_key(self) -> tuple[Any, ...] | None:
        operation = self.operation
        context = self.context_value
        viewer = context.known_viewer if isinstance(context, Context) else None
        if operation.loc is None or viewer is None:
            return None
        try:
            variables = tuple(sorted(self.variable_values.coerced.items()))
            hash(variables)
        except TypeError:  # a list or an input object among the variables: do not share
            return None
        name = operation.name.value if operation.name else None
        return (operation.loc.source.body, name, variables, viewer.user_id)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Changes to the contact's timeline as they commit.",
        extensions=guarded_by(AnyUser()),
    )
    async def contact_timeline(
        self, info: ChronikInfo, contact_id: strawberry.ID
    ) -> AsyncGenerator[TimelineUpdate, None]:
        updates = live.timeline_updates(info.context, decode_id("Contact", contact_id))
        # `info` holds the subscribe-time executor (~2 KiB); an idle subscription needs none.
        del info
        async for update in updates:
            yield _graphql_update(update)

    @strawberry.subscription(
        description="Changes to the company's timeline as they commit (the meetings of its "
        "contacts, whoever they are at the time, and those scheduled from it).",
        extensions=guarded_by(AnyUser()),
    )
    async def company_timeline(
        self, info: ChronikInfo, company_id: strawberry.ID
    ) -> AsyncGenerator[TimelineUpdate, None]:
        updates = live.company_timeline_updates(info.context, decode_id("Company", company_id))
        del info
        async for update in updates:
            yield _graphql_record_update(update, "CompanyTimelineEntry")

    @strawberry.subscription(
        description="Changes to the deal's timeline as they commit (the meetings scheduled "
        "from it: linked, unlinked, changed, cancelled or deleted).",
        extensions=guarded_by(AnyUser()),
    )
    async def deal_timeline(
        self, info: ChronikInfo, deal_id: strawberry.ID
    ) -> AsyncGenerator[TimelineUpdate, None]:
        updates = live.record_timeline_updates(info.context, DEALS, decode_id("Deal", deal_id))
        del info
        async for update in updates:
            yield _graphql_record_update(update, "DealsTimelineEntry")

    @strawberry.subscription(
        description="Changes to the ticket's timeline as they commit (the meetings scheduled "
        "from it: linked, unlinked, changed, cancelled or deleted).",
        extensions=guarded_by(AnyUser()),
    )
    async def ticket_timeline(
        self, info: ChronikInfo, ticket_id: strawberry.ID
    ) -> AsyncGenerator[TimelineUpdate, None]:
        updates = live.record_timeline_updates(
            info.context, TICKETS, decode_id("Ticket", ticket_id)
        )
        del info
        async for update in updates:
            yield _graphql_record_update(update, "TicketsTimelineEntry")

    @strawberry.subscription(
        description="The caller's sync state now, then while syncs run.",
        extensions=guarded_by(OwnCalendar()),
    )
    async def calendar_sync_state(self, info: ChronikInfo) -> AsyncGenerator[SyncState, None]:
        async for row in live.sync_state_updates(info.context):
            yield CalendarConnection.from_row(row).sync_state
