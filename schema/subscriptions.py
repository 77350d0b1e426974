"""Subscriptions: live contact timelines and sync progress (graphql-transport-ws)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from enum import Enum

import strawberry
from strawberry.types import Info

from resolvers import live
from resolvers.context import Context
from schema.connections import CalendarConnection, SyncState
from schema.ids import decode_id
from schema.meetings import Meeting, TimelineEntry

ChronikInfo = Info[Context, None]


@strawberry.enum
class TimelineUpdateKind(Enum):
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"
    RESYNC = "resync"


@strawberry.type(
    description="A change to a contact's timeline. RESYNC: updates may have been "
    "missed (the server lost its feed for a moment): refetch the timeline."
)
class TimelineUpdate:
    kind: TimelineUpdateKind
    entry: TimelineEntry | None = strawberry.field(
        description="The entry as it is now; null when removed (and for RESYNC)."
    )
    meeting: Meeting | None = strawberry.field(
        description="The meeting as it is now; null for RESYNC or when deleted from Chronik."
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Changes to the contact's timeline as they commit.")
    async def contact_timeline(
        self, info: ChronikInfo, contact_id: strawberry.ID
    ) -> AsyncGenerator[TimelineUpdate, None]:
        updates = live.timeline_updates(info.context, decode_id("Contact", contact_id))
        async for update in updates:
            yield TimelineUpdate(
                kind=TimelineUpdateKind(update.kind),
                entry=TimelineEntry.from_row(update.entry) if update.entry else None,
                meeting=Meeting.from_row(update.meeting) if update.meeting else None,
            )

    @strawberry.subscription(description="The caller's sync state now, then while syncs run.")
    async def calendar_sync_state(self, info: ChronikInfo) -> AsyncGenerator[SyncState, None]:
        async for row in live.sync_state_updates(info.context):
            yield CalendarConnection.from_row(row).sync_state
