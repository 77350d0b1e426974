"""GoogleSandbox: the sandbox state plus changes "made in Google Calendar's own UI".

These methods are the Python side of the control API: each finds the calendar by id (or owner
email) and goes through the same write paths as the API (sandboxes/google/state.py), so
etags, sequence, sync tokens, push and guest copies behave exactly as for API changes. Also the
bulk loader for benchmarks.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson

from sandboxes.google import recurrence, sharing
from sandboxes.google.bulkmix import BulkMix, MixDraws, MixTally
from sandboxes.google.model import UTC, StoredEvent, When, parse_rfc3339, rfc3339_ms
from sandboxes.google.state import SandboxState

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _utc_text(ts: float, days: dict[int, str]) -> str:
    """``2026-01-01T08:00:00Z`` for whole-second epoch ``ts``, 2-3x faster than strftime; the
    date part is cached per day (bulk loads create many events per day)."""
    day, second = divmod(int(ts), 86400)
    date = days.get(day)
    if date is None:
        date = days[day] = dt.date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
    hour, rest = divmod(second, 3600)
    minute, sec = divmod(rest, 60)
    return f"{date}T{hour:02d}:{minute:02d}:{sec:02d}Z"


# Who Google says organizes the events Gmail makes from messages.
GMAIL_ORGANIZER = "unknownorganizer@calendar.google.com"


class GoogleSandbox(SandboxState):
    """The Google sandbox's state and every operation on it (API paths and control API)."""

    # What the last mixed bulk load made (None until one ran).
    last_bulk_mix: MixTally | None = None

    def ui_create_event(self, calendar_id: str, body: dict[str, Any]) -> StoredEvent:
        """An event appears in the calendar as if created in Google's UI (or received as an
        invitation: give ``organizer.email`` of someone else and list the owner as attendee).
        ``eventType: fromGmail`` makes the event Gmail would make from a message (a flight, a
        reservation): organized by Gmail's placeholder ``unknownorganizer@calendar.google.com``
        unless the body names an organizer."""
        calendar = self.calendar(calendar_id)
        body = dict(body)
        if body.get("eventType") == "fromGmail":
            body.setdefault("organizer", {"email": GMAIL_ORGANIZER})
        organizer = str((body.get("organizer") or {}).get("email") or calendar.owner).lower()
        if organizer != calendar.owner:
            attendees = list(body.get("attendees") or [])
            if not any(str(a.get("email", "")).lower() == calendar.owner for a in attendees):
                attendees.append({"email": calendar.owner})
            body["attendees"] = attendees
            body.setdefault("creator", {"email": organizer})
        return self.insert_event(calendar, body, organizer=organizer)

    def ui_update_event(
        self, calendar_id: str, event_id: str, changes: dict[str, Any]
    ) -> StoredEvent:
        """Change fields as the UI would: bumps etag, updated and sequence; visible to sync and
        push. Works on instance ids of a series too (stores a modified instance)."""
        calendar = self.calendar(calendar_id)
        return self.patch_event(calendar, event_id, changes, bump_sequence=True)

    def ui_cancel_event(self, calendar_id: str, event_id: str) -> StoredEvent:
        """The organizer cancelled the meeting: the event stays, with ``status: cancelled``."""
        return self.ui_update_event(calendar_id, event_id, {"status": "cancelled"})

    def ui_delete_event(self, calendar_id: str, event_id: str) -> None:
        """The owner deleted the event (or one occurrence) in the UI."""
        self.delete_event(self.calendar(calendar_id), event_id)

    def lose_from_feed(self, calendar_id: str, event_id: str) -> None:
        """Fault: the event leaves the calendar and no sync token ever reports it, as when a
        delta misses a change. Only a full listing shows it is gone. KeyError when unknown."""
        calendar = self.calendar(calendar_id)
        if calendar.events.pop(event_id, None) is None:
            raise KeyError(f"no event {event_id}")

    def ui_restore_event(self, calendar_id: str, event_id: str) -> StoredEvent:
        """The owner restored a deleted event (or one deleted occurrence) from the Trash."""
        return self.restore_event(self.calendar(calendar_id), event_id)

    def make_private(self, calendar_id: str, event_id: str) -> StoredEvent:
        """The owner marked the event private (``visibility: private``)."""
        return self.ui_update_event(calendar_id, event_id, {"visibility": "private"})

    def set_response(
        self,
        calendar_id: str,
        event_id: str,
        attendee_email: str,
        response_status: str,
    ) -> StoredEvent:
        """An attendee accepted/declined/...: changes that attendee's ``responseStatus`` (on the
        organizer's copy when the organizer is a sandbox user, from where it reaches every
        guest's copy)."""
        calendar = self.calendar(calendar_id)
        origin = sharing.organizer_copy(self, calendar, event_id)
        if origin is not None:
            calendar = origin[0]
        current = self.get_event(calendar, event_id)
        data = current.data if isinstance(current, StoredEvent) else current
        attendees = [dict(a) for a in data.get("attendees", [])]
        email = attendee_email.strip().lower()
        matched = [a for a in attendees if a["email"] == email]
        if not matched:
            raise KeyError(f"{attendee_email} is not an attendee of {event_id}")
        for attendee in matched:
            attendee["responseStatus"] = response_status
        return self.patch_event(calendar, event_id, {"attendees": attendees})

    def instance_id(self, calendar_id: str, master_id: str, original_start: str) -> str:
        """The instance id of a series occurrence given its original start (RFC 3339 or date)."""
        calendar = self.calendar(calendar_id)
        master = calendar.events.get(master_id)
        if master is None:
            raise KeyError(f"no such event: {master_id}")
        if master.start.all_day:
            return f"{master_id}_{original_start.replace('-', '')[:8]}"
        moment = parse_rfc3339(original_start, "originalStartTime").astimezone(UTC)
        return f"{master_id}_{moment.strftime('%Y%m%dT%H%M%SZ')}"

    def bulk_load(
        self,
        calendar_id: str,
        count: int,
        *,
        start: dt.datetime | None = None,
        spacing: dt.timedelta = dt.timedelta(hours=1),
        duration: dt.timedelta = dt.timedelta(minutes=30),
        attendees: int = 2,
        mix: BulkMix | None = None,
    ) -> int:
        """Create ``count`` plain events fast (benchmarks): no validation, one change number each
        but one shared created/updated stamp, serialized up front, one push per call.
        Returns how many were created.

        Without ``mix`` every event is organized by the owner and has ``attendees`` contact
        guests ``contact{(7i+k) % 5000}@example.com``. With one (see bulkmix.py) the guests,
        series, occurrences, private events and invitations follow its seeded draws, and
        ``last_bulk_mix`` says what was made; ``count`` is then the number of items the change
        feed holds (a moved or cancelled occurrence is one item, like its series)."""
        calendar = self.calendar(calendar_id)
        names = self.display_names()
        base = (start or dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)).astimezone(dt.UTC)
        owner_person = {"email": calendar.owner, "self": True}
        if calendar.owner in names:
            owner_person["displayName"] = names[calendar.owner]
        ms = self._next_ms()
        stamp = rfc3339_ms(ms / 1000)
        etag = f'"{ms * 1000}"'
        organizer_attendee = {**owner_person, "organizer": True, "responseStatus": "accepted"}
        reminders = {"useDefault": True}
        link_prefix = "https://www.google.com/calendar/event?eid="
        link_suffix = f" {calendar.id}".encode()
        base_ts = base.timestamp()
        step, length = spacing.total_seconds(), duration.total_seconds()
        days: dict[int, str] = {}
        draws = MixDraws(mix, calendar.owner) if mix is not None else None
        made = 0
        i = -1
        while made < count:
            i += 1
            event_id = self.new_event_id()
            begin_ts = base_ts + step * i
            begin = When(dt.datetime.fromtimestamp(begin_ts, dt.UTC), False, "UTC")
            end = When(dt.datetime.fromtimestamp(begin_ts + length, dt.UTC), False, "UTC")
            eid = base64.urlsafe_b64encode(event_id.encode() + link_suffix).rstrip(b"=")
            if draws is None:
                guest_emails = [
                    f"contact{(i * 7 + k) % 5000}@example.com" for k in range(attendees)
                ]
            else:
                guest_emails = draws.guests()
            guests = [{"email": e, "responseStatus": "needsAction"} for e in guest_emails]
            data: dict[str, Any] = {
                "kind": "calendar#event",
                "etag": etag,
                "id": event_id,
                "status": "confirmed",
                "htmlLink": link_prefix + eid.decode(),
                "created": stamp,
                "updated": stamp,
                "summary": f"Meeting {i}",
                "creator": owner_person,
                "organizer": owner_person,
                "start": {"dateTime": _utc_text(begin_ts, days), "timeZone": "UTC"},
                "end": {"dateTime": _utc_text(begin_ts + length, days), "timeZone": "UTC"},
                "iCalUID": f"{event_id}@google.com",
                "sequence": 0,
                "attendees": [organizer_attendee, *guests],
                "reminders": reminders,
                "eventType": "default",
            }
            extra: list[StoredEvent] = []
            if draws is not None:
                extra = self._mix_event(draws, i, data, begin, end, count - made - 1)
            stored = StoredEvent(data, self._next_seq(), begin, end)
            # Serialize now: a benchmark's first full sync should not pay for 100k encodings.
            stored._bytes = orjson.dumps(data)
            calendar.events[event_id] = stored
            for occurrence in extra:
                occurrence.seq = self._next_seq()
                occurrence._bytes = orjson.dumps(occurrence.wire())
                calendar.events[occurrence.id] = occurrence
            made += 1 + len(extra)
        if draws is not None:
            draws.tally.events = made
            self.last_bulk_mix = draws.tally
        if count:
            self._changed(calendar)
        return count

    @staticmethod
    def _mix_event(
        draws: MixDraws, i: int, data: dict[str, Any], begin: When, end: When, room: int
    ) -> list[StoredEvent]:
        """Turn bulk event ``i`` into what the mix says (in place): a private event, an
        invitation from a contact, a weekly series; returns a series' changed occurrences
        (a moved one and a cancelled one, when ``room`` in the count allows)."""
        mix, tally = draws.mix, draws.tally
        if mix.private_every and i % mix.private_every == mix.private_every - 1:
            data["visibility"] = "private"
            tally.private += 1
        if mix.invited_every and i % mix.invited_every == mix.invited_every - 2:
            host = {"email": f"contact{draws.rng.randrange(mix.contacts)}@example.com"}
            owner = {**data["organizer"], "responseStatus": "accepted"}
            guests = [a for a in data["attendees"][1:] if a["email"] != host["email"]]
            data["organizer"] = data["creator"] = host
            data["attendees"] = [
                {**host, "organizer": True, "responseStatus": "accepted"},
                owner,
                *guests,
            ]
            tally.invitations += 1
        if not (mix.recurring_every and i % mix.recurring_every == 0):
            tally.singles += 1
            return []
        data["recurrence"] = ["RRULE:FREQ=WEEKLY;COUNT=10"]
        tally.series += 1
        series_n = i // mix.recurring_every
        if not mix.exception_every or series_n % mix.exception_every or room < 2:
            return []
        master = StoredEvent(data, 0, begin, end)
        week = dt.timedelta(days=7)
        moved_original = When(begin.moment + week, False, "UTC")
        moved = recurrence.synthesize(master, moved_original)
        moved_start = moved_original.moment + dt.timedelta(hours=2)
        length = master.end.moment - master.start.moment
        moved["start"] = When(moved_start, False, "UTC").to_wire()
        moved["end"] = When(moved_start + length, False, "UTC").to_wire()
        moved["summary"] = f"{data['summary']} (moved)"
        moved["sequence"] = 1
        cancelled_original = When(begin.moment + 2 * week, False, "UTC")
        cancelled = recurrence.synthesize(master, cancelled_original)
        cancelled["status"] = "cancelled"
        tally.moved_occurrences += 1
        tally.cancelled_occurrences += 1
        return [
            StoredEvent(
                moved, 0, When(moved_start, False, "UTC"), When(moved_start + length, False, "UTC")
            ),
            StoredEvent(
                cancelled,
                0,
                cancelled_original,
                When(cancelled_original.moment + length, False, "UTC"),
                deleted=True,
            ),
        ]
