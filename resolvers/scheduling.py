"""Scheduling from Chronik: meetings created, changed, cancelled and deleted through the
caller's linked primary calendar, and free/busy for proposing times.

The provider call comes first; only what the provider confirmed is stored, so a create that
finally fails leaves nothing behind. Creating is retry-safe end to end: the idempotency key
names the provider event (Google id / Graph transactionId) and the stored request.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import asyncpg

from db import companies as companies_db
from db import connections as connections_db
from db import meetings as meetings_db
from db import records as records_db
from db import scheduling as scheduling_db
from db.connections import ConnectionRow
from db.meetings import TimelineChange
from db.records import DEALS, TICKETS
from db.timeline import MeetingRow
from resolvers import records
from resolvers.context import Context, Viewer
from resolvers.errors import (
    Conflict,
    NotFound,
    PreconditionFailed,
    ProviderFailed,
    ValidationFailed,
)
from resolvers.meetings import meeting as load_meeting
from resolvers.validation import clean_text, normalize_email, plain_text, time_zone
from sync import apply
from sync.address_book import AddressBook
from sync.model import ProviderEvent
from sync.provider import (
    CalendarClient,
    EventChanged,
    EventDraft,
    EventGone,
    NeedsReauth,
    NotSupported,
    PermissionMissing,
    ProviderError,
    ProviderUnavailable,
    SaysIfItInvites,
)

T = TypeVar("T")

MAX_ATTENDEES = 100
MAX_FREE_BUSY_RANGE = timedelta(days=62)


@dataclass(frozen=True)
class AttendeeChoice:
    contact_id: int | None = None
    email: str | None = None


@dataclass(frozen=True)
class MeetingFields:
    """What a caller sent; on update, None means "keep"."""

    title: str | None = None
    description: str | None = None
    location: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    time_zone: str | None = None
    all_day: bool | None = None
    attendees: Sequence[AttendeeChoice] | None = None
    # The records it is scheduled from (on their timelines whoever the guests are).
    company_ids: Sequence[int] | None = None
    deal_ids: Sequence[int] | None = None
    ticket_ids: Sequence[int] | None = None


# Records of one kind a meeting is scheduled from, at most.
MAX_MEETING_RECORDS = 20


async def _checked_records(ctx: Context, viewer: Viewer, fields: MeetingFields) -> None:
    """Before the calendar is touched: every record named is the caller's account's."""
    if fields.company_ids is not None:
        if len(fields.company_ids) > MAX_MEETING_RECORDS:
            raise ValidationFailed(f"companyIds: at most {MAX_MEETING_RECORDS}", field="companyIds")
        found = await companies_db.existing_company_ids(
            ctx.pool, viewer.account_id, fields.company_ids
        )
        if set(fields.company_ids) - found:
            raise NotFound("No company with this id.")
    await records.checked_ids(
        ctx, DEALS, fields.deal_ids, field="dealIds", most=MAX_MEETING_RECORDS
    )
    await records.checked_ids(
        ctx, TICKETS, fields.ticket_ids, field="ticketIds", most=MAX_MEETING_RECORDS
    )


async def _connection(ctx: Context, viewer: Viewer) -> ConnectionRow:
    row = await connections_db.connection_for_user(ctx.pool, viewer.user_id)
    if row is None or row.status == "disconnected":
        raise PreconditionFailed(
            "Link your calendar first (startCalendarLink, or linkCalendarWithCredentials for "
            "a provider such as CalDAV that links with a password): Chronik "
            "schedules meetings in your own calendar."
        )
    if row.status != "active":
        raise PreconditionFailed(
            "Your calendar link has expired or was revoked: link the calendar again, then retry."
        )
    return row


async def _call(step: Awaitable[T], *, notify_field: str = "notifyAttendees") -> T:
    """Run a provider call, turning its failures into typed GraphQL errors; `notify_field`
    names the input that asked for silence, should the provider not offer it."""
    try:
        return await step
    except NeedsReauth:
        raise PreconditionFailed(
            "Your calendar link has expired or was revoked: link the calendar again, then retry."
        ) from None
    except PermissionMissing as exc:
        raise PreconditionFailed(f"{exc} Nothing was changed.") from None
    except EventChanged:
        raise Conflict(
            "The meeting was changed in the calendar meanwhile; reload it and try again."
        ) from None
    except EventGone:
        raise NotFound("The meeting no longer exists in the calendar.") from None
    except ProviderUnavailable as exc:
        raise ProviderFailed(f"{exc} Nothing was changed.") from None
    except NotSupported as exc:
        # E.g. silence on Microsoft 365, which always notifies attendees: the input asks for
        # something this provider cannot do, so it is the request that must change.
        raise ValidationFailed(
            f"{notify_field}: {exc} Send it with notifications, or without attendees.",
            field=notify_field,
        ) from None
    except ProviderError as exc:
        raise ProviderFailed(f"The calendar provider refused: {exc}") from None


def _times(
    starts_at: datetime, ends_at: datetime, zone: ZoneInfo, all_day: bool
) -> tuple[datetime, datetime]:
    """UTC instants; naive inputs are read in the meeting's zone; all-day → whole dates."""
    start = starts_at if starts_at.tzinfo else starts_at.replace(tzinfo=zone)
    end = ends_at if ends_at.tzinfo else ends_at.replace(tzinfo=zone)
    if all_day:
        first = start.astimezone(zone).date()
        last = end.astimezone(zone).date()
        start = datetime.combine(first, time(), UTC)
        end = datetime.combine(max(last, first + timedelta(days=1)), time(), UTC)
    if end <= start:
        raise ValidationFailed("endsAt: must be after startsAt", field="endsAt")
    return start.astimezone(UTC), end.astimezone(UTC)


