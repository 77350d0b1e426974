"""Rule 11 end to end on Google: only `default` events are meetings. Focus time, out of office,
working location, birthdays and the events Gmail makes from messages (organized by Gmail's
placeholder address) never reach a timeline nor create a contact.
https://developers.google.com/calendar/api/guides/event-types
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar

NEXT_WEEK = (datetime.now(UTC) + timedelta(days=7)).replace(
    hour=10, minute=0, second=0, microsecond=0
)
GMAIL_ORGANIZER = "unknownorganizer@calendar.google.com"


def _body(title: str, day: int, **extra: Any) -> dict[str, Any]:
    start = NEXT_WEEK + timedelta(days=day)
    return {
        "summary": title,
        "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat(), "timeZone": "Europe/Berlin"},
        "attendees": [{"email": "carla@client.test"}],
        **extra,
    }


async def test_only_meetings_reach_timelines_and_gmails_placeholder_is_nobody(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    opted = await chronik.graphql(
        "mutation { updateAccountSettings(autoCreateContacts: true) { autoCreateContacts } }",
        token=alice.token,
    )
    assert opted.ok()
    carla = await cal.contact("carla@client.test")
    events = f"calendars/{alice.email}/events"
    # Status events as Google makes them (calendar-status guide): no guests, their properties.
    status_events: dict[str, dict[str, Any]] = {
        "focusTime": {"focusTimeProperties": {"chatStatus": "doNotDisturb"}},
        "outOfOffice": {"outOfOfficeProperties": {"declineMessage": "Away"}},
        "workingLocation": {
            "workingLocationProperties": {"type": "homeOffice", "homeOffice": {}},
            "visibility": "public",
            "transparency": "transparent",
        },
    }
    for day, (event_type, extra) in enumerate(status_events.items()):
        body = _body(event_type, day, eventType=event_type, **extra)
        del body["attendees"]
        await cal.calendar._call("POST", events, body)
    await cal.calendar._call("POST", events, _body("fromGmail", 3, eventType="fromGmail"))
    # An older Gmail event without the fromGmail type: a meeting, but its organizer is nobody.
    await cal.calendar._call(
        "POST", events, _body("Dinner booking", 5, organizer={"email": GMAIL_ORGANIZER})
    )
    await cal.calendar._call("POST", events, _body("Demo", 6))

    await cal.sync()

    assert await cal.titles(carla) == ["Demo", "Dinner booking"]
    emails = await db.fetch("SELECT email FROM contact_emails ORDER BY email")
    assert [r["email"] for r in emails] == ["carla@client.test"]
