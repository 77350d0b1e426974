"""`sync.explain`: the sync's own decision, compared with what Chronik holds, as a reason and
a sentence (pure; the same cases run end to end in test_explain.py)."""

from __future__ import annotations

from dataclasses import replace

from sync.explain import Held, SyncHealth, Verdict, explain, sentence
from sync.model import EventKind, EventStatus, EventType
from sync.rules import Stored
from tests.sync.test_rules import CTX, event

NAMES = {1: "Carla", 2: "Dan"}.__getitem__
HEALTHY = SyncHealth()
LOGGED = Stored(meeting_id=7, frozen=False, cancelled=False)


def test_a_logged_meeting_names_the_timelines_it_is_on() -> None:
    answer = explain(
        event("carla@client.test", "dan@other.test"),
        CTX,
        Held(LOGGED, on_timelines=frozenset({1, 2})),
        HEALTHY,
    )
    assert answer.verdict is Verdict.ON_TIMELINE
    assert sentence(answer, NAMES) == "“Demo” is on the timeline of Carla and Dan."


def test_timelines_behind_the_rules_are_not_synced_yet_or_failing() -> None:
    fresh = explain(event("carla@client.test"), CTX, Held(None), HEALTHY)
    assert (fresh.verdict, fresh.contact_ids, fresh.on_timelines) == (
        Verdict.NOT_SYNCED_YET,
        {1},
        frozenset(),
    )
    failing = explain(event("carla@client.test"), CTX, Held(None), SyncHealth("HTTP 503"))
    assert failing.verdict is Verdict.SYNC_FAILING
    assert sentence(failing, NAMES).endswith("Syncing your calendar is failing: HTTP 503")
    # A guest removed in the calendar, still on the timeline until the next sync.
    behind = explain(
        event("dan@other.test"), CTX, Held(LOGGED, on_timelines=frozenset({1, 2})), HEALTHY
    )
    assert behind.verdict is Verdict.NOT_SYNCED_YET and behind.contact_ids == {2}
    cancelled = replace(event("carla@client.test"), status=EventStatus.CANCELLED)
    pending = explain(cancelled, CTX, Held(LOGGED, on_timelines=frozenset({1})), HEALTHY)
    assert pending.verdict is Verdict.NOT_SYNCED_YET and pending.contact_ids == frozenset()


def test_each_rule_that_keeps_an_event_off_timelines_is_its_reason() -> None:
    cases = [
        (
            replace(event("carla@client.test"), created_at=CTX.linked_at.replace(year=2025)),
            None,
            Verdict.CREATED_BEFORE_LINKING,
        ),
        (replace(event("carla@client.test"), private=True), None, Verdict.PRIVATE),
        (
            replace(event("carla@client.test"), kind=EventKind.OCCURRENCE),
            None,
            Verdict.OCCURRENCE_OF_SERIES,
        ),
        (
            replace(event("carla@client.test"), status=EventStatus.CANCELLED),
            None,
            Verdict.CANCELLED,
        ),
        (event("stranger@else.test", "bob@acme.test"), None, Verdict.NO_CONTACT_GUEST),
        (
            event("bob@acme.test", "room@resource.calendar.google.com"),
            None,
            Verdict.ONLY_COLLEAGUES,
        ),
        (
            replace(event("carla@client.test"), event_type=EventType.OUT_OF_OFFICE),
            None,
            Verdict.NOT_A_MEETING,
        ),
    ]
    for item, stored, expected in cases:
        answer = explain(item, CTX, Held(stored), HEALTHY)
        assert answer.verdict is expected, item
        assert answer.contact_ids == frozenset()
    strangers = explain(event("stranger@else.test", "bob@acme.test"), CTX, Held(None), HEALTHY)
    assert strangers.unmatched == ("stranger@else.test",)
    assert "stranger@else.test matches no contact" in sentence(strangers, NAMES)


def test_frozen_and_removed_meetings_keep_what_they_had() -> None:
    frozen = Stored(meeting_id=7, frozen=True, cancelled=False)
    answer = explain(
        event("dan@other.test"), CTX, Held(frozen, on_timelines=frozenset({1})), HEALTHY
    )
    assert answer.verdict is Verdict.FROZEN and answer.contact_ids == {1}
    assert "stays on the timeline of Carla" in sentence(answer, NAMES)
    turning = replace(event("carla@client.test"), private=True)
    assert (
        explain(turning, CTX, Held(LOGGED, on_timelines=frozenset({1})), HEALTHY).verdict
        is Verdict.FROZEN
    )
    removed = explain(
        event("carla@client.test"), CTX, Held(frozen, removed_in_chronik=True), HEALTHY
    )
    assert removed.verdict is Verdict.REMOVED_IN_CHRONIK


def test_an_event_that_is_not_a_meeting_says_so() -> None:
    focus = replace(event("carla@client.test"), event_type=EventType.FOCUS_TIME)
    answer = explain(focus, CTX, Held(None), HEALTHY)
    assert answer.verdict is Verdict.NOT_A_MEETING
    assert sentence(answer, NAMES).startswith("“Demo” is not a meeting")