async def _attendee_emails(
    ctx: Context, choices: Sequence[AttendeeChoice]
) -> tuple[tuple[str, str | None], ...]:
    if len(choices) > MAX_ATTENDEES:
        raise ValidationFailed(f"attendees: at most {MAX_ATTENDEES}", field="attendees")
    chosen: dict[str, str | None] = {}
    for choice in choices:
        if (choice.contact_id is None) == (choice.email is None):
            raise ValidationFailed("attendees: give either contactId or email", field="attendees")
        if choice.contact_id is not None:
            contact = await ctx.loaders.contact_by_id.load(choice.contact_id)
            if contact is None:
                raise NotFound("An attendee contact does not exist in your account.")
            name = " ".join(p for p in (contact.first_name, contact.last_name) if p) or None
            chosen.setdefault(contact.email.lower(), name)
        else:
            assert choice.email is not None
            chosen.setdefault(normalize_email(choice.email, field="attendees").lower(), None)
    return tuple(chosen.items())


async def _draft(ctx: Context, fields: MeetingFields, current: MeetingRow | None) -> EventDraft:
    title = clean_text(fields.title, field="title") if fields.title is not None else None
    if current is None and not title:
        raise ValidationFailed("title: required", field="title")
    # An empty zone is an error, not "keep the zone" or UTC.
    if fields.time_zone is not None:
        zone_name = fields.time_zone
    else:
        zone_name = (current.time_zone if current else None) or "UTC"
    zone = time_zone(zone_name)
    all_day = fields.all_day if fields.all_day is not None else bool(current and current.all_day)
    starts = fields.starts_at or (current.starts_at if current else None)
    ends = fields.ends_at or (current.ends_at if current else None)
    if starts is None or ends is None:
        raise ValidationFailed("startsAt and endsAt are required", field="startsAt")
    start, end = _times(starts, ends, zone, all_day)
    if fields.attendees is not None:
        attendees = await _attendee_emails(ctx, fields.attendees)
    else:
        assert current is not None
        rows = await ctx.loaders.attendees_by_meeting.load(current.id)
        attendees = tuple((a.email, a.display_name) for a in rows if not a.is_organizer)
    return EventDraft(
        title=title or (current.title if current else "") or "",
        description=_keep(
            fields.description, current.description if current else None, "description", 8000
        ),
        location=_keep(fields.location, current.location if current else None, "location", 500),
        starts_at=start,
        ends_at=end,
        time_zone=zone_name,
        all_day=all_day,
        attendees=attendees,
    )


