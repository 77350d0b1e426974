"""Meetings and timelines: `Meeting`, `TimelineEntry`, `Contact.timeline`, meeting queries."""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db.records import RecordKind
from db.timeline import AttendeeRow, EntryRow, MeetingRow, PageAttendee
from resolvers import companies as resolve_companies
from resolvers import meetings as resolve
from resolvers import records as resolve_records
from resolvers.context import Context
from schema.enums import provider_enum
from schema.ids import Node, decode_id, encode_id
from schema.pagination import Connection, Edge, PageInfo, encode_cursor, time_keyset
from schema.permissions import AccountMeetings, guarded_by
from schema.selections import selects
from sync.model import EventStatus, Response

if TYPE_CHECKING:
    from schema.contacts import Contact

ChronikInfo = Info[Context, None]


if TYPE_CHECKING:  # the members are CRM and the registered providers'

    class MeetingSource(Enum): ...

else:
    MeetingSource = provider_enum(
        "MeetingSource",
        "Where a meeting came from: created in Chronik (CRM), or synced from a provider.",
        CRM="crm",
    )


# The sync model's enums, exposed under the schema's names (same members, same values).
strawberry.enum(EventStatus, name="MeetingStatus")
strawberry.enum(Response, name="AttendeeResponse")
MeetingStatus = EventStatus
AttendeeResponse = Response


# Enum members by stored value: a dict lookup, where calling the Enum costs ~1 us a row.
_RESPONSES = {member.value: member for member in AttendeeResponse}
_STATUSES = {member.value: member for member in MeetingStatus}
_SOURCES = {member.value: member for member in MeetingSource}


class _ContactOfAddress:
    """An attendee's contact read through the loaders, only if the query selects it.

    graphql-core awaits any awaitable field value, so `MeetingAttendee.contact` stays a plain
    field (no resolver call per attendee) whether its contact is preloaded or not.
    """

    __slots__ = ("_ctx", "_email")

    def __init__(self, ctx: Context, email: str) -> None:
        self._ctx = ctx
        self._email = email

    def __await__(self) -> Generator[Any, None, Contact | None]:
        return self._load().__await__()

    async def _load(self) -> Contact | None:
        from schema.contacts import Contact

        contact_id = await resolve.attendee_contact_id(self._ctx, self._email)
        if contact_id is None:
            return None
        row = await self._ctx.loaders.contact_by_id.load(contact_id)
        return Contact.from_row(row) if row else None


@strawberry.type
class MeetingAttendee:
    email: str
    display_name: str | None
    response: AttendeeResponse
    is_organizer: bool
    contact: Contact | _ContactOfAddress | None = strawberry.field(
        description="The contact with this address, if there is one.",
        graphql_type=Annotated["Contact", strawberry.lazy("schema.contacts")] | None,
    )

    @staticmethod
    def from_row(
        row: AttendeeRow | PageAttendee, contact: Contact | _ContactOfAddress | None
    ) -> MeetingAttendee:
        return MeetingAttendee(
            email=row.email,
            display_name=row.display_name,
            response=_RESPONSES[row.response],
            is_organizer=row.is_organizer,
            contact=contact,
        )


@strawberry.type(description="A meeting: made in a linked calendar or scheduled from Chronik.")
class Meeting(Node):
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
        description=(
            "For a changed or cancelled occurrence: when it was scheduled before the change."
        )
    )
    cancelled_at: datetime | None = strawberry.field(
        description=(
            "When the meeting was cancelled (status CANCELLED): a cancelled week of a series "
            "stays on its contacts' timelines with it."
        )
    )
    updated_at: datetime

    # Set for the meetings of a timeline page, read with their contacts in one statement.
    preloaded_attendees: strawberry.Private[list[MeetingAttendee] | None] = None
    invitations_sent: bool | None = strawberry.field(
        default=None,
        description=(
            "In the answer of scheduleMeeting, updateMeeting and cancelMeeting: whether the "
            "calendar's server sent the attendees the invitations (updates, cancellations). "
            "False when none were asked for, or when the server sends none (a CalDAV server "
            "without RFC 6638 scheduling: tell the attendees yourself). Null elsewhere."
        ),
    )

    # Not `async`: a preloaded list is served without a coroutine; else the loaders' awaitable.
    @strawberry.field(graphql_type=list[MeetingAttendee])
    def attendees(
        self, info: ChronikInfo
    ) -> list[MeetingAttendee] | Awaitable[list[MeetingAttendee]]:
        if self.preloaded_attendees is not None:
            return self.preloaded_attendees
        return self._load_attendees(info.context)

    async def _load_attendees(self, ctx: Context) -> list[MeetingAttendee]:
        return [
            MeetingAttendee.from_row(r, _ContactOfAddress(ctx, r.email))
            for r in await resolve.attendees(ctx, self.pk)
        ]

    @staticmethod
    def from_row(row: MeetingRow, attendees: list[MeetingAttendee] | None = None) -> Meeting:
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
            status=_STATUSES[row.status],
            source=_SOURCES[row.source],
            organizer_email=row.organizer_email,
            is_recurring=row.kind != "single",
            original_start=row.original_start,
            cancelled_at=row.cancelled_at if row.status == "cancelled" else None,
            updated_at=row.updated_at,
            preloaded_attendees=attendees,
        )


