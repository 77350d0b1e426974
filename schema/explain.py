"""Explaining a decision: `explainEvent` answers "why is (or isn't) this meeting on a timeline?"."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from resolvers import explain as resolve
from resolvers.context import Context
from resolvers.explain import ExplainedEvent
from schema.ids import decode_id
from schema.linked_nodes import Contact
from schema.permissions import OwnCalendarEvent, guarded_by
from sync.explain import Verdict

ChronikInfo = Info[Context, None]


@strawberry.enum(description="Why an event is, or is not, on contact timelines.")
class ExplanationReason(Enum):
    ON_TIMELINE = strawberry.enum_value(
        Verdict.ON_TIMELINE.value, description="On the timelines of its contact guests."
    )
    NOT_SYNCED_YET = strawberry.enum_value(
        Verdict.NOT_SYNCED_YET.value,
        description="The timelines do not show its latest state yet; the next sync will.",
    )
    SYNC_FAILING = strawberry.enum_value(
        Verdict.SYNC_FAILING.value,
        description="Not synced yet, and syncing the calendar is failing (see lastError).",
    )
    CREATED_BEFORE_LINKING = strawberry.enum_value(
        Verdict.CREATED_BEFORE_LINKING.value,
        description="Created before the calendar was linked: never synced.",
    )
    PRIVATE = strawberry.enum_value(
        Verdict.PRIVATE.value, description="A private event: never synced."
    )
    FROZEN = strawberry.enum_value(
        Verdict.FROZEN.value,
        description="Turned private after it was logged: kept, but no longer updated.",
    )
    NO_CONTACT_GUEST = strawberry.enum_value(
        Verdict.NO_CONTACT_GUEST.value,
        description="No guest is a contact (see unmatchedAddresses).",
    )
    ONLY_COLLEAGUES = strawberry.enum_value(
        Verdict.ONLY_COLLEAGUES.value,
        description="Every guest is a colleague (or an excluded address).",
    )
    OCCURRENCE_OF_SERIES = strawberry.enum_value(
        Verdict.OCCURRENCE_OF_SERIES.value,
        description="An unchanged occurrence of a recurring series, logged as its series.",
    )
    CANCELLED = strawberry.enum_value(
        Verdict.CANCELLED.value, description="Cancelled or deleted in the calendar."
    )
    NOT_A_MEETING = strawberry.enum_value(
        Verdict.NOT_A_MEETING.value,
        description="Not a meeting: focus time, out of office, a working location, a birthday "
        "or an event made from an email. Never synced.",
    )
    REMOVED_IN_CHRONIK = strawberry.enum_value(
        Verdict.REMOVED_IN_CHRONIK.value,
        description="Removed from Chronik by a user; the sync leaves it out.",
    )


@strawberry.type(description="Why an event of your calendar is, or is not, on timelines.")
class EventExplanation:
    reason: ExplanationReason
    sentence: str = strawberry.field(description="The answer in words, for a person.")
    contacts: list[Contact] = strawberry.field(
        description="The contacts whose timelines show the event, or will after the next sync."
    )
    on_timeline: bool = strawberry.field(
        description="Whether at least one timeline shows the event right now."
    )
    unmatched_addresses: list[str] = strawberry.field(
        description="Addresses on the event that match no contact and no colleague."
    )
    last_error: str | None = strawberry.field(description="Why the sync fails (SYNC_FAILING).")
    provider_event_id: str = strawberry.field(description="The event's id at the provider.")
    title: str | None
    starts_at: datetime | None
    series: EventExplanation | None = strawberry.field(
        description="For OCCURRENCE_OF_SERIES: the explanation of the series."
    )

    @staticmethod
    def build(explained: ExplainedEvent) -> EventExplanation:
        explanation = explained.explanation
        return EventExplanation(
            reason=ExplanationReason(explanation.verdict.value),
            sentence=explained.sentence,
            contacts=[Contact.from_row(row) for row in explained.contacts],
            on_timeline=bool(explanation.on_timelines),
            unmatched_addresses=list(explanation.unmatched),
            last_error=explanation.last_error,
            provider_event_id=explanation.event.provider_event_id,
            title=explanation.event.title,
            starts_at=explanation.event.starts_at,
            series=EventExplanation.build(explained.series) if explained.series else None,
        )


@strawberry.type
class ExplainQueries:
    @strawberry.field(
        description="Why an event of your own linked calendar is, or is not, on contact "
        "timelines. Name it by `event` (its id at the provider, or the event link copied from "
        "Google Calendar or Outlook on the web) or by `meetingId` (a meeting from your calendar)."
        " The event is read from the calendar now and decided by the sync's own rules.",
        extensions=guarded_by(OwnCalendarEvent()),
    )
    async def explain_event(
        self, info: ChronikInfo, event: str | None = None, meeting_id: strawberry.ID | None = None
    ) -> EventExplanation:
        meeting = decode_id("Meeting", meeting_id) if meeting_id is not None else None
        explained = await resolve.explain_event(info.context, event=event, meeting_id=meeting)
        return EventExplanation.build(explained)