def _keep(value: str | None, current: str | None, field: str, limit: int) -> str | None:
    if value is None:
        return current
    return clean_text(value, field=field, max_length=limit)


async def _store(
    ctx: Context,
    viewer: Viewer,
    connection: ConnectionRow,
    event: ProviderEvent,
    *,
    idempotency_key: str | None = None,
    fields: MeetingFields | None = None,
) -> int:
    """Store what the provider confirmed, with its timeline entries (and the companies it was
    scheduled from, when given), in one transaction."""
    # Only the meeting's own addresses are looked up (one query), whatever the account's size.
    book = AddressBook(
        viewer.account_id,
        calendar_email=connection.calendar_email,
        linked_at=connection.linked_at,
        excluded_domains=ctx.services.engine.excluded_domains,
    )
    target = apply.Target(viewer.account_id, connection.id, "crm", connection.sync_round)
    async with ctx.pool.acquire() as conn, conn.transaction():
        meeting_id = await apply.apply_scheduled(
            conn, target, book, event, created_by_user_id=viewer.user_id
        )
        if fields is not None:
            await _associate(conn, viewer.account_id, meeting_id, fields)
        if idempotency_key:
            await scheduling_db.remember_key(conn, viewer.user_id, idempotency_key, meeting_id)
    ctx.loaders.forget_meeting(meeting_id)
    return meeting_id


async def _associate(
    conn: asyncpg.Connection, account_id: int, meeting_id: int, fields: MeetingFields
) -> None:
    """The records the meeting is scheduled from, each kind replaced when it was sent."""
    if fields.company_ids is not None:
        await companies_db.set_meeting_companies(conn, account_id, meeting_id, fields.company_ids)
    if fields.deal_ids is not None:
        await records_db.set_meeting_records(conn, DEALS, account_id, meeting_id, fields.deal_ids)
    if fields.ticket_ids is not None:
        await records_db.set_meeting_records(
            conn, TICKETS, account_id, meeting_id, fields.ticket_ids
        )


def _client(ctx: Context, connection: ConnectionRow) -> CalendarClient:
    return ctx.services.calendar_client(connection.provider, connection.id)


async def schedule(
    ctx: Context, fields: MeetingFields, *, send_invitations: bool, idempotency_key: str | None
) -> MeetingRow:
    viewer = await ctx.viewer()
    connection = await _connection(ctx, viewer)
    if idempotency_key is not None:
        idempotency_key = plain_text(idempotency_key, field="idempotencyKey").strip()
        if not 1 <= len(idempotency_key) <= 200:
            raise ValidationFailed("idempotencyKey: 1 to 200 characters", field="idempotencyKey")
        earlier = await scheduling_db.meeting_for_key(ctx.pool, viewer.user_id, idempotency_key)
        if earlier is not None:
            return await load_meeting(ctx, earlier)
    draft = await _draft(ctx, fields, None)
    await _checked_records(ctx, viewer, fields)
    key = idempotency_key or str(uuid.uuid4())
    event = await _call(
        _client(ctx, connection).create_event(
            draft, idempotency_key=f"{viewer.user_id}:{key}", send_invitations=send_invitations
        ),
        notify_field="sendInvitations",
    )
    meeting_id = await _store(
        ctx,
        viewer,
        connection,
        event,
        idempotency_key=idempotency_key,
        fields=fields,
    )
    return await load_meeting(ctx, meeting_id)


async def invitations_sent(ctx: Context, *, asked: bool) -> bool:
    """Whether the attendees were sent the invitations (updates, cancellations) a scheduling
    mutation asked for: False when none were asked for, or when the caller's calendar server
    sends none (a CalDAV server without RFC 6638 scheduling)."""
    if not asked:
        return False
    viewer = await ctx.viewer()
    client = _client(ctx, await _connection(ctx, viewer))
    if isinstance(client, SaysIfItInvites):
        return await _call(client.sends_invitations())
    return True


