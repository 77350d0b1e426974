"""Live updates for subscriptions: the timeline of a contact, a company, a deal or a ticket,
and the caller's sync progress.

Payloads of notifications are ids only; what a subscriber shows is loaded here, fresh for every
event (a websocket lives long; cached rows would go stale), and once per event for all the
subscribers of the contact in this process (they are of one account and see the same rows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from db import companies as companies_db
from db import connections as connections_db
from db import records as records_db
from db import timeline as timeline_db
from db.companies import CompanyEntryRow
from db.connections import ConnectionRow
from db.listen import LiveEvent, SubscriberTooSlow
from db.records import RecordEntryRow, RecordKind
from db.timeline import EntryRow, MeetingRow
from resolvers import records
from resolvers.companies import company as caller_company
from resolvers.contacts import contact as caller_contact
from resolvers.context import Context
from resolvers.errors import ChronikError, NotFound


class SubscriptionClosed(ChronikError):
    """The server closed the subscription (it fell behind); subscribe again and refetch."""

    code = "SUBSCRIPTION_CLOSED"


@dataclass(frozen=True)
class TimelineUpdate:
    kind: str  # added | updated | removed | resync
    entry: EntryRow | None
    meeting: MeetingRow | None
    # One update object is handed to every subscriber of the contact in this process; what the
    # schema layer derives from it once (its GraphQL object) is kept here for the others.
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


async def timeline_updates(ctx: Context, contact_id: int) -> AsyncIterator[TimelineUpdate]:
    """Every committed change of the contact's timeline, until the client leaves."""
    viewer = await ctx.viewer()
    await caller_contact(ctx, contact_id)  # NOT_FOUND for another account's contact
    # What the check loaded would sit in every idle subscription until its first event.
    ctx.renew_loaders()
    async with ctx.services.live_feed().subscribe(
        account_id=viewer.account_id, contact_id=contact_id
    ) as subscriber:
        try:
            async for event in subscriber.events():
                ctx.renew_loaders()
                if event.kind == "resync":
                    yield TimelineUpdate("resync", None, None)
                    continue
                updates = await event.shared(
                    ("timeline", viewer.account_id),
                    partial(_load_updates, ctx, viewer.account_id, event),
                )
                assert event.meeting_id is not None
                yield updates[contact_id, event.meeting_id]
        except SubscriberTooSlow as exc:
            raise SubscriptionClosed(str(exc)) from None


@dataclass(frozen=True)
class RecordTimelineUpdate:
    """A change of a company's, a deal's or a ticket's timeline."""

    kind: str  # added | updated | removed | resync
    entry: CompanyEntryRow | RecordEntryRow | None
    meeting: MeetingRow | None
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


async def company_timeline_updates(
    ctx: Context, company_id: int
) -> AsyncIterator[RecordTimelineUpdate]:
    """Every committed change of the company's timeline (one per meeting and notification)
    until the client leaves: its contacts' meetings, its contacts as they are at each change
    (one added later is followed from then on, one removed no longer), and the meetings
    scheduled from it. A contact joining or leaving is a "resync": the timeline gained or lost
    all of that contact's meetings at once."""
    viewer = await ctx.viewer()
    account_id = viewer.account_id
    await caller_company(ctx, company_id)  # NOT_FOUND for another account's company
    ctx.renew_loaders()
    # Every timeline notification of the account (a "batch" event), so that whoever is a
    # member at the time is followed; and the meetings scheduled from the company.
    async with ctx.services.live_feed().subscribe(
        account_id=account_id, keys=[("account", account_id), ("company", company_id)]
    ) as subscriber:
        said = _Said()
        try:
            async for event in subscriber.events():
                ctx.renew_loaders()
                if event.kind == "resync":
                    said.forget()
                    yield RecordTimelineUpdate("resync", None, None)
                    continue
                if event.kind != "batch":  # scheduled from the company: linked, changed
                    assert event.meeting_id is not None
                    update = await _company_update(ctx, account_id, company_id, event, event.kind)
                    if said.news(update):
                        yield update
                    continue
                # The companies of the notification's contacts, once for all its subscribers.
                companies = await event.shared(
                    ("companies of", account_id), partial(_companies_of, ctx, account_id, event)
                )
                reported: set[int] = set()
                for contact_id, meeting_id, kind in event.batch:
                    # Two of its contacts on one meeting: one notification, one update.
                    if meeting_id in reported or company_id not in companies.get(contact_id, ()):
                        continue
                    reported.add(meeting_id)
                    update = await _company_update(
                        ctx, account_id, company_id, event, kind, meeting_id
                    )
                    if said.news(update):
                        yield update
        except SubscriberTooSlow as exc:
            raise SubscriptionClosed(str(exc)) from None


