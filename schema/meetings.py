"""Meeting queries: one meeting by id, and the account's meetings filtered and paged."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from resolvers import meetings as resolve
from resolvers.context import Context
from schema.ids import decode_id
from schema.linked_nodes import Meeting
from schema.pagination import Connection, Edge, encode_cursor, page_info, time_keyset
from schema.permissions import AccountMeetings, guarded_by

ChronikInfo = Info[Context, None]


@strawberry.input
class MeetingFilter:
    contact_id: strawberry.ID | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    include_cancelled: bool = False


@strawberry.type
class MeetingQueries:
    @strawberry.field(extensions=guarded_by(AccountMeetings()))
    async def meeting(self, info: ChronikInfo, id: strawberry.ID) -> Meeting:
        return Meeting.from_row(await resolve.meeting(info.context, decode_id("Meeting", id)))

    @strawberry.field(
        description="The account's meetings, latest first.",
        extensions=guarded_by(AccountMeetings()),
    )
    async def meetings(
        self,
        info: ChronikInfo,
        filter: MeetingFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Meeting]:
        chosen = filter or MeetingFilter()
        filters = resolve.MeetingFilters(
            contact_id=decode_id("Contact", chosen.contact_id) if chosen.contact_id else None,
            starts_from=chosen.starts_from,
            starts_before=chosen.starts_before,
            include_cancelled=chosen.include_cancelled,
        )
        page = await resolve.meetings_page(
            info.context, first=first, after=time_keyset(after), filters=filters
        )
        edges = [
            Edge(
                cursor=encode_cursor([row.starts_at.isoformat() if row.starts_at else "", row.id]),
                node=Meeting.from_row(row),
            )
            for row in page.rows
        ]
        return Connection(
            edges=edges,
            page_info=page_info(edges, page.has_next_page, after),
            count_all=lambda: resolve.count_meetings(info.context, filters),
        )
