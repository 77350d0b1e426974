"""The product's sync rules as pure functions: which timelines an event belongs on, and why.

No I/O here. The engine feeds each normalized event with the account's context and what it
already stored; the same functions give the test oracle.

1. Only the primary calendar is synced (the provider clients never read another one).
2. A guest (or the organizer who invited our user) whose address is a contact's address,
   primary or extra, case-insensitively, puts the meeting on that contact's timeline.
3. Other guests create nothing (unless the account opted in to creating contacts).
4. Members of the account are never logged: addresses at its internal domains, its users'
   addresses (and the calendar owner's), and addresses at the service's excluded domains.
5. Events created before the calendar was linked are never synced.
6. A recurring series is logged once, as its first occurrence; an occurrence that differs from
   the series (moved, edited, a response changed) is logged as a meeting of its own. A
   cancelled occurrence (one week of a weekly meeting) is logged as that week's meeting, with
   status cancelled, its original start and when it was cancelled, on the timelines of the
   series' contacts (whoever its own guest list names): those on the series' entry, which is
   untouched (a contact created after the series' last change is on neither until a full
   resync; nothing is backfilled).
   A series not logged gives its cancelled weeks no entries. Restoring the occurrence turns
   that entry back: an occurrence that still differs is that week's meeting again (rule 2's
   guests), one that no longer differs leaves the timelines, as the series stands for it.
7. Private events are not synced; an event that turns private after it was logged keeps its
   entries but is frozen: none of its later changes (cancellation included) are synced.
   A series is frozen with its weeks: a cancelled week logged before the freeze keeps its
   entries, as the series does, whatever the week does later (restored included), and a
   week cancelled after the freeze (or seen with it) is not logged.
8. Edits update the meeting everywhere; contact guests added or removed add or remove their
   entries; cancelling or deleting the event removes it from every timeline.
9. Cancel-and-restore, moves, time zones and all-day events keep one entry per meeting and
   contact (the schema's unique keys guarantee it; rules only say which set is wanted).
10. Meetings scheduled from Chronik come back under the provider id they were created with and
    update the same meeting (the engine's upsert key); nothing here treats them differently.
11. Only meetings are synced: focus time, out of office, working location, birthdays and the
    events a mail service makes from messages (flights, reservations) are a person's own time
    or reminders, never a meeting with a contact, whoever they name.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sync.model import EventKind, EventStatus, EventType, ProviderEvent


class Action(StrEnum):
    # Store the meeting and make its timeline entries exactly `contact_ids`.
    UPSERT = "upsert"
    # The event is gone (cancelled, deleted): mark the meeting cancelled, remove its entries.
    REMOVE = "remove"
    # Turned private after being logged: keep the entries, stop updating.
    FREEZE = "freeze"
    # Not synced: touch nothing.
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True)
class AccountContext:
    """What the rules know about the account. The engine fills it only with the addresses the
    events at hand carry (sync/address_book.py): an address or domain absent here is neither
    a contact's, a user's nor the account's own, so every address decided must have been looked
    up."""

    contact_ids_by_email: Mapping[str, int]
    internal_domains: AbstractSet[str]
    member_emails: AbstractSet[str]  # the account's users and the calendar owner
    excluded_domains: frozenset[str]
    linked_at: datetime
    auto_create_contacts: bool = False
    # What rules 2-4 say about each address, memoized: a page asks about the same few
    # addresses for hundreds of events. Derived from the fields above only,
    # so never passed in: `dataclasses.replace` gives the new context an empty memo.
    verdicts: dict[str, int | None] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )


@dataclass(frozen=True, slots=True)
class Stored:
    """What the engine already has for an event."""

    meeting_id: int
    frozen: bool
    cancelled: bool


class Reason(StrEnum):
    """Which rule decided, in words; machine-readable for `sync/explain.py`."""

    FROZEN = "rule 7: turned private after it was logged; frozen"
    SERIES_FROZEN = "rule 7: a week of a series that turned private after it was logged; frozen"
    CANCELLED_WEEK = "rule 6: a cancelled occurrence, logged as that week's meeting"
    RESTORED_OCCURRENCE = "rule 6: restored and unchanged again; the series stands for it"
    CANCELLED_UNLOGGED = "rule 8: cancelled, and not on any timeline"
    NOT_A_MEETING = "rule 11: not a meeting (focus time, out of office, working location, "
    "birthday, or made from an email)"
    CANCELLED = "rule 8: cancelled or deleted in the calendar"
    OCCURRENCE = "rule 6: an unchanged occurrence of a logged series"
    BEFORE_LINKING = "rule 5: created before the calendar was linked"
    TURNED_PRIVATE = "rule 7: turned private; kept but no longer synced"
    PRIVATE = "rule 7: private events are not synced"
    NO_CONTACT_GUEST = "rule 3: no guest is a contact"
    NO_CONTACT_GUEST_LEFT = "rule 8: no contact guest left"
    CONTACT_GUESTS = "rule 2: contact guests"


# Not frozen (built once per event; frozen dataclasses are several times slower to build).
@dataclass(slots=True)
class Decision:
    action: Action
    reason: Reason
    contact_ids: frozenset[int] = frozenset()
    # Guests who would become contacts (accounts that opted in to auto-creation only).
    new_contact_emails: frozenset[str] = field(default_factory=frozenset)


def _domain(email: str) -> str:
    return email.rpartition("@")[2]


def is_member(email: str, ctx: AccountContext) -> bool:
    """Rule 4: the account's own people (and the service's excluded addresses)."""
    domain = _domain(email)
    return (
        email in ctx.member_emails
        or domain in ctx.internal_domains
        or domain in ctx.excluded_domains
        or any(domain.endswith("." + excluded) for excluded in ctx.excluded_domains)
    )


# A verdict: a contact id (rule 2), MEMBER (rule 4) or None (rule 3: nobody we know).
MEMBER = -1
_UNSEEN = -2
# Bounds the memo (a calendar full of strangers must not grow the worker without end).
_VERDICTS_MAX = 50_000


def verdict(email: str, ctx: AccountContext) -> int | None:
    """Rules 2-4 for one address, memoized in `ctx`."""
    found = ctx.verdicts.get(email, _UNSEEN)
    if found != _UNSEEN:
        return found
    result = MEMBER if is_member(email, ctx) else ctx.contact_ids_by_email.get(email)
    if len(ctx.verdicts) >= _VERDICTS_MAX:
        ctx.verdicts.clear()
    ctx.verdicts[email] = result
    return result


def participants(event: ProviderEvent) -> list[str]:
    """Every address on the event: the guests and the organizer, lower-cased, no repeats."""
    emails = dict.fromkeys(a.email for a in event.attendees)
    if event.organizer_email:
        emails.setdefault(event.organizer_email)
    return [e for e in emails if e]


def is_cancelled_week(event: ProviderEvent) -> bool:
    """Rule 6: one cancelled occurrence of a series that goes on (not a deletion by id only,
    not the series itself)."""
    return (
        event.kind is EventKind.EXCEPTION
        and event.status is EventStatus.CANCELLED
        and not event.removed
        and event.series_id is not None
    )


def decide(
    event: ProviderEvent,
    ctx: AccountContext,
    stored: Stored | None,
    series_contacts: frozenset[int] = frozenset(),
    series_frozen: bool = False,
) -> Decision:
    """Which timelines `event` belongs on. `stored` is what the engine already has for it;
    `series_contacts`, for an occurrence, the contacts on its series' entry (empty when the
    series is not logged or is frozen): a cancelled week goes on their timelines (rule 6).
    `series_frozen`: the event's series turned private after it was logged (rule 7), before
    or together with this change of one of its weeks."""
    if stored is not None and stored.frozen:
        return Decision(Action.IGNORE, Reason.FROZEN)
    if series_frozen and (is_cancelled_week(event) or (stored is not None and stored.cancelled)):
        # Rule 7 before rule 6: a frozen series' weeks are frozen with it. A week cancelled
        # later is not logged; one logged before keeps its entries, even once restored.
        return Decision(Action.IGNORE, Reason.SERIES_FROZEN)
    if is_cancelled_week(event):
        # Stored even while the series has no contact: its week follows the series' entry.
        return Decision(Action.UPSERT, Reason.CANCELLED_WEEK, series_contacts)
    if event.removed or event.status is EventStatus.CANCELLED:
        # A deleted item takes even a cancelled meeting's entries along: a cancelled week
        # Outlook kept as an item is, once deleted, named by its series (Graph's
        # cancelledOccurrences) under another key.
        if stored is None or (stored.cancelled and not event.removed):
            return Decision(Action.IGNORE, Reason.CANCELLED_UNLOGGED)
        return Decision(Action.REMOVE, Reason.CANCELLED)
    if event.event_type is not EventType.MEETING:
        if stored is None or stored.cancelled:
            return Decision(Action.IGNORE, Reason.NOT_A_MEETING)
        return Decision(Action.REMOVE, Reason.NOT_A_MEETING)
    if event.kind is EventKind.OCCURRENCE:
        if stored is not None:
            return Decision(Action.REMOVE, Reason.RESTORED_OCCURRENCE)
        return Decision(Action.IGNORE, Reason.OCCURRENCE)
    if event.created_at is not None and event.created_at < ctx.linked_at:
        return Decision(Action.IGNORE, Reason.BEFORE_LINKING)
    if event.private:
        if stored is not None:
            return Decision(Action.FREEZE, Reason.TURNED_PRIVATE)
        return Decision(Action.IGNORE, Reason.PRIVATE)
    contacts: set[int] = set()
    unknown: set[str] = set()
    for email in participants(event):
        contact_id = verdict(email, ctx)
        if contact_id is None:
            unknown.add(email)
        elif contact_id != MEMBER:
            contacts.add(contact_id)
    new_contacts = frozenset(unknown) if ctx.auto_create_contacts else frozenset()
    if not contacts and not new_contacts:
        if stored is None:
            return Decision(Action.IGNORE, Reason.NO_CONTACT_GUEST)
        return Decision(Action.UPSERT, Reason.NO_CONTACT_GUEST_LEFT)
    return Decision(Action.UPSERT, Reason.CONTACT_GUESTS, frozenset(contacts), new_contacts)
