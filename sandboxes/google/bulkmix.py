"""A realistic, seeded mix of events for the bulk loader (benchmarks): who the guests are and
what kind of events a busy salesperson's calendar holds.

Without a mix the bulk loader makes the write-heaviest calendar possible (every event has two
contact guests); with one, events look like a real calendar: guests drawn from colleagues at
the owner's domain, CRM contacts (``contact{k}@example.com``, k < ``contacts``) and people the
CRM does not know; some events have no contact guest at all; every ``recurring_every``-th event
is a weekly series, every ``exception_every``-th series has one moved occurrence and one
cancelled one; every ``private_every``-th event is private; every ``invited_every``-th event
is an invitation from a contact (the owner is a guest). The draws depend on ``seed`` only, so
two runs with the same mix load the same calendar.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BulkMix:
    seed: int = 1
    contacts: int = 5000
    min_guests: int = 1
    max_guests: int = 4
    internal_share: float = 0.3
    unknown_share: float = 0.2
    recurring_every: int = 20
    exception_every: int = 5
    private_every: int = 25
    invited_every: int = 10

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> BulkMix:
        """The mix of a control API request (camelCase keys, all optional)."""
        names = {
            "seed": "seed",
            "contacts": "contacts",
            "minGuests": "min_guests",
            "maxGuests": "max_guests",
            "internalShare": "internal_share",
            "unknownShare": "unknown_share",
            "recurringEvery": "recurring_every",
            "exceptionEvery": "exception_every",
            "privateEvery": "private_every",
            "invitedEvery": "invited_every",
        }
        kwargs: dict[str, Any] = {}
        for key, attr in names.items():
            if key in body:
                kind = float if attr.endswith("share") else int
                kwargs[attr] = kind(body[key])
        return cls(**kwargs)


@dataclass
class MixTally:
    """What a mixed bulk load created (the benchmark prints it)."""

    events: int = 0
    singles: int = 0
    series: int = 0
    moved_occurrences: int = 0
    cancelled_occurrences: int = 0
    private: int = 0
    invitations: int = 0
    without_contact_guest: int = 0
    guests: dict[str, int] = field(
        default_factory=lambda: {"internal": 0, "contact": 0, "unknown": 0}
    )

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "singles": self.singles,
            "series": self.series,
            "movedOccurrences": self.moved_occurrences,
            "cancelledOccurrences": self.cancelled_occurrences,
            "private": self.private,
            "invitations": self.invitations,
            "withoutContactGuest": self.without_contact_guest,
            "guests": dict(self.guests),
        }


class MixDraws:
    """The seeded draws of one bulk load."""

    def __init__(self, mix: BulkMix, owner: str) -> None:
        self.mix = mix
        self.domain = owner.rpartition("@")[2]
        self.rng = random.Random(mix.seed)
        self.tally = MixTally()

    def guests(self) -> list[str]:
        """The guest addresses of one event (besides the owner), no repeats."""
        mix, rng, tally = self.mix, self.rng, self.tally
        emails: dict[str, None] = {}
        has_contact = False
        for _ in range(rng.randint(mix.min_guests, mix.max_guests)):
            draw = rng.random()
            if draw < mix.internal_share:
                kind, email = "internal", f"colleague{rng.randrange(200)}@{self.domain}"
            elif draw < mix.internal_share + mix.unknown_share:
                n = rng.randrange(1_000_000)
                kind, email = "unknown", f"guest{n}@prospect{n % 97}.example.org"
            else:
                kind, email = "contact", f"contact{rng.randrange(mix.contacts)}@example.com"
                has_contact = True
            if email not in emails:
                emails[email] = None
                tally.guests[kind] += 1
        if not has_contact:
            tally.without_contact_guest += 1
        return list(emails)
