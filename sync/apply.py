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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from db import contacts as contacts_db
from db import meetings as meetings_db
from db.meetings import AttendeeWrite, MeetingWrite, StoredMeeting, TimelineChange
from sync.address_book import AddressBook
from sync.model import Attendee, EventKind, ProviderEvent
from sync.rules import AccountContext, Action, Stored, decide, is_cancelled_week


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
    # The page's addresses not met before in this run, in one indexed query.
    context = await book.context_for_events(conn, events)
    ids = [e.provider_event_id for e in events]
    ids += [e.provider_alt_id for e in events if e.provider_alt_id]
    ids += {e.series_id for e in events if e.series_id}  # whether a series is frozen
    stored = await meetings_db.stored_meetings(conn, target.connection_id, ids)
    frozen_series = _frozen_series(events, context, stored)
    removes: list[int] = []
    freezes: list[int] = []
    seen_ids: list[int] = []
    upserts: list[tuple[ProviderEvent, frozenset[int], frozenset[str]]] = []
    for event in events:
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
    created = await _create_contacts(conn, target.account_id, upserts)
    book.learn_contacts(created)
    # One write per provider id: the last of the page's items for it wins.
    decided: dict[str, tuple[ProviderEvent, frozenset[int]]] = {}
    for event, contact_ids, new_emails in upserts:
        more = frozenset(created[email] for email in new_emails if email in created)
        decided[event.provider_event_id] = (event, contact_ids | more)
    _, changes = await store_meetings(conn, target, list(decided.values()))
    changes += await meetings_db.remove_meetings(conn, removes, seen_round=target.seen_round)
    await meetings_db.freeze_meetings(conn, freezes, target.seen_round)
    await meetings_db.mark_seen(conn, seen_ids, target.seen_round)
    # Series written, removed or frozen on this page, and series with a cancelled week on
    # it: their cancelled weeks follow the series' entry as it now stands.
    series_ids = sorted(
        {e.provider_event_id for e in events if e.kind is EventKind.SERIES or e.removed}
        | {e.series_id for e in events if e.series_id and is_cancelled_week(e)}
    )
    changes += await meetings_db.refresh_cancelled_weeks(
        conn, target.account_id, target.connection_id, series_ids
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
    if not decided:
        return [], []
    writes = [meeting_write(event, contact_ids) for event, contact_ids in decided]
    meeting_ids = await meetings_db.upsert_meetings(
        conn,
        account_id=target.account_id,
        connection_id=target.connection_id,
        source=target.source,
        seen_round=target.seen_round,
        writes=writes,
        created_by_user_id=created_by_user_id,
    )
    changes = await meetings_db.set_timelines(
        conn,
        target.account_id,
        [
            (mid, w.starts_at, w.contact_ids)
            for mid, w in zip(meeting_ids, writes, strict=True)
            # A cancelled week's contacts are its series' (rule 6), copied in SQL by
            # `refresh_cancelled_weeks` once the series itself is written.
            if not w.cancelled_week
        ],
    )
    return meeting_ids, changes


async def _create_contacts(
    conn: asyncpg.Connection,
    account_id: int,
    upserts: list[tuple[ProviderEvent, frozenset[int], frozenset[str]]],
) -> dict[str, int]:
    """Accounts that opted in get a contact for each unknown guest (rule 3's exception)."""
    wanted: dict[str, str | None] = {}
    for event, _, new_emails in upserts:
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
