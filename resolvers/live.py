"""Live updates for subscriptions: a contact's timeline, and the caller's sync progress.

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
from db import timeline as timeline_db
from db.companies import CompanyEntryRow
from db.connections import ConnectionRow
from db.listen import LiveEvent, SubscriberTooSlow
from db.timeline import EntryRow, MeetingRow
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
class CompanyTimelineUpdate:
    kind: str  # added | updated | removed | resync
    entry: CompanyEntryRow | None
    meeting: MeetingRow | None
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


async def company_timeline_updates(
    ctx: Context, company_id: int
) -> AsyncIterator[CompanyTimelineUpdate]:
    """Every committed change of the timelines of the company's contacts, as a change of the
    company's timeline (one per meeting and notification), until the client leaves. The
    contacts are the company's when it subscribes: one added later needs a new subscription
    (the page subscribes again whenever it shows the company)."""
    viewer = await ctx.viewer()
    await caller_company(ctx, company_id)  # NOT_FOUND for another account's company
    members = await companies_db.member_ids(ctx.pool, viewer.account_id, company_id)
    ctx.renew_loaders()
    async with ctx.services.live_feed().subscribe(
        account_id=viewer.account_id, contact_ids=members
    ) as subscriber:
        last_batch: object = None
        reported: set[int] = set()
        try:
            async for event in subscriber.events():
                ctx.renew_loaders()
                if event.kind == "resync":
                    yield CompanyTimelineUpdate("resync", None, None)
                    continue
                assert event.meeting_id is not None
                # Two of its contacts on one meeting: one notification, one update.
                if event.batch is not last_batch:
                    last_batch, reported = event.batch, set()
                if event.meeting_id in reported:
                    continue
                reported.add(event.meeting_id)
                yield await event.shared(
                    ("company", company_id, event.meeting_id),
                    partial(_company_update, ctx, viewer.account_id, company_id, event),
                )
        except SubscriberTooSlow as exc:
            raise SubscriptionClosed(str(exc)) from None


async def _company_update(
    ctx: Context, account_id: int, company_id: int, event: LiveEvent
) -> CompanyTimelineUpdate:
    assert event.meeting_id is not None
    entry, meeting = await companies_db.timeline_entry(
        ctx.pool, account_id, company_id, event.meeting_id
    )
    if entry is None:
        return CompanyTimelineUpdate("removed", None, meeting)
    kind = "updated" if event.kind == "removed" else event.kind  # still on it by another
    return CompanyTimelineUpdate(kind, entry, meeting)


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
