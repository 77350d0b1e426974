"""In-memory data model of the Google sandbox: users, calendars, stored events, time helpers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from dateutil import parser as dtparser

from sandboxes.google import errors

UTC = dt.UTC


def rfc3339_ms(ts: float) -> str:
    """Epoch seconds as Google writes ``created``/``updated``: ``2026-11-25T10:00:00.000Z``."""
    moment = dt.datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def rfc3339(moment: dt.datetime) -> str:
    """An aware datetime as RFC 3339 with ``Z`` for UTC (freeBusy, channel times)."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_rfc3339(value: str, location: str) -> dt.datetime:
    """Parse a timestamp parameter; 400 ``invalid`` when it is malformed or has no offset."""
    try:
        moment = dtparser.isoparse(value)
    except (ValueError, OverflowError) as exc:
        raise errors.invalid(f"Bad Request: invalid {location}", location) from exc
    if moment.tzinfo is None:
        raise errors.invalid(f"Bad Request: {location} requires a time zone offset", location)
    return moment


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The IANA zone ``name``; 400 when Google would not know it."""
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise errors.invalid(f"Invalid time zone definition for start time: {name}") from exc


@dataclass(frozen=True, slots=True)
class When:
    """A parsed ``start``/``end``: an aware datetime, or a date for all-day events."""

    moment: dt.datetime  # aware; for all-day, local midnight in the calendar's zone
    all_day: bool
    tz_name: str | None

    @property
    def ts(self) -> float:
        """Epoch seconds."""
        return self.moment.timestamp()

    def to_wire(self) -> dict[str, str]:
        """The EventDateTime Google returns."""
        if self.all_day:
            return {"date": self.moment.date().isoformat()}
        wire = {"dateTime": rfc3339(self.moment)}
        if self.tz_name:
            wire["timeZone"] = self.tz_name
        return wire

    def instance_suffix(self) -> str:
        """The ``_<YYYYMMDDTHHMMSSZ>`` (or ``_<YYYYMMDD>``) part of an instance id."""
        if self.all_day:
            return self.moment.strftime("%Y%m%d")
        return self.moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_when(value: Any, location: str, calendar_tz: str) -> When:
    """Parse an EventDateTime body field; 400 when it is neither a date nor a dateTime, and
    400 "Invalid start time." when it is both (what a patch leaves when it switches a timed
    event to all-day, or back, without nulling the other key; `date` is "the date, if this is
    an all-day event", `dateTime` "the time ... unless an all-day event":
    https://developers.google.com/calendar/api/v3/reference/events#resource)."""
    if not isinstance(value, dict):
        raise errors.required(location)
    if value.get("date") and value.get("dateTime"):
        raise errors.invalid("Invalid start time.", location)
    tz_name = value.get("timeZone")
    if value.get("date"):
        try:
            day = dt.date.fromisoformat(value["date"])
        except ValueError as exc:
            raise errors.invalid("Invalid start time.", location) from exc
        moment = dt.datetime.combine(day, dt.time(), zone(calendar_tz))
        return When(moment, True, None)
    if value.get("dateTime"):
        try:
            moment = dtparser.isoparse(value["dateTime"])
        except (ValueError, OverflowError) as exc:
            raise errors.invalid("Invalid start time.", location) from exc
        if moment.tzinfo is None:
            if not tz_name:
                raise errors.invalid("Missing time zone definition for start time.", location)
            moment = moment.replace(tzinfo=zone(tz_name))
        elif tz_name:
            moment = moment.astimezone(zone(tz_name))
        return When(moment, False, tz_name)
    raise errors.required(f"{location}.dateTime")


@dataclass(slots=True)
class StoredEvent:
    """One event (series master, single event, or modified/cancelled instance) with its cache.

    ``data`` is the complete resource as Google would return it to the calendar owner.
    ``deleted`` marks a tombstone from events.delete. Google keeps a deleted event's details
    (``get`` and ``showDeleted`` listings show them, so it can be restored) but incremental sync
    without ``showDeleted`` only carries the id; a cancelled occurrence of a series only ever
    carries id, recurringEventId and originalStartTime.
    ``seq`` is the sandbox-wide change number of the last change (drives sync tokens).
    """

    data: dict[str, Any]
    seq: int
    start: When
    end: When
    deleted: bool = False
    _bytes: bytes | None = None
    _minimal_bytes: bytes | None = None

    @property
    def id(self) -> str:
        """The event id."""
        return str(self.data["id"])

    @property
    def cancelled(self) -> bool:
        """status == cancelled (deleted or cancelled)."""
        return bool(self.data.get("status") == "cancelled")

    @property
    def recurring_event_id(self) -> str | None:
        """The series id of an occurrence, else None."""
        return self.data.get("recurringEventId")

    @property
    def is_master(self) -> bool:
        """A live series master (has a recurrence)."""
        return bool(self.data.get("recurrence")) and not self.deleted

    def wire(self, *, minimal: bool = False) -> dict[str, Any]:
        """The resource as returned. ``minimal``: the sparse form of a deleted event that
        incremental sync returns; cancelled occurrences of a series are always sparse."""
        if not self.deleted or not (minimal or self.recurring_event_id is not None):
            return self.data
        keep = ("kind", "etag", "id", "status", "recurringEventId", "originalStartTime")
        return {key: self.data[key] for key in keep if key in self.data}

    def wire_bytes(self, *, minimal: bool = False) -> bytes:
        """``wire()`` serialized once per form and cached until the next change."""
        if minimal and self.deleted:
            if self._minimal_bytes is None:
                self._minimal_bytes = orjson.dumps(self.wire(minimal=True))
            return self._minimal_bytes
        if self._bytes is None:
            self._bytes = orjson.dumps(self.wire())
        return self._bytes

    def invalidate(self) -> None:
        """Drop the cached serializations."""
        self._bytes = None
        self._minimal_bytes = None


@dataclass
class Channel:
    """A push channel created by events.watch."""

    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    address: str
    token: str | None
    expiration_ms: int
    owner: str
    message_number: int = 0
    stopped: bool = False


@dataclass
class Calendar:
    """A calendar: its events keyed by id, in order of last change (oldest first)."""

    id: str
    summary: str
    owner: str
    time_zone: str = "UTC"
    description: str = ""
    primary: bool = False
    etag_seq: int = 0
    updated_ts: float = 0.0
    sync_epoch: int = 0
    # Google's push resourceId names the watched resource (this calendar's events), so every
    # channel on it shares one; assigned at the first watch.
    resource_id: str = ""
    # Ordered by last change: a changed event is moved to the end, so the events changed since a
    # sync token are a suffix of this dict (reverse iteration stops at the token's seq).
    events: dict[str, StoredEvent] = field(default_factory=dict)

    def touch(self, event: StoredEvent) -> None:
        """Move ``event`` to the end of the change order and drop its cached bytes."""
        self.events.pop(event.id, None)
        self.events[event.id] = event
        event.invalidate()


@dataclass
class User:
    email: str
    display_name: str
    sub: str
    calendars: list[str] = field(default_factory=list)