async def _own_meeting(ctx: Context, meeting_id: int) -> tuple[Viewer, ConnectionRow, MeetingRow]:
    """The caller's meeting with the calendar link that reaches its event. Whether the caller
    may change it at all was decided before (schema/permissions.py); here the event must still
    be in the calendar the caller has linked now."""
    viewer = await ctx.viewer()
    meeting = await load_meeting(ctx, meeting_id)
    connection = await _connection(ctx, viewer)
    if meeting.connection_id != connection.id or not meeting.provider_event_id:
        raise PreconditionFailed(
            "This meeting is not in the calendar you have linked now, so Chronik cannot change "
            "its calendar event."
        )
    return viewer, connection, meeting


async def update(
    ctx: Context, meeting_id: int, fields: MeetingFields, *, send_updates: bool
) -> MeetingRow:
    viewer, connection, meeting = await _own_meeting(ctx, meeting_id)
    if meeting.status == "cancelled":
        raise PreconditionFailed("This meeting was cancelled; schedule a new one instead.")
    draft = await _draft(ctx, fields, meeting)
    await _checked_records(ctx, viewer, fields)
    assert meeting.provider_event_id is not None
    event = await _call(
        _client(ctx, connection).update_event(
            meeting.provider_event_id, draft, etag=meeting.etag, send_updates=send_updates
        ),
        notify_field="sendUpdates",
    )
    await _store(ctx, viewer, connection, event, fields=fields)
    return await load_meeting(ctx, meeting_id)


async def _apply_removal(ctx: Context, account_id: int, meeting_id: int, *, delete: bool) -> None:
    async with ctx.pool.acquire() as conn, conn.transaction():
        changes: list[TimelineChange]
        if delete:
            changes = await scheduling_db.mark_deleted(conn, meeting_id)
        else:
            changes = await meetings_db.remove_meetings(conn, [meeting_id])
        await meetings_db.record_changes(conn, account_id, changes)
    ctx.loaders.forget_meeting(meeting_id)


async def cancel(ctx: Context, meeting_id: int, *, notify: bool) -> MeetingRow:
    """Cancel the meeting in the calendar (attendees notified) and take it off timelines."""
    viewer, connection, meeting = await _own_meeting(ctx, meeting_id)
    assert meeting.provider_event_id is not None
    await _call(_client(ctx, connection).cancel_event(meeting.provider_event_id, notify=notify))
    await _apply_removal(ctx, viewer.account_id, meeting_id, delete=False)
    return await load_meeting(ctx, meeting_id)


async def delete(ctx: Context, meeting_id: int, *, also_calendar_event: bool) -> None:
    """Remove the meeting from Chronik; the calendar event stays unless asked."""
    viewer = await ctx.viewer()
    meeting = await load_meeting(ctx, meeting_id)
    if also_calendar_event:
        _, connection, meeting = await _own_meeting(ctx, meeting_id)
        assert meeting.provider_event_id is not None
        await _call(_client(ctx, connection).delete_event(meeting.provider_event_id))
    await _apply_removal(ctx, viewer.account_id, meeting.id, delete=True)


async def free_busy(
    ctx: Context, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    viewer = await ctx.viewer()
    connection = await _connection(ctx, viewer)
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("start/end: include a UTC offset", field="start")
    if end <= start:
        raise ValidationFailed("end: must be after start", field="end")
    if end - start > MAX_FREE_BUSY_RANGE:
        raise ValidationFailed("end: at most 62 days after start", field="end")
    client = _client(ctx, connection)

    async def busy() -> list[tuple[datetime, datetime]]:
        try:
            return await client.free_busy(start, end)
        except NotSupported as exc:  # the account has no free/busy at all (a Microsoft MSA)
            raise PreconditionFailed(str(exc)) from None

    return await _call(busy())
