"""Sample meetings for a new sandbox user, so a first-time Chronik user has something to sync.

Deterministic for a sandbox (times follow the sandbox clock, ids its seeded RNG). The contacts
use ``.example`` domains; the user's colleagues share the user's own domain.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandboxes.google.sandbox import GoogleSandbox


def _at(day: dt.date, hour: int, minute: int = 0) -> dict[str, str]:
    return {"dateTime": f"{day.isoformat()}T{hour:02d}:{minute:02d}:00", "timeZone": "UTC"}


def seed_demo_calendar(sandbox: GoogleSandbox, email: str) -> list[str]:
    """Fill ``email``'s primary calendar with a realistic handful of meetings (a weekly team
    sync, customer calls, an invitation from a customer, a private lunch, an all-day
    conference, a cancelled follow-up). Returns the created event ids."""
    owner = email.lower()
    domain = owner.split("@", 1)[1]
    today = dt.datetime.fromtimestamp(sandbox.clock(), dt.UTC).date()
    monday = today - dt.timedelta(days=today.weekday())
    colleague = f"sam.lee@{domain}"
    bodies: list[dict[str, Any]] = [
        {
            "summary": "Team sync",
            "start": _at(monday, 9),
            "end": _at(monday, 9, 30),
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=12"],
            "attendees": [{"email": owner}, {"email": colleague, "responseStatus": "accepted"}],
        },
        {
            "summary": "Intro call - Acme Corp",
            "description": "First conversation about the pilot.",
            "location": "https://meet.example/acme-intro",
            "start": _at(today + dt.timedelta(days=1), 14),
            "end": _at(today + dt.timedelta(days=1), 14, 45),
            "attendees": [
                {"email": owner},
                {"email": "jane.doe@acme.example", "displayName": "Jane Doe"},
            ],
        },
        {
            "summary": "Product demo for Initech",
            "start": _at(today - dt.timedelta(days=2), 16),
            "end": _at(today - dt.timedelta(days=2), 17),
            "attendees": [
                {"email": owner},
                {"email": "peter.gibbons@initech.example", "responseStatus": "accepted"},
                {"email": "bill.lumbergh@initech.example", "responseStatus": "tentative"},
            ],
        },
        {
            "summary": "Lunch with a friend",
            "visibility": "private",
            "start": _at(today + dt.timedelta(days=2), 12),
            "end": _at(today + dt.timedelta(days=2), 13),
        },
        {
            "summary": "SaaS Connect conference",
            "transparency": "transparent",
            "start": {"date": (monday + dt.timedelta(days=10)).isoformat()},
            "end": {"date": (monday + dt.timedelta(days=12)).isoformat()},
        },
    ]
    ids = [sandbox.ui_create_event(owner, body).id for body in bodies]
    invitation = sandbox.ui_create_event(
        owner,
        {
            "summary": "Quarterly business review - Globex",
            "organizer": {"email": "hank.scorpio@globex.example", "displayName": "Hank Scorpio"},
            "start": _at(today + dt.timedelta(days=3), 10),
            "end": _at(today + dt.timedelta(days=3), 11),
            "attendees": [
                {"email": "hank.scorpio@globex.example", "responseStatus": "accepted"},
                {"email": owner},
            ],
        },
    )
    ids.append(invitation.id)
    follow_up = sandbox.ui_create_event(
        owner,
        {
            "summary": "Pricing follow-up - Umbrella",
            "organizer": {"email": "alice.wong@umbrella.example"},
            "start": _at(today + dt.timedelta(days=4), 15),
            "end": _at(today + dt.timedelta(days=4), 15, 30),
            "attendees": [
                {"email": "alice.wong@umbrella.example", "responseStatus": "accepted"},
                {"email": owner, "responseStatus": "accepted"},
            ],
        },
    )
    sandbox.ui_cancel_event(owner, follow_up.id)
    ids.append(follow_up.id)
    return ids
