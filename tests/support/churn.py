"""Calendar changes "made by users" while workers sync: creates, edits, guest changes,
cancellations and deletions, on the Google and Microsoft sandboxes, from a seeded generator.

Every change goes through the sandbox's own write path, so it moves the provider's change
feed and sends the push notifications a real provider would send.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sandboxes.microsoft.timefmt import dttz
from tests.support.sandboxes import Sandboxes

KINDS = ("create", "edit", "move", "guests", "cancel", "delete")
WEIGHTS = (30, 25, 15, 10, 10, 10)
BASE = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)


def guest(n: int) -> str:
    """The address of bulk contact `n` (see `add_bulk_contacts`)."""
    return f"contact{n}@example.com"


@dataclass
class Churn:
    """Seeded changes over calendars given as (provider, owner email)."""

    sandboxes: Sandboxes
    calendars: list[tuple[str, str]]
    contacts: int
    seed: int = 1
    applied: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._made = 0

    def step(self) -> str:
        """One random change on one random calendar; returns its kind."""
        provider, email = self._rng.choice(self.calendars)
        kind = self._rng.choices(KINDS, WEIGHTS)[0]
        if provider == "GOOGLE":
            done = google_change(self.sandboxes, email, kind, self._rng, self._next())
        else:
            done = microsoft_change(self.sandboxes, email, kind, self._rng, self._next())
        self.applied[done] += 1
        return done

    def _next(self) -> tuple[int, int]:
        self._made += 1
        return self._made, self.contacts


def _guests(rng: random.Random, contacts: int) -> list[str]:
    return [guest(rng.randrange(contacts)) for _ in range(rng.randint(1, 3))]


def _start(rng: random.Random) -> dt.datetime:
    return BASE + dt.timedelta(minutes=30 * rng.randrange(24 * 2 * 60))


def google_change(
    sandboxes: Sandboxes,
    email: str,
    kind: str,
    rng: random.Random,
    made: tuple[int, int],
) -> str:
    """Apply `kind` to the Google calendar of `email` (a create when nothing fits)."""
    google = sandboxes.google
    number, contacts = made
    live = [e for e in google.calendar(email).events.values() if not e.cancelled]
    if kind == "create" or not live:
        begin = _start(rng)
        google.ui_create_event(
            email,
            {
                "summary": f"Churn {number}",
                "start": {"dateTime": begin.isoformat()},
                "end": {"dateTime": (begin + dt.timedelta(minutes=30)).isoformat()},
                "attendees": [{"email": g} for g in _guests(rng, contacts)],
            },
        )
        return "create"
    return _google_on(sandboxes, email, rng.choice(live).id, kind, rng, made)


def microsoft_change(
    sandboxes: Sandboxes,
    email: str,
    kind: str,
    rng: random.Random,
    made: tuple[int, int],
) -> str:
    """Apply `kind` to the Outlook calendar of `email` (a create when nothing fits)."""
    microsoft = sandboxes.microsoft
    number, contacts = made
    live = sorted(microsoft.user(email).events)
    if kind == "create" or not live:
        begin = _start(rng)
        microsoft.create_event(
            email,
            {
                "subject": f"Churn {number}",
                "start": dttz(begin),
                "end": dttz(begin + dt.timedelta(minutes=30)),
                "attendees": _graph_attendees(_guests(rng, contacts)),
            },
        )
        return "create"
    event_id = rng.choice(live)
    if kind == "edit":
        microsoft.update_event(email, event_id, {"subject": f"Edited {number}"})
    elif kind == "move":
        begin = _start(rng)
        microsoft.update_event(
            email,
            event_id,
            {"start": dttz(begin), "end": dttz(begin + dt.timedelta(minutes=45))},
        )
    elif kind == "guests":
        microsoft.update_event(
            email, event_id, {"attendees": _graph_attendees(_guests(rng, contacts))}
        )
    elif kind == "cancel":
        microsoft.cancel_event(email, event_id)
    else:
        microsoft.delete_event(email, event_id)
    return kind


def _graph_attendees(emails: list[str]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"address": e}, "type": "required"} for e in emails]


def mirrored_google_batch(
    sandboxes: Sandboxes, emails: list[str], *, seed: int, changes: int, contacts: int
) -> Counter[str]:
    """The same `changes` changes on each of several Google calendars that hold the same
    events in the same order (so a crashed sync can be compared with an uninterrupted one)."""
    applied: Counter[str] = Counter()
    for n, email in enumerate(emails):
        rng = random.Random(seed)
        events = sandboxes.google.calendar(email).events
        # Choose by position in insertion order, never by id: ids differ between calendars.
        ids = list(events)
        for i in range(changes):
            kind = rng.choices(KINDS, WEIGHTS)[0]
            made = (seed * 100_000 + i, contacts)
            position = rng.randrange(len(ids))
            if kind == "create" or events[ids[position]].cancelled:
                kind = google_change(sandboxes, email, "create", rng, made)
                ids = list(events)
            else:
                _google_on(sandboxes, email, ids[position], kind, rng, made)
            if n == 0:
                applied[kind] += 1
    return applied


def _google_on(
    sandboxes: Sandboxes,
    email: str,
    event_id: str,
    kind: str,
    rng: random.Random,
    made: tuple[int, int],
) -> str:
    google = sandboxes.google
    number, contacts = made
    if kind == "edit":
        google.ui_update_event(email, event_id, {"summary": f"Edited {number}"})
    elif kind == "move":
        begin = _start(rng)
        google.ui_update_event(
            email,
            event_id,
            {
                "start": {"dateTime": begin.isoformat()},
                "end": {"dateTime": (begin + dt.timedelta(minutes=45)).isoformat()},
            },
        )
    elif kind == "guests":
        event = google.calendar(email).events[event_id]
        owner = [a for a in event.data.get("attendees", []) if a.get("self")]
        google.ui_update_event(
            email, event_id, {"attendees": owner + [{"email": g} for g in _guests(rng, contacts)]}
        )
    elif kind == "cancel":
        google.ui_cancel_event(email, event_id)
    else:
        google.ui_delete_event(email, event_id)
    return kind
