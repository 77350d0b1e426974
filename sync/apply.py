"""Provider events onto meetings and timelines: the one step both the sync and scheduling take.

An event is decided with the product's rules (sync/rules.py), turned into the meeting Chronik
stores (`meeting_write`), and written with its timeline entries (`store_meetings`: the
meetings upserted, their entries set). The sync engine applies a page of a connection's
change feed (`apply_page`); scheduling applies the one event the provider confirmed
(`apply_scheduled`). Both store through `store_meetings`, so a meeting scheduled from Chronik
is stored as the sync stores it when it comes back (rule 10). The caller owns the
transaction; the SQL is in db/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import asyncpg

from db import contacts as contacts_db
from db import meetings as meetings_db
from db.meetings import AttendeeWrite, MeetingWrite, StoredMeeting, TimelineChange
from db.types import Executor
from sync.address_book import AddressBook
from sync.model import Attendee, EventKind, ProviderEvent
from sync.rules import AccountContext, Action, Stored, decide, is_cancelled_week

# Planning a page runs beside the transactions of the pages before it on the same event
# loop: it gives the loop back every this many events, so their next statements are sent
# soon after PostgreSQL answers, not after the whole page is decided. With two pages'
# transactions at once, 50 instead of 250 took single-calendar throughput from 21.6-25.6k
# to 25.2-28.0k events/s (bench/RESULTS.md); 20 was no better than 50.
YIELD_EVERY = 50


@dataclass(frozen=True, slots=True)
class Target:
    """Where events are applied: the account, the calendar connection whose events they are,
    the meetings' source (the provider's name, or "crm" for a meeting scheduled from
    Chronik) and the sync round that saw them."""

    account_id: int
    connection_id: int
    source: str
    seen_round: int


async def apply_page(
    conn: asyncpg.Connection, target: Target, book: AddressBook, events: list[ProviderEvent]
) -> list[TimelineChange]:
    """Apply one page of a connection's change feed: every event decided against what is
    stored for it, the meetings written, removed, frozen or marked seen, the cancelled weeks
    of the series it touches refreshed. Returns the timeline changes (not yet recorded)."""
    plan = await plan_page(conn, target, book, events)
    return await write_plan(conn, target, book, plan)


@dataclass(slots=True)
class PagePlan:
    """A page decided, with the rows it writes built: everything of `apply_page` that only
    reads. The sync engine makes the next page's plan while the current page's transaction
    runs in PostgreSQL, and writes it in its own transaction if nothing it read may have
    changed meanwhile (`still_holds`); otherwise that page is planned again in it."""

    events: list[ProviderEvent]
    # What the plan read: the meetings stored under these provider ids (main or
    # alternative), and the address book as it stood at this many learnt contacts.
    keys: frozenset[str]
    book_version: int
    # The provider ids (main and alternative) of every meeting writing this plan may change:
    # `keys` and the other ids of the stored meetings found under them.
    touched: frozenset[str]
    removes: list[int]
    freezes: list[int]
    seen_ids: list[int]
    # Each UPSERT with its decided contacts and the guests to create as contacts (rule 3's
    # exception); `writes` are the meetings to store, one per provider id (the last of the
    # page's items for it), in `write_rows`' order, built for the upsert already.
    upserts: list[tuple[ProviderEvent, frozenset[int], frozenset[str]]]
    writes: list[MeetingWrite]
    write_rows: str
    # Per write: the guests its decision would make contacts.
    new_contact_emails: list[frozenset[str]]
    series_ids: list[str]

    def still_holds(self, book: AddressBook, written: AbstractSet[str] | None) -> bool:
        """Whether this plan may be written as decided after a page that wrote the meetings
        under the provider ids `written` (None: any meeting of the connection, e.g. the
        sweep at the end of a full round): none of those ids is one this plan read, and the
        address book learnt no contact since (an auto-created guest is a contact now)."""
        if self.book_version != book.version:
            return False
        return written is not None and self.keys.isdisjoint(written)


async def plan_page(
    db: Executor, target: Target, book: AddressBook, events: list[ProviderEvent]
) -> PagePlan:
    """Decide a page against what is stored (read through `db`) and build its rows; writes
    nothing."""
    book_version = book.version
    # The page's addresses not met before in this run, in one indexed query.
    context = await book.context_for_events(db, events)
    ids = [e.provider_event_id for e in events]
    ids += [e.provider_alt_id for e in events if e.provider_alt_id]
    ids += {e.series_id for e in events if e.series_id}  # whether a series is frozen
    stored = await meetings_db.stored_meetings(db, target.connection_id, ids)
    frozen_series = _frozen_series(events, context, stored)
    removes: list[int] = []
    freezes: list[int] = []
    seen_ids: list[int] = []
    upserts: list[tuple[ProviderEvent, frozenset[int], frozenset[str]]] = []
    for position, event in enumerate(events):
        if position % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)  # see YIELD_EVERY
        known = stored.get(event.provider_event_id)
        series_frozen = event.kind is not EventKind.SERIES and event.series_id in frozen_series
        week = _cancelled_week_of(event, stored)
        if week is not None and week is not known:
            if known is None and event.kind is EventKind.OCCURRENCE:
                known = week  # back as a plain occurrence: the rule takes the week off
            elif not week.frozen and not series_frozen:
                removes.append(week.meeting_id)  # back as a changed occurrence
        decision = decide(event, context, _as_stored(known), series_frozen=series_frozen)
        if decision.action is Action.UPSERT:
            upserts.append((event, decision.contact_ids, decision.new_contact_emails))
        elif decision.action is Action.REMOVE and known is not None:
            removes.append(known.meeting_id)
        elif decision.action is Action.FREEZE and known is not None:
            freezes.append(known.meeting_id)
        elif known is not None:
            seen_ids.append(known.meeting_id)
    # One write per provider id: the last of the page's items for it wins.
    decided: dict[str, tuple[ProviderEvent, frozenset[int], frozenset[str]]] = {}
    for upsert in upserts:
        decided[upsert[0].provider_event_id] = upsert
    writes = []
    for event, contact_ids, _ in decided.values():
        writes.append(meeting_write(event, contact_ids))
        if len(writes) % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    # Series written, removed or frozen on this page, and series with a cancelled week on
    # it: their cancelled weeks follow the series' entry as it now stands.
    series_ids = sorted(
        {e.provider_event_id for e in events if e.kind is EventKind.SERIES or e.removed}
        | {e.series_id for e in events if e.series_id and is_cancelled_week(e)}
    )
    keys = frozenset(ids)
    return PagePlan(
        events=events,
        keys=keys,
        book_version=book_version,
        touched=keys.union(
            *(
                (m.provider_event_id, m.provider_alt_id or m.provider_event_id)
                for m in stored.values()
            )
        ),
        removes=removes,
        freezes=freezes,
        seen_ids=seen_ids,
        upserts=upserts,
        writes=writes,
        write_rows=meetings_db.meeting_rows_json(writes),
        new_contact_emails=[new_emails for _, _, new_emails in decided.values()],
        series_ids=series_ids,
    )


async def write_plan(
    conn: asyncpg.Connection, target: Target, book: AddressBook, plan: PagePlan
) -> list[TimelineChange]:
    """Write a planned page (in the caller's transaction); returns the timeline changes."""
    created = await _create_contacts(conn, target.account_id, plan.upserts)
    book.learn_contacts(created)
    if created:
        # Guests just made contacts join the timelines of the meetings they are on.
        for write, new_emails in zip(plan.writes, plan.new_contact_emails, strict=True):
            more = frozenset(created[email] for email in new_emails if email in created)
            if more:
                write.contact_ids = write.contact_ids | more
    _, changes = await _store_writes(conn, target, plan.writes, plan.write_rows)
    changes += await meetings_db.remove_meetings(conn, plan.removes, seen_round=target.seen_round)
    await meetings_db.freeze_meetings(conn, plan.freezes, target.seen_round)
    await meetings_db.mark_seen(conn, plan.seen_ids, target.seen_round)
    changes += await meetings_db.refresh_cancelled_weeks(
        conn, target.account_id, target.connection_id, plan.series_ids
    )
    return changes


async def apply_scheduled(
    conn: asyncpg.Connection,
    target: Target,
    book: AddressBook,
    event: ProviderEvent,
    *,
    created_by_user_id: int,
) -> int:
    """Store the event a user scheduled (or changed) from Chronik, as the provider confirmed
    it, with the timeline entries the sync's rules give it, and record those changes; returns
    the meeting's id. It is stored whatever the rules say of its timelines (a meeting with no
    contact guest is still the user's meeting), and creates no contacts: the sync does, for
    accounts that opted in, when the event comes back."""
    context = await book.context_for_events(conn, [event])
    # The same rules as the sync, so the round trip (rule 10) changes nothing.
    decision = decide(event, context, None)
    contacts = decision.contact_ids if decision.action is Action.UPSERT else frozenset()
    (meeting_id,), changes = await store_meetings(
        conn, target, [(event, contacts)], created_by_user_id=created_by_user_id
    )
    await meetings_db.record_changes(conn, target.account_id, changes)
    return meeting_id


async def store_meetings(
    conn: asyncpg.Connection,
    target: Target,
    decided: Sequence[tuple[ProviderEvent, frozenset[int]]],
    *,
    created_by_user_id: int | None = None,
) -> tuple[list[int], list[TimelineChange]]:
    """Upsert the meetings of the decided events (each with the contacts whose timelines it
    belongs on) and make their timeline entries exactly those contacts; returns the meeting
    ids in `decided` order and the timeline changes."""
    writes = [meeting_write(event, contact_ids) for event, contact_ids in decided]
    return await _store_writes(
        conn,
        target,
        writes,
        meetings_db.meeting_rows_json(writes),
        created_by_user_id=created_by_user_id,
    )


async def _store_writes(
    conn: asyncpg.Connection,
    target: Target,
    writes: Sequence[MeetingWrite],
    rows_json: str,
    *,
    created_by_user_id: int | None = None,
) -> tuple[list[int], list[TimelineChange]]:
    if not writes:
        return [], []
    upserted = await meetings_db.write_meetings(
        conn,
        account_id=target.account_id,
        connection_id=target.connection_id,
        source=target.source,
        seen_round=target.seen_round,
        writes=writes,
        rows_json=rows_json,
        created_by_user_id=created_by_user_id,
    )
    changes = await meetings_db.set_timelines(
        conn,
        target.account_id,
        [
            (mid, w.starts_at, w.contact_ids)
            for mid, w in zip(upserted.ids, writes, strict=True)
            # A cancelled week's contacts are its series' (rule 6), copied in SQL by
            # `refresh_cancelled_weeks` once the series itself is written.
            if not w.cancelled_week
        ],
        new_meetings=upserted.inserted,
    )
    return upserted.ids, changes


async def _create_contacts(
    conn: asyncpg.Connection,
    account_id: int,
    upserts: list[tuple[ProviderEvent, frozenset[int], frozenset[str]]],
) -> dict[str, int]:
    """Accounts that opted in get a contact for each unknown guest (rule 3's exception)."""
    wanted: dict[str, str | None] = {}
    for event, _, new_emails in upserts:
        if not new_emails:
            continue
        names = {a.email: a.display_name for a in event.attendees}
        for email in new_emails:
            wanted.setdefault(email, names.get(email))
    if not wanted:
        return {}
    return await contacts_db.create_guest_contacts(conn, account_id, wanted)


def _frozen_series(
    events: Sequence[ProviderEvent],
    context: AccountContext,
    stored: Mapping[str, StoredMeeting],
) -> set[str]:
    """The series whose weeks rule 7 freezes: those frozen before this page (not deleted in
    Chronik, which freezes a meeting too but leaves its weeks to rule 6) and those that freeze
    on it, so a week seen with its series' freeze is frozen whatever the page's order."""
    frozen = {
        series_id
        for e in events
        if (series_id := e.series_id)
        and (series := stored.get(series_id)) is not None
        and series.provider_event_id == series_id
        and series.frozen
        and not series.deleted
    }
    for event in events:
        if event.kind is EventKind.SERIES and event.provider_event_id not in frozen:
            decision = decide(event, context, _as_stored(stored.get(event.provider_event_id)))
            if decision.action is Action.FREEZE:
                frozen.add(event.provider_event_id)
    return frozen


def _cancelled_week_of(
    event: ProviderEvent, stored: Mapping[str, StoredMeeting]
) -> StoredMeeting | None:
    """The cancelled week stored under this occurrence's alternative id (Graph keys a deleted
    occurrence by its occurrenceId), when the occurrence itself is back."""
    alt = event.provider_alt_id
    if alt is None or event.removed or is_cancelled_week(event):
        return None
    week = stored.get(alt)
    if week is None or week.provider_event_id != alt or not week.cancelled:
        return None
    return week


def _as_stored(known: StoredMeeting | None) -> Stored | None:
    if known is None:
        return None
    return Stored(known.meeting_id, known.frozen, known.cancelled)


def meeting_write(event: ProviderEvent, contact_ids: frozenset[int]) -> MeetingWrite:
    """How a provider event is stored, with the contacts whose timelines it belongs on."""
    cancelled_week = is_cancelled_week(event)
    return MeetingWrite(
        provider_event_id=event.provider_event_id,
        provider_alt_id=event.provider_alt_id,
        ical_uid=event.ical_uid,
        kind=event.kind.value,
        series_id=event.series_id,
        original_start=event.original_start,
        title=event.title,
        description=event.description,
        location=event.location,
        # A cancelled occurrence may come with its original start only.
        starts_at=event.starts_at or (event.original_start if cancelled_week else None),
        ends_at=event.ends_at,
        time_zone=event.time_zone,
        all_day=event.all_day,
        status=event.status.value,
        organizer_email=event.organizer_email,
        provider_created_at=event.created_at,
        provider_updated_at=event.updated_at,
        etag=event.etag,
        attendees=_one_per_address(event.attendees),
        contact_ids=contact_ids,
        cancelled_week=cancelled_week,
        cancelled_at=event.updated_at if cancelled_week else None,
    )


def _one_per_address(attendees: Iterable[Attendee]) -> list[AttendeeWrite]:
    """The guests as stored, one per address: a provider may list an address twice (Graph
    keeps "Ana@x.com" next to "ana@x.com"), addresses are stored lower-cased and keyed."""
    kept: dict[str, AttendeeWrite] = {}
    for a in attendees:
        if a.email not in kept or (a.is_organizer and not kept[a.email].is_organizer):
            kept[a.email] = AttendeeWrite(a.email, a.display_name, a.response.value, a.is_organizer)
    return list(kept.values())
