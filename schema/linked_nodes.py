"""The node types that link to each other, and the timeline pages their fields serve.

A contact lists its companies and a company its contacts; both have a timeline of entries,
an entry holds a meeting, and each attendee of a meeting names its contact. Types that refer
to each other live in one module, so every other module of the schema imports them downward
(the domain's queries and mutations in contacts.py, companies.py, meetings.py, ...).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from db.companies import CompanyEntryRow, CompanyRow
from db.contacts import ContactRow
from db.records import RecordEntryRow
from db.timeline import AttendeeRow, EntryRow, MeetingRow, PageAttendee
from resolvers import companies as resolve_companies
from resolvers import meetings as resolve
from resolvers.context import Context
from resolvers.pagination import Page
from schema.enums import AttendeeResponse, MeetingSource, MeetingStatus
from schema.ids import Node, encode_id
from schema.pagination import Connection, Edge, encode_cursor, page_info, time_keyset
from schema.selections import selects

ChronikInfo = Info[Context, None]

# Enum members by stored value: a dict lookup, where calling the Enum costs ~1 us a row.
_RESPONSES = {member.value: member for member in AttendeeResponse}
_STATUSES = {member.value: member for member in MeetingStatus}
_SOURCES = {member.value: member for member in MeetingSource}


@strawberry.type(description="A person the account does business with.")
class Contact(Node):
    pk: strawberry.Private[int]
    first_name: str
    last_name: str
    email: str = strawberry.field(description="The primary email address.")
    extra_emails: list[str] = strawberry.field(description="Further addresses, lower-cased.")
    company_name: str | None
    phone: str | None
    created_at: datetime
    updated_at: datetime
    # A plain field, set once here, not a resolver: a timeline page asks it of ~200 attendees.
    name: str = strawberry.field(
        description="First and last name, or the email when both are empty."
    )

    @strawberry.field(description="The contact's meetings, newest first.")
    async def timeline(
        self, info: ChronikInfo, first: int | None = None, after: str | None = None
    ) -> Connection[TimelineEntry]:
        return await contact_timeline(info, self.pk, first, after)

    @strawberry.field(description="The companies the contact belongs to, by name.")
    async def companies(self, info: ChronikInfo) -> list[Company]:
        rows = await info.context.loaders.companies_by_contact.load(self.pk)
        return [Company.from_row(row) for row in rows]

    @staticmethod
    def from_row(row: ContactRow) -> Contact:
        return Contact(
            id=encode_id("Contact", row.id),
            pk=row.id,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            extra_emails=row.extra_emails,
            company_name=row.company_name,
            phone=row.phone,
            created_at=row.created_at,
            updated_at=row.updated_at,
            name=_name(row),
        )


def _name(row: ContactRow) -> str:
    """First and last name, whichever are set, else the email (no generator: a timeline page
    builds ~100 contacts)."""
    first, last = row.first_name, row.last_name
    if first and last:
        return f"{first} {last}"
    return first or last or row.email


@strawberry.type(description="An organisation the account does business with.")
class Company:
    id: strawberry.ID
    pk: strawberry.Private[int]
    name: str
    domains: list[str] = strawberry.field(
        description="Its web domains, lower-cased; a domain names one company of the account."
    )
    industry: str | None
    phone: str | None
    city: str | None
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="The company's contacts, by name.")
    async def contacts(self, info: ChronikInfo) -> list[Contact]:
        ids = await info.context.loaders.contact_ids_by_company.load(self.pk)
        rows = await info.context.loaders.contact_by_id.load_many(ids)
        return [Contact.from_row(row) for row in rows if row is not None]

    @strawberry.field(
        description="The meetings on its contacts' timelines, newest first, each once."
    )
    async def timeline(
        self, info: ChronikInfo, first: int | None = None, after: str | None = None
    ) -> Connection[TimelineEntry]:
        page = await resolve_companies.timeline(
            info.context, self.pk, first=first, after=time_keyset(after)
        )
        return await timeline_of_meetings(
            info,
            page,
            "CompanyTimelineEntry",
            after,
            lambda: resolve_companies.count_timeline(info.context, self.pk),
        )

    @staticmethod
    def from_row(row: CompanyRow) -> Company:
        return Company(
            id=encode_id("Company", row.id),
            pk=row.id,
            name=row.name,
            domains=row.domains,
            industry=row.industry,
            phone=row.phone,
            city=row.city,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


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
        graphql_type=Contact | None,
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
        page_info=page_info(edges, page.has_next_page, after),
        count_all=lambda: resolve.count_timeline(info.context, contact_id),
    )


async def timeline_of_meetings(
    info: ChronikInfo,
    page: Page[CompanyEntryRow] | Page[RecordEntryRow],
    entry_type: str,
    after: str | None,
    count_all: Callable[[], Awaitable[int]],
) -> Connection[TimelineEntry]:
    """A page of a timeline that holds each meeting once (a company's, a record's), paged
    like a contact's timeline (the same statements per page: the page, and its attendees
    when asked for); each entry's id is `entry_type` with the meeting's number."""
    attendees = await _page_attendees(info, [row.meeting.id for row in page.rows])
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
        page_info=page_info(edges, page.has_next_page, after),
        count_all=count_all,
    )
