"""The product's rules, one test each, on the pure decision function."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sync.model import Attendee, EventKind, EventStatus, EventType, ProviderEvent
from sync.rules import AccountContext, Action, Reason, Stored, decide

LINKED = datetime(2026, 11, 1, tzinfo=UTC)
CTX = AccountContext(
    contact_ids_by_email={"carla@client.test": 1, "carla.home@mail.test": 1, "dan@other.test": 2},
    internal_domains=frozenset({"acme.test"}),
    member_emails=frozenset({"alice@acme.test", "alice.private@gmail.test"}),
    excluded_domains=frozenset({"resource.calendar.google.com"}),
    linked_at=LINKED,
)


def event(*guests: str, **fields: object) -> ProviderEvent:
    base = ProviderEvent(
        provider_event_id="e1",
        title="Demo",
        starts_at=LINKED + timedelta(days=3),
        ends_at=LINKED + timedelta(days=3, hours=1),
        organizer_email="alice@acme.test",
        attendees=tuple(Attendee(g) for g in guests),
        created_at=LINKED + timedelta(days=1),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


STORED = Stored(meeting_id=7, frozen=False, cancelled=False)


def test_rule_2_contact_guest_by_primary_or_extra_email_and_inviting_contact() -> None:
    assert decide(event("carla@client.test"), CTX, None).contact_ids == {1}
    assert decide(event("carla.home@mail.test"), CTX, None).contact_ids == {1}
    invited_by_contact = event("alice@acme.test", organizer_email="dan@other.test")
    assert decide(invited_by_contact, CTX, None).contact_ids == {2}


def test_rule_3_unknown_guests_create_nothing() -> None:
    decision = decide(event("stranger@else.test"), CTX, None)
    assert decision.action is Action.IGNORE and not decision.new_contact_emails
    opted_in = replace(CTX, auto_create_contacts=True)
    assert decide(event("stranger@else.test"), opted_in, None).new_contact_emails == {
        "stranger@else.test"
    }


def test_rule_4_members_and_excluded_addresses_are_never_logged() -> None:
    ctx = replace(
        CTX,
        contact_ids_by_email={
            "bob@acme.test": 5,
            "alice.private@gmail.test": 6,
            "room1@resource.calendar.google.com": 7,
        },
    )
    decision = decide(
        event("bob@acme.test", "alice.private@gmail.test", "room1@resource.calendar.google.com"),
        ctx,
        None,
    )
    assert decision.action is Action.IGNORE


def test_rule_5_events_created_before_linking_are_not_synced() -> None:
    old = event("carla@client.test", created_at=LINKED - timedelta(minutes=1))
    assert decide(old, CTX, None).action is Action.IGNORE


def test_rule_6_series_once_changed_occurrence_on_its_own_unchanged_never() -> None:
    series = event("carla@client.test", kind=EventKind.SERIES)
    assert decide(series, CTX, None).action is Action.UPSERT
    moved = event(
        "carla@client.test",
        kind=EventKind.EXCEPTION,
        series_id="e1",
        provider_event_id="e1_20261110",
    )
    assert decide(moved, CTX, None).action is Action.UPSERT
    plain = event("carla@client.test", kind=EventKind.OCCURRENCE, series_id="e1")
    assert decide(plain, CTX, None).action is Action.IGNORE


def cancelled_week(**fields: object) -> ProviderEvent:
    """One cancelled week as Google sends it: ids, series and original start only."""
    base = ProviderEvent(
        provider_event_id="e1_20261110",
        kind=EventKind.EXCEPTION,
        status=EventStatus.CANCELLED,
        series_id="e1",
        original_start=LINKED + timedelta(days=9),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_rule_6_a_cancelled_week_goes_on_the_series_contacts_timelines() -> None:
    # Whoever the occurrence's own guest list names (often nobody, for Google), the week is
    # logged for the series' contacts; a series nobody is logged for gives it none.
    decision = decide(cancelled_week(), CTX, None, frozenset({1, 2}))
    assert (decision.action, decision.contact_ids) == (Action.UPSERT, {1, 2})
    with_guests = cancelled_week(attendees=(Attendee("dan@other.test"),))
    assert decide(with_guests, CTX, None, frozenset({1})).contact_ids == {1}
    assert decide(cancelled_week(), CTX, None).contact_ids == frozenset()
    # A moved occurrence, logged on its own, becomes the cancelled week when cancelled.
    was_moved = decide(cancelled_week(), CTX, STORED, frozenset({1}))
    assert (was_moved.action, was_moved.contact_ids) == (Action.UPSERT, {1})
    # The series itself cancelled, or a deletion known by id only, is rule 8's removal.
    whole = event("carla@client.test", kind=EventKind.SERIES, status=EventStatus.CANCELLED)
    assert decide(whole, CTX, STORED, frozenset({1})).action is Action.REMOVE
    gone = ProviderEvent(provider_event_id="e1_20261110", removed=True)
    assert decide(gone, CTX, STORED, frozenset({1})).action is Action.REMOVE
    # Deleted after it was cancelled (an Outlook item kept as "Canceled: …"): its entries go,
    # the series names the week again under its occurrenceId.
    week = Stored(meeting_id=8, frozen=False, cancelled=True)
    assert decide(gone, CTX, week).action is Action.REMOVE
    # Frozen (rule 7): not synced any more.
    frozen = Stored(meeting_id=7, frozen=True, cancelled=True)
    assert decide(cancelled_week(), CTX, frozen, frozenset({1})).action is Action.IGNORE


def test_rule_6_restoring_a_cancelled_week_turns_it_back() -> None:
    cancelled = Stored(meeting_id=7, frozen=False, cancelled=True)
    # Still a changed occurrence (Google): that week's meeting again, with its own guests.
    restored = replace(
        cancelled_week(status=EventStatus.CONFIRMED),
        attendees=(Attendee("carla@client.test"),),
        starts_at=LINKED + timedelta(days=9),
        created_at=LINKED + timedelta(days=1),
    )
    decision = decide(restored, CTX, cancelled, frozenset({1, 2}))
    assert (decision.action, decision.contact_ids) == (Action.UPSERT, {1})
    # A plain occurrence again (Outlook): the series stands for it, the week's entry goes.
    plain = event("carla@client.test", kind=EventKind.OCCURRENCE, series_id="e1")
    assert decide(plain, CTX, cancelled, frozenset({1})).action is Action.REMOVE


def test_rule_7_a_frozen_series_freezes_its_weeks() -> None:
    # A week cancelled after its series froze is not logged, even for the series' contacts.
    later = decide(cancelled_week(), CTX, None, frozenset({1}), series_frozen=True)
    assert (later.action, later.reason) == (Action.IGNORE, Reason.SERIES_FROZEN)
    # A week logged before (seen again with the freeze, or restored since) keeps its entries.
    logged = Stored(meeting_id=7, frozen=False, cancelled=True)
    again = decide(cancelled_week(private=True), CTX, logged, frozenset(), series_frozen=True)
    assert (again.action, again.reason) == (Action.IGNORE, Reason.SERIES_FROZEN)
    restored = event("carla@client.test", kind=EventKind.OCCURRENCE, series_id="e1")
    assert decide(restored, CTX, logged, series_frozen=True).action is Action.IGNORE
    changed = replace(
        cancelled_week(status=EventStatus.CONFIRMED), attendees=(Attendee("dan@other.test"),)
    )
    assert decide(changed, CTX, logged, series_frozen=True).action is Action.IGNORE
    # Its other occurrences keep their own rules (a moved week private too is not logged).
    moved = event("carla@client.test", kind=EventKind.EXCEPTION, series_id="e1")
    assert decide(moved, CTX, None, series_frozen=True).contact_ids == {1}
    assert decide(replace(moved, private=True), CTX, None, series_frozen=True).action is (
        Action.IGNORE
    )


def test_rule_7_private_not_synced_turned_private_is_frozen() -> None:
    private = event("carla@client.test", private=True)
    assert decide(private, CTX, None).action is Action.IGNORE
    assert decide(private, CTX, STORED).action is Action.FREEZE
    frozen = Stored(7, frozen=True, cancelled=False)
    cancelled_later = event("carla@client.test", status=EventStatus.CANCELLED)
    assert decide(cancelled_later, CTX, frozen).action is Action.IGNORE


def test_rule_8_edits_guests_and_cancellations_propagate() -> None:
    assert decide(event("dan@other.test"), CTX, STORED).contact_ids == {2}
    no_contact_left = decide(event("stranger@else.test"), CTX, STORED)
    assert no_contact_left.action is Action.UPSERT and no_contact_left.contact_ids == set()
    cancelled = event("carla@client.test", status=EventStatus.CANCELLED)
    assert decide(cancelled, CTX, STORED).action is Action.REMOVE
    deleted = ProviderEvent(provider_event_id="e1", removed=True)
    assert decide(deleted, CTX, STORED).action is Action.REMOVE
    assert decide(deleted, CTX, None).action is Action.IGNORE


def test_rule_9_restoring_a_cancelled_meeting_logs_it_again() -> None:
    was_cancelled = Stored(7, frozen=False, cancelled=True)
    restored = decide(event("carla@client.test"), CTX, was_cancelled)
    assert restored.action is Action.UPSERT and restored.contact_ids == {1}
    assert (
        decide(event("carla@client.test", status=EventStatus.CANCELLED), CTX, was_cancelled).action
        is Action.IGNORE
    )


def test_a_changed_context_does_not_reuse_what_an_earlier_one_decided() -> None:
    ctx = replace(CTX)
    assert decide(event("dan@other.test"), ctx, None).contact_ids == {2}
    # Dan became a colleague (his domain is now internal): the memo of `ctx` must not leak.
    colleague = replace(ctx, internal_domains=frozenset({"acme.test", "other.test"}))
    assert decide(event("dan@other.test"), colleague, None).action is Action.IGNORE
    assert decide(event("dan@other.test"), ctx, None).contact_ids == {2}


@pytest.mark.parametrize("event_type", [t for t in EventType if t is not EventType.MEETING])
def test_rule_11_only_meetings_are_synced(event_type: EventType) -> None:
    """Focus time, out of office, working location, birthdays and events made from an email
    never reach a timeline, whichever contacts they name; a meeting held as one is removed."""
    other = event("carla@client.test", event_type=event_type)
    decision = decide(other, CTX, None)
    assert (decision.action, decision.reason) == (Action.IGNORE, Reason.NOT_A_MEETING)
    assert not decide(other, replace(CTX, auto_create_contacts=True), None).new_contact_emails
    assert decide(other, CTX, STORED).action is Action.REMOVE
    assert decide(event("carla@client.test"), CTX, None).action is Action.UPSERT
