"""Why a calendar event is, or is not, on contact timelines: the sync's own decision, explained.

Pure functions, no I/O. `explain` runs the event through `sync.rules.decide` — the very function
the engine applies — and compares the decision with what Chronik holds for the event now, so an
answer never disagrees with the sync: either the timelines already show what the rules want
(the rule that decided is the reason), or the sync has not applied it yet (or is failing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sync.model import ProviderEvent
from sync.rules import (
    AccountContext,
    Action,
    Decision,
    Reason,
    Stored,
    decide,
    participants,
    verdict,
)


class Verdict(StrEnum):
    """The reason an explanation gives, one per rule outcome (see `sentence` for the words)."""

    ON_TIMELINE = "on_timeline"
    NOT_SYNCED_YET = "not_synced_yet"
    SYNC_FAILING = "sync_failing"
    CREATED_BEFORE_LINKING = "created_before_linking"
    PRIVATE = "private"
    FROZEN = "frozen"
    NO_CONTACT_GUEST = "no_contact_guest"
    ONLY_COLLEAGUES = "only_colleagues"
    OCCURRENCE_OF_SERIES = "occurrence_of_series"
    CANCELLED = "cancelled"
    NOT_A_MEETING = "not_a_meeting"
    REMOVED_IN_CHRONIK = "removed_in_chronik"


@dataclass(frozen=True, slots=True)
class Held:
    """What Chronik holds for the event: its meeting (None: never stored) and the contacts
    whose timelines show it now."""

    stored: Stored | None
    removed_in_chronik: bool = False
    on_timelines: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class SyncHealth:
    """How the calendar's sync stands: `last_error` is set while it is failing."""

    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    verdict: Verdict
    event: ProviderEvent
    # The contacts whose timelines show the event, or will once the sync catches up.
    contact_ids: frozenset[int]
    # The contacts whose timelines show it right now.
    on_timelines: frozenset[int]
    # Addresses on the event that match no contact and no colleague.
    unmatched: tuple[str, ...] = ()
    linked_at: datetime | None = None
    last_error: str | None = None
    # For an occurrence: the explanation of its series.
    series: Explanation | None = None


_SETTLED = {
    Reason.FROZEN: Verdict.FROZEN,
    Reason.TURNED_PRIVATE: Verdict.FROZEN,
    Reason.SERIES_FROZEN: Verdict.FROZEN,
    Reason.CANCELLED_UNLOGGED: Verdict.CANCELLED,
    Reason.CANCELLED: Verdict.CANCELLED,
    Reason.CANCELLED_WEEK: Verdict.CANCELLED,
    Reason.OCCURRENCE: Verdict.OCCURRENCE_OF_SERIES,
    Reason.RESTORED_OCCURRENCE: Verdict.OCCURRENCE_OF_SERIES,
    Reason.BEFORE_LINKING: Verdict.CREATED_BEFORE_LINKING,
    Reason.PRIVATE: Verdict.PRIVATE,
    Reason.NOT_A_MEETING: Verdict.NOT_A_MEETING,
    Reason.CONTACT_GUESTS: Verdict.ON_TIMELINE,
}


def explain(
    event: ProviderEvent, ctx: AccountContext, held: Held, health: SyncHealth
) -> Explanation:
    """The decision the sync makes for `event` (as the provider reports it now), as a verdict.

    `ctx` needs only the event's own addresses in `contact_ids_by_email`. An occurrence's
    `series` is left for the caller to fill (it has to read the series first).
    """
    decision = decide(event, ctx, held.stored)
    # A cancelled week's contacts are its series' (rule 6), copied by the sync in SQL; they
    # are not this event's to judge, so it is taken as the sync left it.
    wanted = (
        held.on_timelines if decision.reason is Reason.CANCELLED_WEEK else _wanted(decision, held)
    )
    unmatched = tuple(e for e in participants(event) if verdict(e, ctx) is None)
    base = Explanation(
        verdict=Verdict.ON_TIMELINE,
        event=event,
        contact_ids=wanted,
        on_timelines=held.on_timelines,
        unmatched=unmatched,
        linked_at=ctx.linked_at,
    )
    if held.removed_in_chronik:
        return _with(base, Verdict.REMOVED_IN_CHRONIK)
    if wanted != held.on_timelines or decision.new_contact_emails:
        # The rules want other timelines than the ones showing it: the sync is behind.
        if health.last_error is not None:
            return _with(base, Verdict.SYNC_FAILING, last_error=health.last_error)
        return _with(base, Verdict.NOT_SYNCED_YET)
    if decision.reason in (Reason.NO_CONTACT_GUEST, Reason.NO_CONTACT_GUEST_LEFT):
        if unmatched:
            return _with(base, Verdict.NO_CONTACT_GUEST)
        return _with(base, Verdict.ONLY_COLLEAGUES)
    return _with(base, _SETTLED[decision.reason])