@strawberry.type(description="A meeting on a contact's timeline.")
class TimelineEntry(Node):
    occurred_at: datetime
    meeting: Meeting

    @staticmethod
    def from_row(row: EntryRow, attendees: list[MeetingAttendee] | None = None) -> TimelineEntry:
        return TimelineEntry(
            id=encode_id("TimelineEntry", row.id),
            occurred_at=row.occurred_at,
            meeting=Meeting.from_row(row.meeting, attendees),
        )


def _page_info(edges: list[Edge[object]] | list, has_next: bool, after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


async def _page_attendees(
    info: ChronikInfo, meeting_ids: list[int]
) -> dict[int, list[MeetingAttendee]] | None:
    """The page's attendees with their contacts, if the query asks for attendees at all.

    One statement whatever the page size, and every attendee then served as plain fields:
    the loaders would take three rounds and ~350 awaits for a page of 50.
    """
    nodes = info._raw_info.field_nodes
    if not meeting_ids or not any(selects(n.selection_set, "attendees", info) for n in nodes):
        return None
    from schema.contacts import Contact

    found = await resolve.timeline_attendees(info.context, meeting_ids)
    contacts: dict[int, Contact] = {}  # one object per contact, however many meetings
    page: dict[int, list[MeetingAttendee]] = {}
    for meeting_id, rows in found.items():
        attendees = page[meeting_id] = []
        for row in rows:
            contact = None
            if row.contact is not None:
                contact = contacts.get(row.contact.id)
                if contact is None:
                    contact = contacts[row.contact.id] = Contact.from_row(row.contact)
            attendees.append(MeetingAttendee.from_row(row, contact))
    return page


async def contact_timeline(
    info: ChronikInfo, contact_id: int, first: int | None, after: str | None
) -> Connection[TimelineEntry]:
    page = await resolve.timeline(info.context, contact_id, first=first, after=time_keyset(after))
    attendees = await _page_attendees(info, [row.meeting.id for row in page.rows])
    edges = [
        Edge(
            cursor=encode_cursor([row.occurred_at.isoformat(), row.id]),
            node=TimelineEntry.from_row(
                row, attendees.get(row.meeting.id, []) if attendees is not None else None
            ),
        )
        for row in page.rows
    ]
    return Connection(
        edges=edges,
        page_info=_page_info(edges, page.has_next_page, after),
        count_all=lambda: resolve.count_timeline(info.context, contact_id),
    )


async def company_timeline(
    info: ChronikInfo, company_id: int, first: int | None, after: str | None
) -> Connection[TimelineEntry]:
    """The meetings of a company's contacts, each once, paged like a contact's timeline (the
    same statements per page: the page, and its attendees when asked for)."""
    page = await resolve_companies.timeline(
        info.context, company_id, first=first, after=time_keyset(after)
    )
    attendees = await _page_attendees(info, [row.meeting.id for row in page.rows])
    edges = [
        Edge(
            cursor=encode_cursor([row.occurred_at.isoformat(), row.meeting.id]),
            node=TimelineEntry(
                id=encode_id("CompanyTimelineEntry", row.meeting.id),
                occurred_at=row.occurred_at,
                meeting=Meeting.from_row(
                    row.meeting,
                    attendees.get(row.meeting.id, []) if attendees is not None else None,
                ),
            ),
        )
        for row in page.rows
    ]
    return Connection(
        edges=edges,
        page_info=_page_info(edges, page.has_next_page, after),
        count_all=lambda: resolve_companies.count_timeline(info.context, company_id),
    )


async def record_timeline(
    info: ChronikInfo, kind: RecordKind, record_id: int, first: int | None, after: str | None
) -> Connection[TimelineEntry]:
    """The meetings scheduled from a deal or a ticket, paged like a contact's timeline."""
    page = await resolve_records.timeline(
        info.context, kind, record_id, first=first, after=time_keyset(after)
    )
    attendees = await _page_attendees(info, [row.meeting.id for row in page.rows])
    entry_type = f"{kind.table.capitalize()}TimelineEntry"
    edges = [
        Edge(
            cursor=encode_cursor([row.occurred_at.isoformat(), row.meeting.id]),
            node=TimelineEntry(
                id=encode_id(entry_type, row.meeting.id),
                occurred_at=row.occurred_at,
                meeting=Meeting.from_row(
                    row.meeting,
                    attendees.get(row.meeting.id, []) if attendees is not None else None,
                ),
            ),
        )
        for row in page.rows
    ]
    return Connection(
        edges=edges,
        page_info=_page_info(edges, page.has_next_page, after),
        count_all=lambda: resolve_records.count_timeline(info.context, kind, record_id),
    )


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
            page_info=_page_info(edges, page.has_next_page, after),
            count_all=lambda: resolve.count_meetings(info.context, filters),
        )
