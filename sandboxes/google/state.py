"""SandboxState: the in-memory state of the Google sandbox and the API's operations on it.

The HTTP layers (api.py, oauth_routes.py, control.py) only parse requests and render answers;
all state changes happen here, so in-process tests can drive the sandbox through these methods.
Deterministic for a seed: ids, etags and tokens come from a seeded RNG and counters, times from
the injectable clock.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import hashlib
import hmac
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sandboxes.faults import FaultInjector
from sandboxes.google import errors, recurrence, resources, sharing
from sandboxes.google.model import (
    Calendar,
    Channel,
    StoredEvent,
    User,
    When,
    rfc3339_ms,
)
from sandboxes.google.push import PushDispatcher
from sandboxes.oauth import OAuthAuthority

DEFAULT_CHANNEL_TTL_MS = 7 * 24 * 3600 * 1000  # Google's default (and cap) for events channels
MAX_PAGE_SNAPSHOTS = 512


# The events.list parameters a sync token remembers, in the order _parse_shape returns them.
_SHAPE_PARAMS = ("singleEvents", "showDeleted", "eventTypes")


def _listing_shape(single: bool, show_deleted: bool, event_types: Iterable[str] | None) -> str:
    """``m``/``s`` (series or instances), ``d`` with showDeleted, ``.type+type`` when the
    listing was filtered by event type (no ``:``, which separates the token's fields)."""
    shape = ("s" if single else "m") + ("d" if show_deleted else "")
    types = sorted(set(event_types or ()))
    return shape + ("." + "+".join(types) if types else "")


def _parse_shape(shape: str) -> tuple[bool, bool, frozenset[str]]:
    flags, _, types = shape.partition(".")
    return flags.startswith("s"), "d" in flags, frozenset(t for t in types.split("+") if t)


@dataclass
class PageSnapshot:
    """A listing fixed at its first page; each page then costs O(page).

    Either ready serialized ``items`` (filtered, expanded or sorted listings), or, on the hot
    full-sync path, ``events``: the calendar's events as they were (a pointer copy; changes
    replace StoredEvent objects rather than mutate them), filtered and rendered page by page.
    """

    items: list[bytes]
    position: int
    page_size: int
    next_sync_token: str | None
    events: list[StoredEvent] | None = None
    show_deleted: bool = False


class SandboxState:
    """Users, calendars, events, sync tokens, channels, invitations, OAuth and faults."""

    def __init__(
        self,
        *,
        seed: int = 0,
        access_token_ttl: int = 3600,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.seed = seed
        self.clock: Callable[[], float] = clock or time.time
        self._access_token_ttl = access_token_ttl
        self.base_url = "http://127.0.0.1"
        self.push = PushDispatcher(self.clock)
        self.faults = FaultInjector(seed)
        self._generation = 0
        self._init_state()

    def _init_state(self) -> None:
        self.rng = random.Random(self.seed)
        self.oauth = OAuthAuthority(
            rng=random.Random(self.seed + 1),
            clock=self.clock,
            access_token_ttl=self._access_token_ttl,
            access_prefix="ya29.",
            refresh_prefix="1//",
            code_prefix="4/",
        )
        self.users: dict[str, User] = {}
        self.calendars: dict[str, Calendar] = {}
        # A reset changes the key, so tokens from before it answer 410 like any stale token.
        secret = f"google-sandbox-sync-{self.seed}-{self._generation}"
        self._token_key = hashlib.sha256(secret.encode()).digest()
        self.page_snapshots: collections.OrderedDict[str, PageSnapshot] = collections.OrderedDict()
        self.channels: dict[str, Channel] = {}
        self.invitations: list[dict[str, Any]] = []
        # (organizer calendar id, event id) -> emails of guests holding a mirrored copy
        self.mirrors: dict[tuple[str, str], set[str]] = {}
        # (guest calendar id, event id) -> the organizer's calendar id
        self.mirror_sources: dict[tuple[str, str], str] = {}
        self._seq = 0
        self._last_ms = 0

    def reset(self) -> None:
        """Forget everything (users, events, tokens, channels, logs, faults)."""
        self._generation += 1
        self._init_state()
        self.faults.reset()
        self.push.forget()

    # -- ids, times ------------------------------------------------------------------------------

    def _next_ms(self) -> int:
        """A strictly increasing millisecond timestamp, so every change gets a new etag/updated."""
        now = int(self.clock() * 1000)
        self._last_ms = max(now, self._last_ms + 1)
        return self._last_ms

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def new_event_id(self) -> str:
        """26 base32hex characters (a-v, 0-9), the shape of Google's generated event ids."""
        # Hex digits are a subset of base32hex and far cheaper to produce (bulk loads).
        return f"{self.rng.getrandbits(104):026x}"

    def _opaque(self, nbytes: int = 18) -> str:
        raw = bytes(self.rng.getrandbits(8) for _ in range(nbytes))
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    # -- users and calendars -----------------------------------------------------------------

    def create_user(
        self, email: str, display_name: str | None = None, time_zone: str = "UTC"
    ) -> User:
        """Create a user with a primary calendar whose id is the email (idempotent)."""
        email = email.strip().lower()
        if "@" not in email:
            raise ValueError(f"not an email address: {email!r}")
        existing = self.users.get(email)
        if existing is not None:
            return existing
        name = display_name or email.split("@")[0].replace(".", " ").title()
        sub = str(100000000000000000000 + self.rng.getrandbits(60))
        user = User(email=email, display_name=name, sub=sub)
        self.users[email] = user
        self._add_calendar(user, email, email, time_zone, primary=True)
        return user

    def add_calendar(
        self,
        email: str,
        summary: str,
        *,
        calendar_id: str | None = None,
        time_zone: str | None = None,
    ) -> Calendar:
        """Give ``email`` a secondary calendar (id like ``c_...@group.calendar.google.com``)."""
        user = self._user(email)
        cal_id = calendar_id or f"c_{self._opaque(12).lower()}@group.calendar.google.com"
        tz = time_zone or self.calendars[user.email].time_zone
        return self._add_calendar(user, cal_id, summary, tz, primary=False)

    def _add_calendar(
        self, user: User, cal_id: str, summary: str, tz: str, *, primary: bool
    ) -> Calendar:
        if cal_id in self.calendars:
            raise ValueError(f"calendar exists: {cal_id}")
        calendar = Calendar(
            id=cal_id, summary=summary, owner=user.email, time_zone=tz, primary=primary
        )
        calendar.updated_ts = self._next_ms() / 1000
        calendar.etag_seq = self._last_ms
        self.calendars[cal_id] = calendar
        user.calendars.append(cal_id)
        return calendar

    def _user(self, email: str) -> User:
        try:
            return self.users[email.strip().lower()]
        except KeyError:
            raise KeyError(f"no such sandbox user: {email}") from None

    def display_names(self) -> dict[str, str]:
        """Sandbox users' display names by email."""
        return {email: user.display_name for email, user in self.users.items()}

    def calendar_for(self, calendar_id: str, user_email: str) -> Calendar:
        """Resolve a calendarId (``primary`` = the user's email) the user may see; 404 otherwise."""
        cal_id = user_email if calendar_id == "primary" else calendar_id
        calendar = self.calendars.get(cal_id)
        if calendar is None or calendar.owner != user_email:
            raise errors.not_found()
        return calendar

    def calendar(self, calendar_id: str) -> Calendar:
        """Control API lookup by id (or a user's email for their primary calendar)."""
        calendar = self.calendars.get(calendar_id.strip().lower()) or self.calendars.get(
            calendar_id
        )
        if calendar is None:
            raise KeyError(f"no such calendar: {calendar_id}")
        return calendar

    # -- events: reads ----------------------------------------------------------------------------

    def get_event(self, calendar: Calendar, event_id: str) -> StoredEvent | dict[str, Any]:
        """A stored event, or the synthesized instance of a series; 404 when neither exists."""
        stored = calendar.events.get(event_id)
        if stored is not None:
            return stored
        instance = self._virtual_instance(calendar, event_id)
        if instance is None:
            raise errors.not_found()
        return instance[0]

    def _virtual_instance(
        self, calendar: Calendar, event_id: str
    ) -> tuple[dict[str, Any], StoredEvent, When] | None:
        """(resource, master, original start) for an unmodified instance id, else None."""
        master_id, sep, suffix = event_id.rpartition("_")
        if not sep:
            return None
        master = calendar.events.get(master_id)
        if master is None or not master.is_master or master.cancelled:
            return None
        try:
            if master.start.all_day:
                day = dt.datetime.strptime(suffix, "%Y%m%d")
                moment = day.replace(tzinfo=master.start.moment.tzinfo)
            else:
                moment = dt.datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return None
        duration = master.end.moment - master.start.moment
        # Expand only around the named time, so occurrences years into a series are found.
        window = (moment - duration - dt.timedelta(seconds=1), moment + dt.timedelta(seconds=1))
        for original in recurrence.occurrence_starts(
            master.start, master.data["recurrence"], duration, *window
        ):
            if original.instance_suffix() == suffix:
                return recurrence.synthesize(master, original), master, original
        return None

    # -- events: writes ---------------------------------------------------------------------------

    def insert_event(
        self,
        calendar: Calendar,
        body: dict[str, Any],
        *,
        actor: str | None = None,
        organizer: str | None = None,
        send_updates: str | None = None,
    ) -> StoredEvent:
        """events.insert: validate, store, notify. A client-chosen ``id`` must be base32hex and
        unused (409 ``duplicate`` otherwise, also for deleted events' ids)."""
        resources.check_types(body)
        event_id = body.get("id")
        if event_id is not None:
            event_id = str(event_id)
            resources.validate_id(event_id)
            if event_id in calendar.events:
                raise errors.duplicate()
        else:
            event_id = self.new_event_id()
            while event_id in calendar.events:
                event_id = self.new_event_id()
        actor = actor or calendar.owner
        organizer_email = str(
            (body.get("organizer") or {}).get("email") or organizer or calendar.owner
        ).lower()
        fields = resources.merge_fields(None, body, replace=True)
        ms = self._next_ms()
        stamp = rfc3339_ms(ms / 1000)
        data, start, end = resources.build_event(
            fields=fields,
            event_id=event_id,
            calendar=calendar,
            organizer_email=organizer_email,
            creator_email=str((body.get("creator") or {}).get("email") or actor).lower(),
            created=stamp,
            updated=stamp,
            etag=f'"{ms * 1000}"',
            sequence=int(body.get("sequence", 0) or 0),
            display_names=self.display_names(),
            i_cal_uid=body.get("iCalUID"),
        )
        event = StoredEvent(data=data, seq=self._next_seq(), start=start, end=end)
        calendar.touch(event)
        self._record_invitations(calendar, None, event, send_updates)
        self._changed(calendar)
        sharing.share(self, calendar, event.id)
        return event

    def patch_event(
        self,
        calendar: Calendar,
        event_id: str,
        body: dict[str, Any],
        *,
        replace: bool = False,
        if_match: str | None = None,
        send_updates: str | None = None,
        bump_sequence: bool = False,
    ) -> StoredEvent:
        """events.patch (``replace`` False) / events.update (True). Patching an instance id of a
        series stores a modified instance (exception). 412 when ``if_match`` is stale, 410 when
        the event was deleted."""
        resources.check_types(body)
        stored = calendar.events.get(event_id)
        extra: dict[str, Any] | None = None
        if stored is None:
            virtual = self._virtual_instance(calendar, event_id)
            if virtual is None:
                raise errors.not_found()
            data, master, original = virtual
            extra = {
                "recurringEventId": master.id,
                "originalStartTime": original.to_wire(),
            }
            before = data
            created = master.data["created"]
            i_cal_uid = master.data.get("iCalUID")
        else:
            if stored.deleted:
                raise errors.deleted()
            before = stored.data
            created = before["created"]
            i_cal_uid = before.get("iCalUID")
            if stored.recurring_event_id:
                extra = {
                    "recurringEventId": before["recurringEventId"],
                    "originalStartTime": before["originalStartTime"],
                }
        if if_match is not None and if_match not in ("*", before["etag"]):
            raise errors.condition_not_met()
        fields = resources.merge_fields(before, body, replace=replace)
        type_before = str(before.get("eventType") or "default")
        if replace and "eventType" not in body:
            fields["eventType"] = type_before  # an update cannot change it, even by omission
        if extra is not None:
            fields.pop("recurrence", None)
        sequence = int(before.get("sequence", 0))
        ms = self._next_ms()
        data, start, end = resources.build_event(
            fields=fields,
            event_id=event_id,
            calendar=calendar,
            organizer_email=before["organizer"]["email"],
            creator_email=before["creator"]["email"],
            created=created,
            updated=rfc3339_ms(ms / 1000),
            etag=f'"{ms * 1000}"',
            sequence=sequence,
            display_names=self.display_names(),
            i_cal_uid=i_cal_uid,
            extra=extra,
            type_before=type_before,
        )
        if bump_sequence or resources.significant_change(before, data):
            data["sequence"] = sequence + 1
        event = StoredEvent(data=data, seq=self._next_seq(), start=start, end=end)
        calendar.touch(event)
        self._record_invitations(calendar, before, event, send_updates)
        touched = [event.id]
        if event.cancelled and data.get("recurrence") and before.get("status") != "cancelled":
            # Cancelling a whole series cancels its modified occurrences too.
            touched += self._cancel_exceptions(calendar, event.id)
        self._changed(calendar)
        for changed_id in touched:
            sharing.share(self, calendar, changed_id)
        return event

    def _cancel_exceptions(self, calendar: Calendar, master_id: str) -> list[str]:
        """Tombstone the live exceptions of a series; returns their ids."""
        ids = []
        for other in list(calendar.events.values()):
            if other.recurring_event_id == master_id and not other.deleted:
                self._tombstone(calendar, other, None)
                ids.append(other.id)
        return ids

    def delete_event(
        self,
        calendar: Calendar,
        event_id: str,
        *,
        if_match: str | None = None,
        send_updates: str | None = None,
    ) -> None:
        """events.delete: the event becomes a cancelled tombstone (kept for incremental sync);
        deleting a series master cancels its exceptions too; an instance id becomes a cancelled
        exception. 410 ``deleted`` when already deleted."""
        stored = calendar.events.get(event_id)
        if stored is None:
            virtual = self._virtual_instance(calendar, event_id)
            if virtual is None:
                raise errors.not_found()
            data, _master, _original = virtual
            if if_match is not None and if_match not in ("*", data["etag"]):
                raise errors.condition_not_met()
            self._tombstone(calendar, StoredEvent(data, 0, _original, _original), send_updates)
            self._changed(calendar)
            sharing.share(self, calendar, event_id)
            return
        if stored.deleted:
            raise errors.deleted()
        if if_match is not None and if_match not in ("*", stored.data["etag"]):
            raise errors.condition_not_met()
        self._tombstone(calendar, stored, send_updates)
        touched = [event_id]
        if stored.data.get("recurrence"):
            touched += self._cancel_exceptions(calendar, event_id)
        self._changed(calendar)
        for changed_id in touched:
            sharing.share(self, calendar, changed_id)
        self._guest_removed(calendar, event_id)

    def restore_event(self, calendar: Calendar, event_id: str) -> StoredEvent:
        """The owner restores a deleted event, or one deleted occurrence, from Calendar's Trash:
        it comes back with its details and ``status: confirmed`` (a new change for sync). 404
        when nothing deleted has that id."""
        stored = calendar.events.get(event_id)
        if stored is None or not stored.deleted:
            raise errors.not_found()
        start, end = stored.start, stored.end
        master = calendar.events.get(stored.recurring_event_id or "")
        if master is not None and end.moment <= start.moment:
            # A deleted occurrence was kept with its original start only.
            length = master.end.moment - master.start.moment
            end = When(start.moment + length, start.all_day, master.end.tz_name)
        ms = self._next_ms()
        data = dict(stored.data)
        data["status"] = "confirmed"
        data["updated"] = rfc3339_ms(ms / 1000)
        data["etag"] = f'"{ms * 1000}"'
        data["sequence"] = int(data.get("sequence", 0)) + 1
        event = StoredEvent(data, self._next_seq(), start, end)
        calendar.touch(event)
        self._changed(calendar)
        sharing.share(self, calendar, event_id)
        return event

    def _guest_removed(self, calendar: Calendar, event_id: str) -> None:
        """A guest deleting their copy declines the meeting on the organizer's copy."""
        origin = sharing.organizer_copy(self, calendar, event_id)
        if origin is None:
            return
        organizer_calendar, source = origin
        if source.deleted:
            return
        attendees = [dict(a) for a in source.data.get("attendees", [])]
        for attendee in attendees:
            if attendee["email"] == calendar.owner:
                attendee["responseStatus"] = "declined"
        self.patch_event(organizer_calendar, event_id, {"attendees": attendees})

    def _tombstone(self, calendar: Calendar, stored: StoredEvent, send_updates: str | None) -> None:
        ms = self._next_ms()
        data = dict(stored.data)
        data["status"] = "cancelled"
        data["updated"] = rfc3339_ms(ms / 1000)
        data["etag"] = f'"{ms * 1000}"'
        event = StoredEvent(data, self._next_seq(), stored.start, stored.end, deleted=True)
        calendar.touch(event)
        if send_updates and send_updates != "none":
            self._record(calendar, event, "cancellation", self._guests(stored.data), send_updates)

    # -- invitations ("emails Google would have sent") ---------------------------------------------

    @staticmethod
    def _guests(data: dict[str, Any]) -> list[str]:
        organizer = data.get("organizer", {}).get("email")
        return [a["email"] for a in data.get("attendees", []) if a["email"] != organizer]

    def _record_invitations(
        self,
        calendar: Calendar,
        before: dict[str, Any] | None,
        event: StoredEvent,
        send_updates: str | None,
    ) -> None:
        if not send_updates or send_updates == "none":
            return
        after = self._guests(event.data)
        if before is None:
            self._record(calendar, event, "invitation", after, send_updates)
            return
        previous = self._guests(before)
        if event.cancelled and before.get("status") != "cancelled":
            self._record(calendar, event, "cancellation", previous, send_updates)
            return
        added = [e for e in after if e not in previous]
        removed = [e for e in previous if e not in after]
        kept = [e for e in after if e in previous]
        self._record(calendar, event, "invitation", added, send_updates)
        self._record(calendar, event, "cancellation", removed, send_updates)
        self._record(calendar, event, "update", kept, send_updates)

    def _record(
        self,
        calendar: Calendar,
        event: StoredEvent,
        kind: str,
        recipients: Iterable[str],
        send_updates: str,
    ) -> None:
        for email in recipients:
            # externalOnly: Google mails only guests who are not Google Calendar users.
            if send_updates == "externalOnly" and email in self.users:
                continue
            self.invitations.append(
                {
                    "kind": kind,
                    "to": email,
                    "calendarId": calendar.id,
                    "eventId": event.id,
                    "summary": event.data.get("summary"),
                    "organizer": event.data.get("organizer", {}).get("email"),
                    "sendUpdates": send_updates,
                    "sequence": event.data.get("sequence", 0),
                }
            )

    # -- change propagation -------------------------------------------------------------------

    def _changed(self, calendar: Calendar) -> None:
        """After any change: bump the calendar's etag/updated and queue ``exists`` pushes."""
        calendar.updated_ts = self._last_ms / 1000
        calendar.etag_seq = self._last_ms
        for channel in list(self.channels.values()):
            if channel.calendar_id == calendar.id:
                self.push.enqueue(channel, "exists")

    # -- sync tokens -----------------------------------------------------------------------------

    def issue_sync_token(
        self,
        calendar: Calendar,
        *,
        single: bool = False,
        show_deleted: bool = False,
        event_types: Iterable[str] | None = None,
    ) -> str:
        """An opaque token for "everything up to now" on ``calendar``. Stateless (the change
        number, the calendar's token epoch, the listing's parameters a later incremental
        request must repeat (``singleEvents``, ``showDeleted``, ``eventTypes``) and the
        calendar's id, signed with a key derived from the seed), so a long-running sandbox
        keeps no per-token memory and forgeries are refused."""
        shape = _listing_shape(single, show_deleted, event_types)
        payload = f"{self._seq}:{calendar.sync_epoch}:{shape}:{calendar.id}".encode()
        mac = hmac.new(self._token_key, payload, hashlib.sha256).digest()[:12]
        return "C" + base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")

    def resolve_sync_token(
        self,
        calendar: Calendar,
        token: str,
        *,
        single: bool = False,
        show_deleted: bool = False,
        event_types: Iterable[str] | None = None,
    ) -> int:
        """The change number a token stands for; 410 ``fullSyncRequired`` when it is malformed,
        forged, for another calendar, or was invalidated by expire_sync_tokens; 400 (location
        ``syncToken``) when the request's ``singleEvents``, ``showDeleted`` or ``eventTypes``
        differ from the listing that issued the token. The sync guide: incremental requests
        keep "all other query parameters" of the initial full sync
        (https://developers.google.com/calendar/api/guides/sync); a series listing and an
        instance listing name a series' occurrences differently, and a listing without
        ``showDeleted`` holds nothing of what was deleted before it."""
        try:
            raw = base64.urlsafe_b64decode(token[1:] + "=" * (-(len(token) - 1) % 4))
            mac, payload = raw[:12], raw[12:]
            seq_text, epoch_text, shape, calendar_id = payload.decode().split(":", 3)
            seq, epoch = int(seq_text), int(epoch_text)
        except (ValueError, UnicodeDecodeError):
            raise errors.full_sync_required() from None
        expected = hmac.new(self._token_key, payload, hashlib.sha256).digest()[:12]
        if (
            not token.startswith("C")
            or not hmac.compare_digest(mac, expected)
            or calendar_id != calendar.id
            or epoch != calendar.sync_epoch
            or seq > self._seq
        ):
            raise errors.full_sync_required()
        issued = _parse_shape(shape)
        asked = (single, show_deleted, frozenset(event_types or ()))
        for name, was, now in zip(_SHAPE_PARAMS, issued, asked, strict=True):
            if was != now:
                raise errors.invalid(
                    f"Sync token was issued for a listing with another {name} value.",
                    "syncToken",
                )
        return seq

    def expire_sync_tokens(self, calendar_id: str) -> None:
        """Control: every sync token of the calendar answers 410 on its next use."""
        calendar = self.calendar(calendar_id)
        calendar.sync_epoch += 1

    def store_snapshot(self, snapshot: PageSnapshot) -> str:
        """Keep a listing snapshot under a fresh page token (LRU-bounded)."""
        token = self._opaque(24)
        self.page_snapshots[token] = snapshot
        while len(self.page_snapshots) > MAX_PAGE_SNAPSHOTS:
            self.page_snapshots.popitem(last=False)
        return token

    # -- channels -------------------------------------------------------------------------------

    def watch(
        self, calendar: Calendar, body: dict[str, Any], user_email: str, api_path: str
    ) -> Channel:
        """events.watch: create a channel and queue its ``sync`` message. The id is at most 64
        characters and unique while its channel lives (400 ``channelIdNotUnique``); the token
        at most 256 (https://developers.google.com/calendar/api/guides/push)."""
        channel_id = body.get("id")
        if not channel_id or not isinstance(channel_id, str):
            raise errors.required("id")
        if len(channel_id) > 64:
            raise errors.invalid("Invalid value for: id", "id")
        token = body.get("token")
        if token is not None and (not isinstance(token, str) or len(token) > 256):
            raise errors.invalid("Invalid value for: token", "token")
        if body.get("type") not in ("web_hook", "webhook"):
            raise errors.invalid("Invalid value for: type", "type")
        address = body.get("address")
        if not isinstance(address, str) or not address.startswith(("https://", "http://")):
            raise errors.invalid("Invalid value for: address", "address")
        now_ms = int(self.clock() * 1000)
        if self._live_channel(channel_id, now_ms) is not None:
            raise errors.GoogleApiError(
                400, "channelIdNotUnique", f"Channel id {channel_id} not unique"
            )
        cap = now_ms + DEFAULT_CHANNEL_TTL_MS
        expiration = cap
        params = body.get("params") or {}
        try:
            if body.get("expiration") is not None:
                expiration = min(int(body["expiration"]), cap)
            elif isinstance(params, dict) and params.get("ttl") is not None:
                # The older way to ask for a lifetime: params.ttl in seconds.
                expiration = min(now_ms + int(params["ttl"]) * 1000, cap)
        except (TypeError, ValueError) as exc:
            raise errors.invalid("Invalid value for: expiration", "expiration") from exc
        if not calendar.resource_id:
            calendar.resource_id = self._opaque(20)
        channel = Channel(
            id=channel_id,
            resource_id=calendar.resource_id,
            resource_uri=f"{self.base_url}{api_path}?alt=json",
            calendar_id=calendar.id,
            address=address,
            token=body.get("token"),
            expiration_ms=expiration,
            owner=user_email,
        )
        self.channels[channel_id] = channel
        # Google numbers the sync message 1 and every later message upwards from there.
        self.push.enqueue(channel, "sync")
        return channel

    def _live_channel(self, channel_id: str, now_ms: int) -> Channel | None:
        """The channel with that id unless it was stopped or has expired."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.stopped or channel.expiration_ms <= now_ms:
            return None
        return channel

    def stop_channel(self, channel_id: str, resource_id: str, user_email: str | None) -> None:
        """channels.stop: 404 when no live channel has that id and resourceId."""
        channel = self._live_channel(channel_id, int(self.clock() * 1000))
        if (
            channel is None
            or channel.resource_id != resource_id
            or (user_email is not None and channel.owner != user_email)
        ):
            raise errors.GoogleApiError(
                404, "notFound", f"Channel '{channel_id}' not found for project '0'"
            )
        channel.stopped = True
        del self.channels[channel_id]
