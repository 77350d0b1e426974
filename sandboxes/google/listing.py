"""events.list: parameter rules, full and incremental (sync token) listings, paging.

A listing is fixed at its first page: a plain full sync takes a pointer copy of the calendar's
events and renders each page from the events' cached bytes; filtered, expanded or sorted
listings materialize their serialized result once. Later pages (``pageToken``) continue from
that snapshot, so each page costs O(page size). The snapshot also fixes the ``nextSyncToken``
handed out on the last page: changes made while a client pages are not in this pass, but the
sync token predates them, so the next incremental sync returns them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from sandboxes.google import errors, recurrence
from sandboxes.google.model import Calendar, StoredEvent, parse_rfc3339, rfc3339_ms
from sandboxes.google.state import PageSnapshot, SandboxState

DEFAULT_PAGE = 250
MAX_PAGE = 2500
# Parameters Google refuses next to a syncToken (they would make the client's state inconsistent).
_NOT_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


def _bool(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name)
    if value is None:
        return False
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise errors.invalid(f"Invalid value for: {name}", name)


def _page_size(params: Mapping[str, str]) -> int:
    raw = params.get("maxResults")
    if raw is None:
        return DEFAULT_PAGE
    try:
        size = int(raw)
    except ValueError as exc:
        raise errors.invalid(
            f"Invalid value '{raw}'. Values must match the following regular expression: '-?\\d+'",
            "maxResults",
        ) from exc
    if size < 1:
        raise errors.invalid("Invalid value for: maxResults", "maxResults")
    return min(size, MAX_PAGE)  # Google silently caps at its hard limit


def envelope(calendar: Calendar) -> dict[str, Any]:
    """The ``calendar#events`` fields around ``items``."""
    head: dict[str, Any] = {
        "kind": "calendar#events",
        "etag": f'"p{calendar.etag_seq * 1000}"',
        "summary": calendar.summary,
    }
    if calendar.description:
        head["description"] = calendar.description
    return head | {
        "updated": rfc3339_ms(calendar.updated_ts),
        "timeZone": calendar.time_zone,
        "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 10}],
    }


def render_page(calendar: Calendar, items: list[bytes], extra: dict[str, str]) -> bytes:
    """Assemble the response bytes from already-serialized items (no re-encoding of events)."""
    head = envelope(calendar)
    head.update(extra)
    prefix = orjson.dumps(head)[:-1]
    return prefix + b',"items":[' + b",".join(items) + b"]}"


def list_events(sandbox: SandboxState, calendar: Calendar, params: Mapping[str, str]) -> bytes:
    """Answer one events.list request (any page) as response bytes."""
    size = sandbox.faults.cap_page(_page_size(params))
    page_token = params.get("pageToken")
    if page_token:
        snapshot = sandbox.page_snapshots.get(page_token)
        if snapshot is None:
            raise errors.invalid("Invalid page token value.", "pageToken")
        return _serve(sandbox, calendar, snapshot, size)
    sync_token = params.get("syncToken")
    show_deleted = _bool(params, "showDeleted")
    if sync_token is None and _is_plain(params):
        # The hot path of a full sync: no filter that needs the whole set up front.
        snapshot = PageSnapshot(
            items=[],
            position=0,
            page_size=size,
            next_sync_token=sandbox.issue_sync_token(
                calendar, single=False, show_deleted=show_deleted
            ),
            events=list(calendar.events.values()),
            show_deleted=show_deleted,
        )
        return _serve(sandbox, calendar, snapshot, size)
    if sync_token is not None:
        clash = [name for name in _NOT_WITH_SYNC_TOKEN if name in params]
        if clash:
            raise errors.invalid(
                f"Sync token cannot be used together with: {', '.join(clash)}", clash[0]
            )
        # "deleted events since the previous list request will always be in the result set
        # and it is not allowed to set showDeleted to False" (events.list, syncToken):
        # https://developers.google.com/calendar/api/v3/reference/events/list
        if "showDeleted" in params and not show_deleted:
            raise errors.invalid(
                "Sync token cannot be used together with showDeleted=false.", "showDeleted"
            )
    order_by = params.get("orderBy")
    single = _bool(params, "singleEvents")
    if order_by not in (None, "startTime", "updated"):
        raise errors.invalid("Invalid value for: orderBy", "orderBy")
    if order_by == "startTime" and not single:
        raise errors.invalid("The requested ordering is not available for the particular query.")
    time_min = parse_rfc3339(params["timeMin"], "timeMin") if "timeMin" in params else None
    time_max = parse_rfc3339(params["timeMax"], "timeMax") if "timeMax" in params else None
    if time_min is not None and time_max is not None and time_max <= time_min:
        raise errors.time_range_empty()

    event_types = _event_types(params)
    if sync_token is not None:
        since = sandbox.resolve_sync_token(
            calendar, sync_token, single=single, show_deleted=show_deleted, event_types=event_types
        )
        items = list(_incremental(calendar, since, single, show_deleted, event_types))
    else:
        updated_min = (
            parse_rfc3339(params["updatedMin"], "updatedMin") if "updatedMin" in params else None
        )
        items = _full(
            calendar,
            show_deleted=show_deleted,
            single=single,
            time_min=time_min,
            time_max=time_max,
            updated_min=updated_min,
            order_by=order_by,
            query=params.get("q"),
            ical_uid=params.get("iCalUID"),
            properties=_property_filters(params),
            event_types=event_types,
        )
    snapshot = PageSnapshot(
        items=items,
        position=0,
        page_size=size,
        next_sync_token=sandbox.issue_sync_token(
            calendar, single=single, show_deleted=show_deleted, event_types=event_types
        ),
    )
    return _serve(sandbox, calendar, snapshot, size)


