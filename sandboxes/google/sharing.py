"""Meetings between sandbox users: the organizer's event mirrored onto guests' calendars.

As in Google Calendar, an event a sandbox user organizes appears, with the same event id and
iCalUID, on the primary calendar of every guest who is also a sandbox user; the organizer's
later changes, cancellation or deletion reach those copies (each copy gets its own etag and
change number, so it shows up in the guest's incremental sync and push). A guest who deleted
their copy does not get it back; a guest's response is written to the organizer's copy and
flows back out from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sandboxes.google import resources
from sandboxes.google.model import Calendar, StoredEvent, rfc3339_ms


class SandboxState(Protocol):
    """What sharing reads and writes of the sandbox's state (`state.SandboxState` is one):
    declared here so the state can use sharing without the two importing each other."""

    @property
    def users(self) -> Mapping[str, object]: ...

    calendars: dict[str, Calendar]
    # (organizer's calendar id, event id) → guests holding a copy; (guest's calendar id,
    # event id) → the organizer's calendar id.
    mirrors: dict[tuple[str, str], set[str]]
    mirror_sources: dict[tuple[str, str], str]

    def _next_ms(self) -> int: ...

    def _next_seq(self) -> int: ...

    def _changed(self, calendar: Calendar) -> None: ...

    def _tombstone(
        self, calendar: Calendar, stored: StoredEvent, send_updates: str | None
    ) -> None: ...


def _relative(person: dict[str, Any], owner: str) -> dict[str, Any]:
    """A person/attendee entry as seen from ``owner``'s calendar (``self`` moves with it)."""
    seen = {key: value for key, value in person.items() if key != "self"}
    if seen.get("email") == owner:
        seen["self"] = True
    return seen


def _mirror_data(sandbox: SandboxState, source: StoredEvent, target: Calendar) -> dict[str, Any]:
    ms = sandbox._next_ms()
    data = dict(source.data)
    data["etag"] = f'"{ms * 1000}"'
    data["updated"] = rfc3339_ms(ms / 1000)
    data["htmlLink"] = resources.html_link(source.id, target.id)
    data["creator"] = _relative(data["creator"], target.owner)
    data["organizer"] = _relative(data["organizer"], target.owner)
    if "attendees" in data:
        data["attendees"] = [_relative(a, target.owner) for a in data["attendees"]]
    data["reminders"] = {"useDefault": True}
    return data


def share(sandbox: SandboxState, calendar: Calendar, event_id: str) -> None:
    """Bring guests' copies of ``calendar``'s event ``event_id`` in line with it (organizer's
    copy only; events organized by someone else are left alone)."""
    source = calendar.events.get(event_id)
    if source is None or source.data.get("organizer", {}).get("email") != calendar.owner:
        return
    guests: set[str] = set()
    if not source.deleted:
        guests = {a["email"] for a in source.data.get("attendees", [])}
    mirrored = sandbox.mirrors.get((calendar.id, event_id), set())
    for email in sorted(guests | mirrored):
        if email == calendar.owner or email not in sandbox.users:
            continue
        target = sandbox.calendars[email]
        existing = target.events.get(event_id)
        if existing is not None and email not in mirrored:
            continue  # an unrelated event of theirs happens to use this id
        if email in guests:
            if existing is not None and existing.deleted:
                continue  # the guest removed it from their calendar
            if existing is None and source.cancelled:
                continue
            copy = StoredEvent(
                _mirror_data(sandbox, source, target),
                sandbox._next_seq(),
                source.start,
                source.end,
            )
            target.touch(copy)
            mirrored.add(email)
            sandbox.mirrors[(calendar.id, event_id)] = mirrored
            sandbox.mirror_sources[(target.id, event_id)] = calendar.id
            sandbox._changed(target)
        elif existing is not None and not existing.deleted:
            sandbox._tombstone(target, existing, None)
            sandbox._changed(target)


def organizer_copy(
    sandbox: SandboxState, calendar: Calendar, event_id: str
) -> tuple[Calendar, StoredEvent] | None:
    """The organizer's calendar and event behind a guest's mirrored copy, if in the sandbox."""
    source_cal = sandbox.mirror_sources.get((calendar.id, event_id))
    if source_cal is None:
        return None
    source = sandbox.calendars[source_cal].events.get(event_id)
    return None if source is None else (sandbox.calendars[source_cal], source)