def _wanted(decision: Decision, held: Held) -> frozenset[int]:
    """The contacts whose timelines show the event once the sync has applied `decision`."""
    if decision.action is Action.UPSERT:
        return decision.contact_ids
    if decision.action is Action.REMOVE:
        return frozenset()
    # FREEZE and IGNORE leave the entries as they are.
    return held.on_timelines


def _with(base: Explanation, verdict: Verdict, **changes: Any) -> Explanation:
    return replace(base, verdict=verdict, **changes)


def with_series(explanation: Explanation, series: Explanation) -> Explanation:
    """An occurrence's explanation completed with its series': its contacts are the series'."""
    return _with(
        explanation,
        explanation.verdict,
        series=series,
        contact_ids=series.contact_ids,
        on_timelines=series.on_timelines,
    )


# -- words ---------------------------------------------------------------------------------


def sentence(explanation: Explanation, names: Callable[[int], str]) -> str:
    """The explanation for a person, in one or two sentences; `names` gives a contact's name."""
    event = explanation.event
    title = f"“{event.title}”" if event.title else "This event"
    now = _people(explanation.on_timelines, names)
    wanted = _people(explanation.contact_ids, names)
    match explanation.verdict:
        case Verdict.ON_TIMELINE:
            return f"{title} is on the timeline of {wanted}."
        case Verdict.NOT_SYNCED_YET | Verdict.SYNC_FAILING:
            where = f"on the timeline of {wanted}" if wanted else "on no timeline"
            shown = f"now it is on the timeline of {now}" if now else "it is on no timeline yet"
            text = f"{title} belongs {where}, but Chronik has not synced its latest state: {shown}."
            if explanation.verdict is Verdict.SYNC_FAILING:
                return f"{text} Syncing your calendar is failing: {explanation.last_error}"
            return f"{text} The next sync brings it up to date."
        case Verdict.CREATED_BEFORE_LINKING:
            created = _day(event.created_at)
            linked = _day(explanation.linked_at)
            return (
                f"{title} was created on {created}, before your calendar was linked on {linked}; "
                "Chronik only logs events created after linking."
            )
        case Verdict.PRIVATE:
            return f"{title} is private; Chronik does not log private events."
        case Verdict.FROZEN:
            kept = f"it stays on the timeline of {now}" if now else "it is on no timeline"
            return (
                f"{title} turned private after it was logged: {kept}, "
                "but its changes are no longer synced."
            )
        case Verdict.NO_CONTACT_GUEST:
            return (
                f"No guest of {title} is a contact: {_listed(explanation.unmatched)} "
                f"{'matches' if len(explanation.unmatched) == 1 else 'match'} no contact."
            )
        case Verdict.ONLY_COLLEAGUES:
            return (
                f"{title} has only colleagues as guests; meetings among colleagues are not logged."
            )
        case Verdict.OCCURRENCE_OF_SERIES:
            text = (
                f"{title} is one occurrence of a recurring series, which is logged once, "
                "as its first occurrence."
            )
            if explanation.series is not None:
                return f"{text} {sentence(explanation.series, names)}"
            return text
        case Verdict.CANCELLED:
            return f"{title} was cancelled or deleted in the calendar, so it is on no timeline."
        case Verdict.NOT_A_MEETING:
            return (
                f"{title} is not a meeting (focus time, out of office, a working location, a "
                "birthday or an event made from an email), so Chronik does not log it."
            )
        case Verdict.REMOVED_IN_CHRONIK:
            return f"{title} was removed from Chronik, so the sync leaves it off every timeline."


def _people(contact_ids: frozenset[int], names: Callable[[int], str]) -> str:
    return _listed(sorted(names(c) for c in contact_ids))


def _listed(items: Sequence[str]) -> str:
    words = list(items)
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "an unknown day"