_FILTERS = (
    "singleEvents",
    "timeMin",
    "timeMax",
    "updatedMin",
    "orderBy",
    "q",
    "iCalUID",
    "privateExtendedProperty",
    "sharedExtendedProperty",
    "eventTypes",
)


_PROPERTY_PARAMS = (("privateExtendedProperty", "private"), ("sharedExtendedProperty", "shared"))


def _property_filters(params: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(scope, key, value) from repeated ``privateExtendedProperty=key=value`` parameters."""
    getall = getattr(params, "getall", None)
    found: list[tuple[str, str, str]] = []
    for name, scope in _PROPERTY_PARAMS:
        values = getall(name, []) if getall else ([params[name]] if name in params else [])
        for item in values:
            key, sep, value = str(item).partition("=")
            if not sep or not key:
                raise errors.invalid(f"Invalid value for: {name}", name)
            found.append((scope, key, value))
    return found


def _event_types(params: Mapping[str, str]) -> set[str] | None:
    """The repeated ``eventTypes`` filter, or None when absent (all types)."""
    getall = getattr(params, "getall", None)
    values = getall("eventTypes", []) if getall else params.get("eventTypes", "").split(",")
    chosen = {str(v) for v in values if v}
    return chosen or None


def _has_properties(event: StoredEvent, wanted: list[tuple[str, str, str]]) -> bool:
    props = event.data.get("extendedProperties") or {}
    return all((props.get(scope) or {}).get(key) == value for scope, key, value in wanted)


def _is_plain(params: Mapping[str, str]) -> bool:
    """No parameter that filters, expands or sorts (showDeleted is handled per page)."""
    if any(name in params for name in _FILTERS if name != "singleEvents"):
        return False
    return not _bool(params, "singleEvents")


def _listed(calendar: Calendar, event: StoredEvent, show_deleted: bool) -> bool:
    """Whether a plain full listing shows ``event``: cancelled events only with showDeleted,
    except cancelled occurrences of a live series (Google lists those without showDeleted when
    singleEvents is off)."""
    if show_deleted or not event.cancelled:
        return True
    master_id = event.recurring_event_id
    if master_id is None or not event.deleted:
        return False
    master = calendar.events.get(master_id)
    return master is not None and not master.cancelled


def _serve_events(
    sandbox: SandboxState, calendar: Calendar, snapshot: PageSnapshot, size: int
) -> bytes:
    events = snapshot.events
    assert events is not None
    page: list[bytes] = []
    index = snapshot.position
    total = len(events)
    while index < total and len(page) < size:
        event = events[index]
        if _listed(calendar, event, snapshot.show_deleted):
            page.append(event.wire_bytes())
        index += 1
    while index < total and not _listed(calendar, events[index], snapshot.show_deleted):
        index += 1  # so the last page is known to be last (and carries the sync token)
    extra: dict[str, str] = {}
    if index < total:
        following = PageSnapshot(
            [], index, size, snapshot.next_sync_token, events, snapshot.show_deleted
        )
        extra["nextPageToken"] = sandbox.store_snapshot(following)
    elif snapshot.next_sync_token is not None:
        extra["nextSyncToken"] = snapshot.next_sync_token
    return render_page(calendar, page, extra)


def _serve(sandbox: SandboxState, calendar: Calendar, snapshot: PageSnapshot, size: int) -> bytes:
    if snapshot.events is not None:
        return _serve_events(sandbox, calendar, snapshot, size)
    start = snapshot.position
    stop = start + size
    page = snapshot.items[start:stop]
    extra: dict[str, str] = {}
    if stop < len(snapshot.items):
        following = PageSnapshot(snapshot.items, stop, size, snapshot.next_sync_token)
        extra["nextPageToken"] = sandbox.store_snapshot(following)
    elif snapshot.next_sync_token is not None:
        extra["nextSyncToken"] = snapshot.next_sync_token
    return render_page(calendar, page, extra)


def _incremental(
    calendar: Calendar,
    since: int,
    single: bool,
    show_deleted: bool,
    event_types: set[str] | None = None,
) -> Iterator[bytes]:
    """Everything changed after change number ``since``, cancelled and deleted included
    (deleted ones in their sparse form unless ``show_deleted``), of ``event_types`` only when
    the listing that issued the token was filtered by type."""
    changed: list[StoredEvent] = []
    for event in reversed(calendar.events.values()):
        if event.seq <= since:
            break
        if event_types is not None and event.data.get("eventType", "default") not in event_types:
            continue
        changed.append(event)
    changed.reverse()
    if not single:
        for event in changed:
            yield event.wire_bytes(minimal=not show_deleted)
        return
    # With singleEvents a changed series is re-sent as its instances. Its exceptions are stored
    # events of their own: they go out (once) only if they changed themselves.
    for event in changed:
        if event.is_master and not event.cancelled:
            for (_ts, instance_id), blob in _expand_keyed(calendar, event, None, None, True):
                if instance_id not in calendar.events:
                    yield blob
            continue
        yield event.wire_bytes(minimal=not show_deleted)
        if event.cancelled and event.data.get("recurrence"):
            # A client of singleEvents listings stored instance ids: cancel each of them.
            yield from _cancelled_instances(calendar, event)


def _cancelled_instances(calendar: Calendar, master: StoredEvent) -> Iterator[bytes]:
    """Sparse cancelled entries for the occurrences of a cancelled series (exceptions excluded:
    they were cancelled along with the series and are sent as themselves)."""
    duration = master.end.moment - master.start.moment
    for original in recurrence.occurrence_starts(
        master.start, master.data["recurrence"], duration, None, None
    ):
        instance_id = recurrence.instance_id(master.id, original)
        if instance_id in calendar.events:
            continue
        yield orjson.dumps(
            {
                "kind": "calendar#event",
                "etag": master.data["etag"],
                "id": instance_id,
                "status": "cancelled",
                "recurringEventId": master.id,
                "originalStartTime": original.to_wire(),
            }
        )


def _matches_text(event: StoredEvent, query: str) -> bool:
    data = event.data
    haystack = " ".join(
        [
            str(data.get("summary", "")),
            str(data.get("description", "")),
            str(data.get("location", "")),
            *(a.get("email", "") for a in data.get("attendees", [])),
        ]
    ).lower()
    return all(word in haystack for word in query.lower().split())


def _full(
    calendar: Calendar,
    *,
    show_deleted: bool,
    single: bool,
    time_min: dt.datetime | None,
    time_max: dt.datetime | None,
    updated_min: dt.datetime | None,
    order_by: str | None,
    query: str | None,
    ical_uid: str | None,
    properties: list[tuple[str, str, str]],
    event_types: set[str] | None,
) -> list[bytes]:
    updated_floor = rfc3339_ms(updated_min.timestamp()) if updated_min else None
    keyed: list[tuple[Any, bytes]] = []
    lo_ts = time_min.timestamp() if time_min else None
    hi_ts = time_max.timestamp() if time_max else None
    for event in calendar.events.values():
        if updated_floor is not None and event.data["updated"] < updated_floor:
            continue
        if ical_uid is not None and event.data.get("iCalUID") != ical_uid:
            continue
        if properties and not _has_properties(event, properties):
            continue
        if event_types is not None and event.data.get("eventType", "default") not in event_types:
            continue
        if query is not None and (event.deleted or not _matches_text(event, query)):
            continue
        # With updatedMin Google includes deletions regardless of showDeleted.
        include_cancelled = show_deleted or updated_floor is not None
        if event.cancelled and not include_cancelled:
            if single or not _listed(calendar, event, False):
                continue
        if single:
            if event.recurring_event_id is not None and event.recurring_event_id in calendar.events:
                continue  # exceptions are emitted in place by their series' expansion
            if event.is_master and not event.cancelled:
                for key, blob in _expand_keyed(
                    calendar, event, time_min, time_max, include_cancelled
                ):
                    keyed.append((key, blob))
                continue
        if event.is_master and not event.cancelled:
            if not _series_overlaps(event, time_min, time_max):
                continue
        elif not _overlaps(event.start.ts, event.end.ts, lo_ts, hi_ts):
            continue
        sort_key = event.start.ts if order_by == "startTime" else event.seq
        keyed.append(((sort_key, event.id), event.wire_bytes()))
    if order_by in ("startTime", "updated"):
        keyed.sort(key=lambda pair: pair[0])
    return [blob for _key, blob in keyed]


def _overlaps(start: float, end: float, lo: float | None, hi: float | None) -> bool:
    if lo is not None and end <= lo and not (start == end == lo):
        return False
    return hi is None or start < hi


def _series_overlaps(master: StoredEvent, lo: dt.datetime | None, hi: dt.datetime | None) -> bool:
    if lo is None and hi is None:
        return True
    duration = master.end.moment - master.start.moment
    starts = recurrence.occurrence_starts(master.start, master.data["recurrence"], duration, lo, hi)
    return next(starts, None) is not None


def _expand_keyed(
    calendar: Calendar,
    master: StoredEvent,
    lo: dt.datetime | None,
    hi: dt.datetime | None,
    show_deleted: bool,
) -> Iterator[tuple[Any, bytes]]:
    """Instances of ``master`` in the window, exceptions in place of their occurrence."""
    duration = master.end.moment - master.start.moment
    lo_ts = lo.timestamp() if lo else None
    hi_ts = hi.timestamp() if hi else None
    for original in recurrence.occurrence_starts(
        master.start, master.data["recurrence"], duration, lo, hi
    ):
        instance_id = recurrence.instance_id(master.id, original)
        exception = calendar.events.get(instance_id)
        if exception is not None:
            if exception.cancelled and not show_deleted:
                continue
            if not exception.cancelled and not _overlaps(
                exception.start.ts, exception.end.ts, lo_ts, hi_ts
            ):
                continue
            yield (exception.start.ts, instance_id), exception.wire_bytes()
            continue
        data = recurrence.synthesize(master, original)
        yield (original.ts, instance_id), orjson.dumps(data)


def _expand(
    calendar: Calendar,
    master: StoredEvent,
    lo: dt.datetime | None,
    hi: dt.datetime | None,
    *,
    show_deleted: bool,
) -> Iterator[bytes]:
    for _key, blob in _expand_keyed(calendar, master, lo, hi, show_deleted):
        yield blob


def instances(
    sandbox: SandboxState, calendar: Calendar, master: StoredEvent, params: Mapping[str, str]
) -> bytes:
    """events.instances: one page of the series' instances (no sync token, like Google)."""
    size = _page_size(params)
    page_token = params.get("pageToken")
    if page_token:
        snapshot = sandbox.page_snapshots.get(page_token)
        if snapshot is None:
            raise errors.invalid("Invalid page token value.", "pageToken")
        return _serve(sandbox, calendar, snapshot, size)
    time_min = parse_rfc3339(params["timeMin"], "timeMin") if "timeMin" in params else None
    time_max = parse_rfc3339(params["timeMax"], "timeMax") if "timeMax" in params else None
    items = list(
        _expand(calendar, master, time_min, time_max, show_deleted=_bool(params, "showDeleted"))
    )
    snapshot = PageSnapshot(items, 0, size, None)
    return _serve(sandbox, calendar, snapshot, size)


def free_busy(calendar: Calendar, lo: dt.datetime, hi: dt.datetime) -> list[dict[str, str]]:
    """Busy periods in [lo, hi): confirmed/tentative opaque events and instances, merged.
    Events the calendar's owner declined leave them free, as in Google."""
    from sandboxes.google.model import rfc3339

    periods: list[tuple[dt.datetime, dt.datetime]] = []
    lo_ts, hi_ts = lo.timestamp(), hi.timestamp()
    for event in calendar.events.values():
        data = event.data
        if event.cancelled or data.get("transparency") == "transparent":
            continue
        if any(
            a.get("email") == calendar.owner and a.get("responseStatus") == "declined"
            for a in data.get("attendees", ())
        ):
            continue
        if event.is_master:
            duration = event.end.moment - event.start.moment
            for original in recurrence.occurrence_starts(
                event.start, data["recurrence"], duration, lo, hi
            ):
                exception = calendar.events.get(recurrence.instance_id(event.id, original))
                if exception is not None:
                    continue  # the exception itself is visited on its own
                periods.append((original.moment, original.moment + duration))
            continue
        if _overlaps(event.start.ts, event.end.ts, lo_ts, hi_ts) and event.end.ts > event.start.ts:
            periods.append((event.start.moment, event.end.moment))
    clipped = sorted(
        (max(start, lo).astimezone(dt.UTC), min(end, hi).astimezone(dt.UTC))
        for start, end in periods
    )
    merged: list[list[dt.datetime]] = []
    for start, end in clipped:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [{"start": rfc3339(s), "end": rfc3339(e)} for s, e in merged]
