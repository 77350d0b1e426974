"""Scheduling from Chronik: the meeting mutations and free/busy."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from db.timeline import MeetingRow
from resolvers import scheduling as resolve
from resolvers.context import Context
from resolvers.scheduling import AttendeeChoice, MeetingFields
from schema.ids import decode_id
from schema.linked_nodes import Meeting
from schema.permissions import OwnCalendar, OwnMeeting, RemovableMeeting, guarded_by

ChronikInfo = Info[Context, None]


@strawberry.input(description="A contact of the account, or any email address (exactly one).")
class MeetingAttendeeInput:
    contact_id: strawberry.ID | None = None
    email: str | None = None


@strawberry.input
class ScheduleMeetingInput:
    title: str
    starts_at: datetime
    ends_at: datetime
    time_zone: str = strawberry.field(description="IANA name, e.g. Europe/Berlin.")
    description: str | None = None
    location: str | None = None
    all_day: bool = False
    attendees: list[MeetingAttendeeInput] = strawberry.field(default_factory=list)
    company_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="The companies it is scheduled from: on their timelines whoever the "
        "guests are.",
    )
    deal_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The deals it is scheduled from: on their timelines."
    )
    ticket_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The tickets it is scheduled from: on their timelines."
    )
    send_invitations: bool = True
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Repeat a request with the same key: the first meeting is returned, "
        "nothing is created twice.",
    )


@strawberry.input(description="Only the fields sent change; attendees replace the list.")
class UpdateMeetingInput:
    title: str | None = None
    description: str | None = None
    location: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    time_zone: str | None = None
    all_day: bool | None = None
    attendees: list[MeetingAttendeeInput] | None = None
    company_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Replaces the companies it is scheduled from."
    )
    deal_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Replaces the deals it is scheduled from."
    )
    ticket_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Replaces the tickets it is scheduled from."
    )


@strawberry.type
class TimeRange:
    start: datetime
    end: datetime


@strawberry.type
class DeleteMeetingPayload:
    deleted_meeting_id: strawberry.ID


def _attendees(items: list[MeetingAttendeeInput] | None) -> list[AttendeeChoice] | None:
    if items is None:
        return None
    return [
        AttendeeChoice(
            contact_id=decode_id("Contact", item.contact_id) if item.contact_id else None,
            email=item.email,
        )
        for item in items
    ]


def _fields(data: ScheduleMeetingInput | UpdateMeetingInput) -> MeetingFields:
    return MeetingFields(
        title=data.title,
        description=data.description,
        location=data.location,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        time_zone=data.time_zone,
        all_day=data.all_day,
        attendees=_attendees(data.attendees),
        company_ids=_ids("Company", data.company_ids),
        deal_ids=_ids("Deal", data.deal_ids),
        ticket_ids=_ids("Ticket", data.ticket_ids),
    )


def _ids(type_name: str, ids: list[strawberry.ID] | None) -> list[int] | None:
    return [decode_id(type_name, i) for i in ids] if ids is not None else None


async def _answer(info: ChronikInfo, row: MeetingRow, *, asked: bool) -> Meeting:
    """A scheduling mutation's meeting, saying whether the invitations went out."""
    meeting = Meeting.from_row(row)
    meeting.invitations_sent = await resolve.invitations_sent(info.context, asked=asked)
    return meeting


@strawberry.type
class SchedulingQueries:
    @strawberry.field(
        description="Busy times of the caller's linked calendar.",
        extensions=guarded_by(OwnCalendar()),
    )
    async def free_busy(self, info: ChronikInfo, start: datetime, end: datetime) -> list[TimeRange]:
        busy = await resolve.free_busy(info.context, start, end)
        return [TimeRange(start=s, end=e) for s, e in busy]


@strawberry.type
class SchedulingMutations:
    @strawberry.mutation(
        description="Create a meeting in the caller's calendar; the provider "
        "sends the invitations; it lands on every contact attendee's timeline.",
        extensions=guarded_by(OwnCalendar()),
    )
    async def schedule_meeting(self, info: ChronikInfo, input: ScheduleMeetingInput) -> Meeting:
        row = await resolve.schedule(
            info.context,
            _fields(input),
            send_invitations=input.send_invitations,
            idempotency_key=input.idempotency_key,
        )
        return await _answer(info, row, asked=input.send_invitations)

    @strawberry.mutation(
        description="Change a meeting of the caller's calendar (added attendees are invited).",
        extensions=guarded_by(OwnMeeting()),
    )
    async def update_meeting(
        self,
        info: ChronikInfo,
        id: strawberry.ID,
        input: UpdateMeetingInput,
        send_updates: bool = True,
    ) -> Meeting:
        row = await resolve.update(
            info.context, decode_id("Meeting", id), _fields(input), send_updates=send_updates
        )
        return await _answer(info, row, asked=send_updates)

    @strawberry.mutation(
        description="Cancel the meeting in the calendar and remove it from the timelines.",
        extensions=guarded_by(OwnMeeting()),
    )
    async def cancel_meeting(
        self, info: ChronikInfo, id: strawberry.ID, notify_attendees: bool = True
    ) -> Meeting:
        row = await resolve.cancel(info.context, decode_id("Meeting", id), notify=notify_attendees)
        return await _answer(info, row, asked=notify_attendees)

    @strawberry.mutation(
        description="Remove the meeting from Chronik; the calendar event "
        "stays unless alsoDeleteCalendarEvent.",
        extensions=guarded_by(RemovableMeeting()),
    )
    async def delete_meeting(
        self, info: ChronikInfo, id: strawberry.ID, also_delete_calendar_event: bool = False
    ) -> DeleteMeetingPayload:
        await resolve.delete(
            info.context, decode_id("Meeting", id), also_calendar_event=also_delete_calendar_event
        )
        return DeleteMeetingPayload(deleted_meeting_id=id)