class _Said:
    """The last update a record's subscriber was sent. One commit can announce a meeting of a
    record more than once (the meeting rewritten, then its links; a company's contact on it and
    the company's own link): each loads the same rows, and only the first is news."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[object, ...] | None = None

    def news(self, update: RecordTimelineUpdate) -> bool:
        # ADDED and UPDATED of the same rows say the same: the entry as it is.
        said = (update.kind == "removed", update.entry, update.meeting)
        if said == self.last:
            return False
        self.last = said
        return True

    def forget(self) -> None:
        self.last = None


async def _companies_of(ctx: Context, account_id: int, event: LiveEvent) -> dict[int, set[int]]:
    contacts = sorted({contact_id for contact_id, _, _ in event.batch})
    found = await companies_db.company_ids_of_contacts(ctx.pool, account_id, contacts)
    return {contact_id: set(ids) for contact_id, ids in found.items()}


async def _company_update(
    ctx: Context,
    account_id: int,
    company_id: int,
    event: LiveEvent,
    kind: str,
    meeting_id: int | None = None,
) -> RecordTimelineUpdate:
    """The company's update for a meeting, loaded once for every subscriber of the company."""
    meeting_id = meeting_id if meeting_id is not None else event.meeting_id
    assert meeting_id is not None

    async def load() -> RecordTimelineUpdate:
        entry, meeting = await companies_db.timeline_entry(
            ctx.pool, account_id, company_id, meeting_id
        )
        return _record_update(kind, entry, meeting)

    return await event.shared(("company", company_id, meeting_id), load)


def _record_update(
    kind: str, entry: CompanyEntryRow | RecordEntryRow | None, meeting: MeetingRow | None
) -> RecordTimelineUpdate:
    if entry is None:
        return RecordTimelineUpdate("removed", None, meeting)
    if kind == "removed":  # still on it (by another contact, or scheduled from it)
        kind = "updated"
    return RecordTimelineUpdate(kind, entry, meeting)


async def record_timeline_updates(
    ctx: Context, kind: RecordKind, record_id: int
) -> AsyncIterator[RecordTimelineUpdate]:
    """Every committed change of a deal's or a ticket's timeline (the meetings scheduled from
    it: linked, unlinked, changed, cancelled or deleted), until the client leaves."""
    viewer = await ctx.viewer()
    account_id = viewer.account_id
    if not await records_db.existing_ids(ctx.pool, kind, account_id, [record_id]):
        raise records.not_found(kind)  # NOT_FOUND for another account's record
    ctx.renew_loaders()
    key = _RECORD_KEYS[kind.table]
    async with ctx.services.live_feed().subscribe(
        account_id=account_id, keys=[(key, record_id)]
    ) as subscriber:
        said = _Said()
        try:
            async for event in subscriber.events():
                ctx.renew_loaders()
                if event.kind == "resync":
                    said.forget()
                    yield RecordTimelineUpdate("resync", None, None)
                    continue
                meeting_id = event.meeting_id
                assert meeting_id is not None
                update = await event.shared(
                    (key, record_id, meeting_id),
                    partial(_load_record_update, ctx, kind, account_id, record_id, event),
                )
                if said.news(update):
                    yield update
        except SubscriberTooSlow as exc:
            raise SubscriptionClosed(str(exc)) from None


_RECORD_KEYS = {"deals": "deal", "tickets": "ticket"}


async def _load_record_update(
    ctx: Context, kind: RecordKind, account_id: int, record_id: int, event: LiveEvent
) -> RecordTimelineUpdate:
    assert event.meeting_id is not None
    entry, meeting = await records_db.timeline_entry(
        ctx.pool, kind, account_id, record_id, event.meeting_id
    )
    return _record_update(event.kind, entry, meeting)


async def _load_updates(
    ctx: Context, account_id: int, event: LiveEvent
) -> dict[tuple[int, int], TimelineUpdate]:
    """The update of every (contact, meeting) of the event's notification that has subscribers
    here, in two queries whatever their number (all of one account: the notification's)."""
    batch = event.batch
    if not batch:
        assert event.contact_id is not None and event.meeting_id is not None
        batch = ((event.contact_id, event.meeting_id, event.kind),)
    pairs = [(contact_id, meeting_id) for contact_id, meeting_id, _ in batch]
    entries = await timeline_db.entries_for_pairs(ctx.pool, account_id, pairs)
    # Off the timeline now (whatever the notification said): removed, with the meeting if any.
    gone = sorted({meeting for contact, meeting in pairs if (contact, meeting) not in entries})
    meetings = await timeline_db.meetings_by_ids(ctx.pool, account_id, gone) if gone else {}
    updates: dict[tuple[int, int], TimelineUpdate] = {}
    for contact_id, meeting_id, kind in batch:
        entry = entries.get((contact_id, meeting_id))
        if entry is not None:
            updates[contact_id, meeting_id] = TimelineUpdate(kind, entry, entry.meeting)
        else:
            updates[contact_id, meeting_id] = TimelineUpdate(
                "removed", None, meetings.get(meeting_id)
            )
    return updates


async def sync_state_updates(ctx: Context) -> AsyncIterator[ConnectionRow]:
    """The caller's connection now, then again after every page and at the end of each run."""
    viewer = await ctx.viewer()
    row = await connections_db.connection_for_user(ctx.pool, viewer.user_id)
    if row is None:
        raise NotFound("You have no linked calendar.")
    yield row
    async with ctx.services.live_feed().subscribe(
        account_id=viewer.account_id, user_id=viewer.user_id
    ) as subscriber:
        try:
            async for _ in subscriber.events():
                current = await connections_db.connection_for_user(ctx.pool, viewer.user_id)
                if current is not None:
                    yield current
        except SubscriberTooSlow as exc:
            raise SubscriptionClosed(str(exc)) from None
