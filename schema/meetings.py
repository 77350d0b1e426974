"""Meetings and timelines: `Meeting`, `TimelineEntry`, `Contact.timeline`, meeting queries."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from db.timeline import AttendeeRow, EntryRow, MeetingRow
from resolvers import meetings as resolve
from resolvers.context import Context
from resolvers.errors import ValidationFailed
from schema.ids import decode_id, encode_id
from schema.pagination import Connection, Edge, PageInfo, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from schema.contacts import Contact

ChronikInfo = Info[Context, None]


@strawberry.enum
class MeetingSource(Enum):
    CRM = "crm"
    GOOGLE = "google"
    MICROSOFT = "microsoft"


@strawberry.enum
class MeetingStatus(Enum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


@strawberry.enum
class AttendeeResponse(Enum):
    NEEDS_ACTION = "needs_action"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
    ORGANIZER = "organizer"
    NONE = "none"


@strawberry.type
class MeetingAttendee:
    email: str
    display_name: str | None
    response: AttendeeResponse
    is_organizer: bool

    @strawberry.field(description="The contact with this address, if there is one.")
    async def contact(
        self, info: ChronikInfo
    ) -> Annotated[Contact, strawberry.lazy("schema.contacts")] | None:
        from schema.contacts import Contact

        contact_id = await resolve.attendee_contact_id(info.context, self.email)
        if contact_id is None:
            return None
        row = await info.context.loaders.contact_by_id.load(contact_id)
        return Contact.from_row(row) if row else None

    @staticmethod
    def from_row(row: AttendeeRow) -> MeetingAttendee:
        return MeetingAttendee(
            email=row.email,
            display_name=row.display_name,
            response=AttendeeResponse(row.response),
            is_organizer=row.is_organizer,
        )


@strawberry.type(description="A meeting: made in a linked calendar or scheduled from Chronik.")
class Meeting:
    id: strawberry.ID
    pk: strawberry.Private[int]
    title: str | None
    description: str | None
    location: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    time_zone: str | None
    all_day: bool
    status: MeetingStatus
    source: MeetingSource
    organizer_email: str | None
    is_recurring: bool = strawberry.field(
        description="The first occurrence of a series, or one changed occurrence of it."
    )
    original_start: datetime | None = strawberry.field(
        description="For a changed occurrence: when it was scheduled before the change."
    )
    updated_at: datetime

    @strawberry.field
    async def attendees(self, info: ChronikInfo) -> list[MeetingAttendee]:
        return [MeetingAttendee.from_row(r) for r in await resolve.attendees(info.context, self.pk)]

    @staticmethod
    def from_row(row: MeetingRow) -> Meeting:
        return Meeting(
            id=encode_id("Meeting", row.id),
            pk=row.id,
            title=row.title,
            description=row.description,
            location=row.location,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            time_zone=row.time_zone,
            all_day=row.all_day,
            status=MeetingStatus(row.status),
            source=MeetingSource(row.source),
            organizer_email=row.organizer_email,
            is_recurring=row.kind != "single",
            original_start=row.original_start,
            updated_at=row.updated_at,
        )


@strawberry.type(description="A meeting on a contact's timeline.")
class TimelineEntry:
    id: strawberry.ID
    occurred_at: datetime
    meeting: Meeting

    @staticmethod
    def from_row(row: EntryRow) -> TimelineEntry:
        return TimelineEntry(
            id=encode_id("TimelineEntry", row.id),
            occurred_at=row.occurred_at,
            meeting=Meeting.from_row(row.meeting),
        )


def _time_keyset(after: str | None) -> tuple[datetime, int] | None:
    if after is None:
        return None
    key = decode_cursor(after)
    try:
        if len(key) == 2 and isinstance(key[0], str) and isinstance(key[1], int):
            return datetime.fromisoformat(key[0]), key[1]
    except ValueError:
        pass
    raise ValidationFailed("after: not a cursor from this list", field="after")


def _page_info(edges: list[Edge[object]] | list, has_next: bool, after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


async def contact_timeline(
    info: ChronikInfo, contact_id: int, first: int | None, after: str | None
) -> Connection[TimelineEntry]:
    page = await resolve.timeline(info.context, contact_id, first=first, after=_time_keyset(after))
    edges = [
        Edge(
            cursor=encode_cursor([row.occurred_at.isoformat(), row.id]),
            node=TimelineEntry.from_row(row),
        )
        for row in page.rows
    ]
    return Connection(
        edges=edges,
        page_info=_page_info(edges, page.has_next_page, after),
        count_all=lambda: resolve.count_timeline(info.context, contact_id),
    )


@strawberry.input
class MeetingFilter:
    contact_id: strawberry.ID | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    include_cancelled: bool = False


@strawberry.type
class MeetingQueries:
    @strawberry.field
    async def meeting(self, info: ChronikInfo, id: strawberry.ID) -> Meeting:
        return Meeting.from_row(await resolve.meeting(info.context, decode_id("Meeting", id)))

    @strawberry.field(description="The account's meetings, latest first.")
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
            info.context, first=first, after=_time_keyset(after), filters=filters
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
            page_info=_page_info(edges, page.has_next_page, after),
            count_all=lambda: resolve.count_meetings(info.context, filters),
        )
