"""A person's calendar app writing to a real CalDAV server: the convergence machine's driver
for CALDAV, with the interface of the sandbox drivers (`tests/support/calendar.py`).

Each event is one resource (`<uid>.ics`) holding its master VEVENT and, for a weekly series,
its overridden occurrences (RECURRENCE-ID) and EXDATEs, as RFC 5545 wants one UID per
resource. The driver keeps what it wrote and PUTs the whole resource again on every change
(SEQUENCE raised, DTSTAMP/LAST-MODIFIED now), as calendar apps do; the server's copy is what
the oracle reads. Times are UTC; CREATED is the write's second rounded up, so an event written
after linking is after the link time (rule 5) whatever the sub-second of the link.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp

from tests.support.caldav_servers import CalDavServer, delete_resource, put_ics

DURATION = timedelta(minutes=30)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _now_ceil() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=0) + timedelta(seconds=1)


@dataclass
class _Override:
    original: datetime
    start: datetime
    cancelled: bool = False
    responses: dict[str, str] = field(default_factory=dict)


@dataclass
class _Resource:
    uid: str
    title: str
    start: datetime
    guests: list[str]
    organizer: str
    created: datetime
    weekly: int | None = None
    status: str = "CONFIRMED"
    klass: str | None = None
    sequence: int = 0
    responses: dict[str, str] = field(default_factory=dict)
    exdates: set[datetime] = field(default_factory=set)
    overrides: dict[datetime, _Override] = field(default_factory=dict)


class CalDavCalendar:
    """The owner's calendar collection at `calendar_url` (reached directly, not through the
    proxy Chronik reads it by). Ids are resource names, as the CalDAV parser's are."""

    def __init__(
        self, http: aiohttp.ClientSession, server: CalDavServer, calendar_url: str, owner: str
    ) -> None:
        self.http = http
        self.server = server
        self.calendar_url = calendar_url
        self.owner = owner.lower()
        self._resources: dict[str, _Resource] = {}

    # -- the sandbox drivers' interface --------------------------------------------------------

    async def create(
        self,
        *,
        title: str,
        start: datetime,
        guests: list[str],
        organizer: str | None = None,
        weekly: int | None = None,
        created: datetime | None = None,
    ) -> str:
        """A new event; `created` (default: this second, rounded up) is its CREATED."""
        uid = uuid.uuid4().hex
        name = f"{uid}.ics"
        self._resources[name] = _Resource(
            uid,
            title,
            start,
            list(guests),
            (organizer or self.owner).lower(),
            created or _now_ceil(),
            weekly,
        )
        await self._write(name)
        return name

    async def update(
        self,
        event_id: str,
        *,
        title: str | None = None,
        start: datetime | None = None,
        guests: list[str] | None = None,
    ) -> None:
        resource = self._get(event_id)
        if title is not None:
            resource.title = title
        if start is not None:
            assert resource.weekly is None, "a series is moved occurrence by occurrence"
            resource.start = start
        if guests is not None:
            resource.guests = list(guests)
        await self._write(event_id)

    async def respond(self, event_id: str, email: str, accepted: bool) -> None:
        name, _, occurrence = event_id.partition("#")
        resource = self._get(name)
        email = email.lower()
        assert email in [g.lower() for g in resource.guests], "not a guest"
        answer = "ACCEPTED" if accepted else "DECLINED"
        if occurrence:
            original = datetime.strptime(occurrence, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            assert original not in resource.exdates, "that occurrence is gone"
            override = resource.overrides.setdefault(original, _Override(original, original))
            override.responses[email] = answer
        else:
            resource.responses[email] = answer
        await self._write(name)

    async def cancel(self, event_id: str) -> None:
        resource = self._get(event_id)
        resource.status = "CANCELLED"
        await self._write(event_id)

    async def restore(self, event_id: str) -> None:
        resource = self._get(event_id)
        assert resource.status == "CANCELLED", "not cancelled"
        resource.status = "CONFIRMED"
        await self._write(event_id)

    async def delete(self, event_id: str) -> None:
        self._get(event_id)
        await delete_resource(self.http, self.server, self.calendar_url, event_id)
        del self._resources[event_id]

    async def make_private(self, event_id: str) -> None:
        self._get(event_id).klass = "PRIVATE"
        await self._write(event_id)

    async def move_occurrence(self, event_id: str, original: datetime, moved: datetime) -> None:
        resource = self._series(event_id, original)
        assert original not in resource.exdates, "that occurrence is gone"
        resource.overrides.setdefault(original, _Override(original, original)).start = moved
        await self._write(event_id)

    async def cancel_occurrence(self, event_id: str, original: datetime) -> None:
        """A deleted occurrence: an EXDATE on the master (the override, if any, goes)."""
        resource = self._series(event_id, original)
        assert original not in resource.exdates, "already cancelled"
        resource.overrides.pop(original, None)
        resource.exdates.add(original)
        await self._write(event_id)

    async def restore_occurrence(self, event_id: str, original: datetime) -> None:
        resource = self._series(event_id, original)
        assert original in resource.exdates, "not cancelled"
        resource.exdates.discard(original)
        await self._write(event_id)

    # -- iCalendar -----------------------------------------------------------------------------

    def _get(self, event_id: str) -> _Resource:
        resource = self._resources.get(event_id)
        assert resource is not None, f"no event {event_id}"
        return resource

    def _series(self, event_id: str, original: datetime) -> _Resource:
        resource = self._get(event_id)
        assert resource.weekly, "not a series"
        weeks = [resource.start + timedelta(weeks=k) for k in range(resource.weekly)]
        assert original in weeks, "no such occurrence"
        return resource

    async def _write(self, name: str) -> None:
        resource = self._resources[name]
        resource.sequence += 1
        now = datetime.now(UTC)
        blocks = [self._vevent(resource, now, None)]
        for original in sorted(resource.overrides):
            blocks.append(self._vevent(resource, now, resource.overrides[original]))
        ics = (
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Convergence test//EN\n"
            + "".join(blocks)
            + "END:VCALENDAR\n"
        )
        await put_ics(self.http, self.server, self.calendar_url, name, ics)

    def _vevent(self, resource: _Resource, now: datetime, override: _Override | None) -> str:
        start = override.start if override else resource.start
        lines = [
            "BEGIN:VEVENT",
            f"UID:{resource.uid}",
            f"DTSTAMP:{_stamp(now)}",
            f"CREATED:{_stamp(resource.created)}",
            f"LAST-MODIFIED:{_stamp(now)}",
            f"SEQUENCE:{resource.sequence}",
            f"SUMMARY:{resource.title}",
            f"DTSTART:{_stamp(start)}",
            f"DTEND:{_stamp(start + DURATION)}",
            f"STATUS:{resource.status}",
            f"ORGANIZER:mailto:{resource.organizer}",
        ]
        if override is not None:
            lines.append(f"RECURRENCE-ID:{_stamp(override.original)}")
        elif resource.weekly:
            lines.append(f"RRULE:FREQ=WEEKLY;COUNT={resource.weekly}")
            lines += [f"EXDATE:{_stamp(d)}" for d in sorted(resource.exdates)]
        if resource.klass:
            lines.append(f"CLASS:{resource.klass}")
        responses = {**resource.responses, **(override.responses if override else {})}
        if resource.organizer != self.owner:
            lines.append(f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{self.owner}")
        for guest in resource.guests:
            email = guest.lower()
            if email in (self.owner, resource.organizer):
                continue
            answer = responses.get(email, "NEEDS-ACTION")
            lines.append(f"ATTENDEE;PARTSTAT={answer}:mailto:{email}")
        return "\n".join([*lines, "END:VEVENT", ""])
