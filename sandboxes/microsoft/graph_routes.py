"""Graph v1.0 endpoints of the sandbox (``/v1.0/...``); the bearer check is the app's middleware.

Covered: ``/me``, ``/me/revokeSignInSessions``, ``/me/calendar(s)``, calendarView and its delta
(default and any calendar), events CRUD with ``transactionId`` dedup and ``If-Match``, ``cancel``,
``accept``/``tentativelyAccept``/``decline``, ``instances``, ``getSchedule`` and
``/subscriptions``. ``Prefer: outlook.timezone="..."`` converts returned start/end times
(otherwise UTC, as Graph does).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote

import orjson
from aiohttp import web

from sync.providers.microsoft.wire import Event

from .delta import TokenGone
from .errors import GraphError, bad_request
from .resources import bounds, html_to_text
from .sandbox import MICROSOFT_SANDBOX, MicrosoftSandbox
from .schedule import get_schedule
from .store import CalendarState, Mailbox
from .timefmt import BadTimeZone, dttz, parse_offset, zone

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#"
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.I)
_TIMEZONE = re.compile(r'outlook\.timezone\s*=\s*"([^"]+)"', re.I)
_BODY_TEXT = re.compile(r'outlook\.body-content-type\s*=\s*"?text"?', re.I)


def _sandbox(request: web.Request) -> MicrosoftSandbox:
    return request.app[MICROSOFT_SANDBOX]


# The authenticated mailbox of a /v1.0 request (set by the app's bearer middleware).
GRAPH_USER: web.RequestKey[Mailbox] = web.RequestKey("graph_user", Mailbox)


def _me(request: web.Request) -> Mailbox:
    return request[GRAPH_USER]


GRAPH_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response serialised with orjson, with Graph's OData content type."""
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        headers={"Content-Type": GRAPH_JSON, "Cache-Control": "private", **(headers or {})},
    )


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type "
            "header is set and payload is of valid JSON format.",
            "BadRequest",
        ) from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "BadRequest")
    return body


class _Render:
    """Per-request rendering of events: ``Prefer: outlook.timezone="..."`` (start/end in that
    zone), ``Prefer: outlook.body-content-type="text"`` (HTML bodies as plain text) and
    ``$select`` (only the named properties, plus ``id`` and ``@odata.etag``; not on delta,
    where Graph does not support it either)."""

    def __init__(self, request: web.Request, allow_select: bool = True) -> None:
        self.zone_name: str | None = None
        prefer = request.headers.get("Prefer", "")
        match = _TIMEZONE.search(prefer)
        if match:
            try:
                zone(match.group(1))
                self.zone_name = match.group(1)
            except BadTimeZone:
                self.zone_name = None
        self.text_body = bool(_BODY_TEXT.search(prefer))
        select = request.query.get("$select") if allow_select else None
        self.select: set[str] | None = None
        if select:
            self.select = {s.strip() for s in select.split(",") if s.strip()}
            self.select |= {"id", "@odata.etag"}
        # Stored times are already UTC: asking for UTC changes nothing but the header.
        self._convert = self.zone_name is not None and self.zone_name.upper() != "UTC"
        sandbox = request.app[MICROSOFT_SANDBOX]
        owner = request.get(GRAPH_USER)
        self._x500_for = owner.email if owner and sandbox.quirks.x500_organizers else None
        self.plain = (
            not self._convert
            and not self.text_body
            and self.select is None
            and self._x500_for is None
        )

    def event(self, event: Any) -> Any:
        if self.plain or "@removed" in event:
            return event
        out = dict(event)
        if self._convert and self.zone_name is not None and not event.get("isAllDay"):
            start, end = bounds(event)
            out["start"] = dttz(start, self.zone_name)
            out["end"] = dttz(end, self.zone_name)
        if self.text_body and event.get("body", {}).get("contentType") == "html":
            out["body"] = {"contentType": "text", "content": html_to_text(event["body"])}
        if self._x500_for is not None:
            x500_organizer(out, self._x500_for)
        if self.select is not None:
            out = {k: v for k, v in out.items() if k in self.select}
        return out

    def events(self, events: Iterable[Any]) -> list[Any]:
        if self.plain:
            return list(events)
        return [self.event(e) for e in events]

    def headers(self, extra: Iterable[str] = ()) -> dict[str, str]:
        applied = list(extra)
        if self.zone_name is not None:
            applied.append(f'outlook.timezone="{self.zone_name}"')
        if self.text_body:
            applied.append('outlook.body-content-type="text"')
        return {"Preference-Applied": ", ".join(applied)} if applied else {}


def x500_address(address: str) -> str:
    """The X500 (legacyExchangeDN) form Exchange gives a recipient it resolved internally."""
    digest = hashlib.md5(address.lower().encode()).hexdigest()
    local = address.split("@", 1)[0]
    return (
        "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/"
        f"cn={digest}-{local}"
    )


def x500_organizer(event: dict[str, Any], owner: str) -> None:
    """The ``x500Organizers`` quirk (microsoft-graph-docs #13898): a meeting organised by
    someone else names its organizer by X500 address, and lists that form among the attendees
    beside any SMTP form of the same person."""
    organizer = (event.get("organizer") or {}).get("emailAddress") or {}
    address = str(organizer.get("address") or "")
    if not address or address.lower() == owner.lower() or address.startswith("/"):
        return
    x500 = {"name": organizer.get("name") or address, "address": x500_address(address)}
    event["organizer"] = {"emailAddress": x500}
    event["attendees"] = [
        *(event.get("attendees") or []),
        {
            "type": "required",
            "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            "emailAddress": x500,
        },
    ]


def _entity(user: Mailbox, event: Event, render: _Render) -> dict[str, Any]:
    return {"@odata.context": f"{CONTEXT}users('{user.id}')/events/$entity", **render.event(event)}


# -- me, calendars -------------------------------------------------------------------------------


async def get_me(request: web.Request) -> web.Response:
    """GET /v1.0/me."""
    sandbox = _sandbox(request)
    return json_response(
        {"@odata.context": f"{CONTEXT}users/$entity", **sandbox.store.user_resource(_me(request))}
    )


async def revoke_sign_in_sessions(request: web.Request) -> web.Response:
    """POST /v1.0/me/revokeSignInSessions: every refresh token of the user dies."""
    sandbox = _sandbox(request)
    sandbox.revoke_user(_me(request).email)
    return json_response({"@odata.context": f"{CONTEXT}Edm.Boolean", "value": True})


def _calendar(request: web.Request) -> CalendarState:
    sandbox = _sandbox(request)
    return sandbox.store.calendar(_me(request), request.match_info.get("calendar_id"))


async def get_calendar(request: web.Request) -> web.Response:
    """GET /v1.0/me/calendar and /v1.0/me/calendars/{id}."""
    sandbox, user = _sandbox(request), _me(request)
    return json_response(
        {
            "@odata.context": f"{CONTEXT}users('{user.id}')/calendars/$entity",
            **sandbox.store.calendar_resource(user, _calendar(request)),
        }
    )


async def list_calendars(request: web.Request) -> web.Response:
    """GET /v1.0/me/calendars: the default calendar first, then secondary ones."""
    sandbox, user = _sandbox(request), _me(request)
    calendars = sorted(user.calendars.values(), key=lambda c: not c.is_default)
    return json_response(
        {
            "@odata.context": f"{CONTEXT}users('{user.id}')/calendars",
            "value": [sandbox.store.calendar_resource(user, c) for c in calendars],
        }
    )


# -- calendarView and delta ----------------------------------------------------------------------


def _window(request: web.Request) -> tuple[datetime, datetime]:
    query = request.query
    start_raw = query.get("startDateTime") or query.get("startdatetime")
    end_raw = query.get("endDateTime") or query.get("enddatetime")
    if not start_raw or not end_raw:
        raise bad_request(
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
            "ErrorInvalidParameter",
        )
    try:
        return parse_offset(start_raw), parse_offset(end_raw)
    except ValueError as exc:
        raise bad_request(
            f"The parameter 'StartDateTime' or 'EndDateTime' is invalid: {exc}",
            "ErrorInvalidParameter",
        ) from exc


def _page_size(request: web.Request) -> tuple[int, list[str]]:
    match = _MAXPAGESIZE.search(request.headers.get("Prefer", ""))
    if not match:
        return DEFAULT_PAGE_SIZE, []
    size = max(1, min(MAX_PAGE_SIZE, int(match.group(1))))
    return size, [f"odata.maxpagesize={size}"]


def _sync_state_gone(sandbox: MicrosoftSandbox) -> GraphError:
    """An expired or unknown delta or skip token: "a 40X-series error with error codes such
    as syncStateNotFound" (410 by default; 400/404 and resyncRequired as the quirks say).
    https://learn.microsoft.com/en-us/graph/delta-query-overview#synchronization-reset"""
    return GraphError(
        sandbox.quirks.expired_status,
        sandbox.quirks.expired_code,
        "The sync state generation is not found. The delta token is expired or invalid and "
        "data must be synchronized again.",
    )


def _check_window(sandbox: MicrosoftSandbox, start: datetime, end: datetime) -> None:
    """503 for a window longer than the quirk allows: the real service times out expanding
    endless series over long windows (microsoft-graph-docs #3657, #6499)."""
    days = sandbox.quirks.max_window_days
    if days is not None and (end - start).total_seconds() > float(days) * 86400:
        raise GraphError(
            503,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry later.",
            {"Retry-After": "1"},
        )


async def calendar_view_delta(request: web.Request) -> web.Response:
    """GET .../calendarView/delta: a round starts (window, or $deltatoken) or continues
    ($skiptoken); pages end with @odata.nextLink, the last one with @odata.deltaLink.
    https://learn.microsoft.com/en-us/graph/api/event-delta (the quirks in ``quirks`` make it
    repeat pages, refuse long windows, and answer expired tokens in other 40X forms)."""
    sandbox, user = _sandbox(request), _me(request)
    render = _Render(request, allow_select=False)
    size, applied = _page_size(request)
    size = sandbox.faults.cap_page(size) + int(sandbox.quirks.page_overflow)
    query = request.query
    skip = query.get("$skiptoken")
    try:
        if skip is None:
            delta_token = query.get("$deltatoken")
            if delta_token is not None:
                since = sandbox.delta.state(delta_token)
                if since.email != user.email:
                    raise TokenGone(delta_token)
                calendar = sandbox.store.calendar(user, since.calendar_id)
                _check_window(sandbox, since.start, since.end)
                skip = sandbox.delta.incremental_round(
                    since,
                    calendar.version,
                    calendar.changed_since(since.version),
                    lambda record_id: sandbox.store.record_instances(
                        calendar, record_id, since.start, since.end
                    ),
                )
            else:
                calendar = _calendar(request)
                start, end = _window(request)
                _check_window(sandbox, start, end)
                view = sandbox.store.view(user, calendar, start, end)
                skip = sandbox.delta.full_round(
                    user.email, calendar.id, start, end, calendar.version, view
                )
        round_, page = sandbox.delta.page(skip, size, int(sandbox.quirks.repeat_pages))
        if round_.email != user.email:
            raise TokenGone(skip)
    except TokenGone:
        raise _sync_state_gone(sandbox) from None
    base = f"{request.scheme}://{request.host}{request.path}"
    if page.skip_token is not None:
        tail = {"@odata.nextLink": f"{base}?$skiptoken={quote(page.skip_token)}"}
    else:
        tail = {"@odata.deltaLink": f"{base}?$deltatoken={quote(page.delta_token or '')}"}
    return _collection(
        {"@odata.context": f"{CONTEXT}Collection(event)"},
        page.items,
        tail,
        render,
        ["odata.track-changes", *applied],
    )


def _collection(
    head: dict[str, Any],
    items: list[Any],
    tail: dict[str, Any],
    render: _Render,
    applied: list[str],
) -> web.Response:
    """A collection response: ``{**head, "value": items, **tail}``, serialised in one call
    (measured faster for a first round than caching each event's JSON text)."""
    return json_response(
        {**head, "value": render.events(items), **tail}, headers=render.headers(applied)
    )


def _paged(request: web.Request, items: list[Any], context: str, render: _Render) -> web.Response:
    """A plain (non-delta) collection page: ``$top`` (or ``Prefer: odata.maxpagesize``, default
    10) items from ``$skip``, with an ``@odata.nextLink`` carrying the next ``$skip``."""
    query = request.query
    size, applied = _page_size(request)
    top = query.get("$top")
    if top is not None:
        if not top.isdigit() or int(top) < 1:
            raise bad_request(f"Invalid value '{top}' for $top.", "BadRequest")
        size, applied = min(int(top), MAX_PAGE_SIZE), []
    skip_raw = query.get("$skip", "0")
    if not skip_raw.isdigit():
        raise bad_request(f"Invalid value '{skip_raw}' for $skip.", "BadRequest")
    skip = int(skip_raw)
    tail: dict[str, Any] = {}
    if skip + size < len(items):
        params = {k: v for k, v in query.items() if k not in ("$skip",)}
        params["$skip"] = str(skip + size)
        tail["@odata.nextLink"] = str(request.url.with_query(params))
    return _collection(
        {"@odata.context": context}, items[skip : skip + size], tail, render, applied
    )


async def calendar_view(request: web.Request) -> web.Response:
    """GET .../calendarView?startDateTime&endDateTime: instances in the window, paged."""
    sandbox, user = _sandbox(request), _me(request)
    start, end = _window(request)
    events = sandbox.store.view(user, _calendar(request), start, end)
    return _paged(request, events, f"{CONTEXT}users('{user.id}')/calendarView", _Render(request))


async def list_events(request: web.Request) -> web.Response:
    """GET /v1.0/me/events (or /me/calendars/{id}/events): singles and series masters (never
    occurrences), newest created first, paged."""
    user = _me(request)
    calendar = _calendar(request)
    events = [r.resource for r in calendar.events.values()]
    events.reverse()
    return _paged(request, events, f"{CONTEXT}users('{user.id}')/events", _Render(request))


# -- events --------------------------------------------------------------------------------------


async def create_event(request: web.Request) -> web.Response:
    """POST /v1.0/me/events (or /me/calendars/{id}/events): 201; a repeated transactionId
    returns the event it created the first time.
    https://learn.microsoft.com/en-us/graph/api/user-post-events"""
    sandbox, user = _sandbox(request), _me(request)
    body = await _json_body(request)
    event, _created = sandbox.store.create_event(user, body, request.match_info.get("calendar_id"))
    render = _Render(request)
    return json_response(
        _entity(user, event, render),
        status=201,
        headers={
            "Location": f"{request.scheme}://{request.host}/v1.0/users/{user.id}/events/"
            f"{quote(event['id'], safe='')}",
            **render.headers(),
        },
    )


def _item_id(request: web.Request) -> str:
    """The event id of the path; 400 ErrorInvalidIdMalformed, as Graph answers, for text that
    is not an Outlook item id at all (those are base64 and start with ``AAMk``)."""
    event_id = request.match_info["event_id"]
    if not event_id.startswith("AAMk"):
        raise bad_request("Id is malformed.", "ErrorInvalidIdMalformed")
    return event_id


async def get_event(request: web.Request) -> web.Response:
    """GET /v1.0/me/events/{id}. https://learn.microsoft.com/en-us/graph/api/event-get"""
    sandbox, user = _sandbox(request), _me(request)
    render = _Render(request)
    event = sandbox.store.get_event(user, _item_id(request))
    if render.select is not None and "cancelledOccurrences" in render.select:
        # Graph returns it only when selected, and only on a GET of the master by its id.
        cancelled = sandbox.store.cancelled_occurrences(user, event["id"])
        event = cast(Event, {**event, "cancelledOccurrences": cancelled})
    return json_response(_entity(user, event, render), headers=render.headers())


async def get_calendar_event(request: web.Request) -> web.Response:
    """GET /v1.0/me/calendar/events/{id} (the default calendar) and
    /v1.0/me/calendars/{calendar_id}/events/{id}: 404 for an event of another calendar."""
    sandbox, user = _sandbox(request), _me(request)
    calendar = _calendar(request)
    render = _Render(request)
    event = sandbox.store.get_calendar_event(user, calendar.id, _item_id(request))
    return json_response(_entity(user, event, render), headers=render.headers())


async def update_event(request: web.Request) -> web.Response:
    """PATCH /v1.0/me/events/{id} (``If-Match`` with the @odata.etag: 412 when stale).
    https://learn.microsoft.com/en-us/graph/api/event-update"""
    sandbox, user = _sandbox(request), _me(request)
    body = await _json_body(request)
    event = sandbox.store.update_event(
        user, request.match_info["event_id"], body, request.headers.get("If-Match")
    )
    render = _Render(request)
    return json_response(_entity(user, event, render), headers=render.headers())


async def delete_event(request: web.Request) -> web.Response:
    """DELETE /v1.0/me/events/{id}: 204. https://learn.microsoft.com/en-us/graph/api/event-delete"""
    sandbox, user = _sandbox(request), _me(request)
    event_id = request.match_info["event_id"]
    if_match = request.headers.get("If-Match")
    if if_match and if_match != "*":
        current = sandbox.store.get_event(user, event_id)
        if current["@odata.etag"] != if_match:
            raise GraphError(
                412,
                "ErrorIrresolvableConflict",
                "The change key passed in the request does not match the current "
                "change key for the item.",
            )
    sandbox.store.delete_event(user, event_id)
    return web.Response(status=204)


async def cancel_event(request: web.Request) -> web.Response:
    """POST /v1.0/me/events/{id}/cancel {comment}: organizer only; 202.
    https://learn.microsoft.com/en-us/graph/api/event-cancel"""
    sandbox, user = _sandbox(request), _me(request)
    body = await _json_body(request)
    sandbox.store.cancel_event(user, request.match_info["event_id"], str(body.get("comment") or ""))
    return web.Response(status=202)


_RESPONSES = {
    "accept": "accepted",
    "tentativelyAccept": "tentativelyAccepted",
    "decline": "declined",
}


async def respond_to_event(request: web.Request) -> web.Response:
    """POST /v1.0/me/events/{id}/accept|tentativelyAccept|decline {comment?, sendResponse?}:
    202."""
    sandbox, user = _sandbox(request), _me(request)
    body = await _json_body(request)
    sandbox.store.respond(
        user,
        request.match_info["event_id"],
        _RESPONSES[request.match_info["action"]],
        str(body.get("comment") or ""),
        bool(body.get("sendResponse", True)),
    )
    return web.Response(status=202)


async def event_instances(request: web.Request) -> web.Response:
    """GET /v1.0/me/events/{id}/instances?startDateTime&endDateTime."""
    sandbox, user = _sandbox(request), _me(request)
    render = _Render(request)
    start, end = _window(request)
    events = sandbox.store.instances(user, request.match_info["event_id"], start, end)
    return json_response(
        {"@odata.context": f"{CONTEXT}Collection(event)", "value": render.events(events)},
        headers=render.headers(),
    )


async def schedule(request: web.Request) -> web.Response:
    """POST /v1.0/me/calendar/getSchedule. Not supported for personal Microsoft accounts
    (the permissions table of https://learn.microsoft.com/en-us/graph/api/calendar-getschedule
    says "Not supported"; the exact refusal is undocumented: the sandbox answers 403
    ErrorAccessDenied)."""
    sandbox, user = _sandbox(request), _me(request)
    if user.personal:
        raise GraphError(
            403,
            "ErrorAccessDenied",
            "Access is denied. getSchedule is not available for personal Microsoft accounts.",
        )
    return json_response(get_schedule(sandbox.store, user, await _json_body(request)))


# -- subscriptions -------------------------------------------------------------------------------


async def create_subscription(request: web.Request) -> web.Response:
    """POST /v1.0/subscriptions: validation handshake (of the notification and the lifecycle
    URL) first, then 201. https://learn.microsoft.com/en-us/graph/api/subscription-post-subscriptions
    The ``lostSubscriptionAnswers`` quirk drops the connection after creating."""
    sandbox, user = _sandbox(request), _me(request)
    subscription = await sandbox.subscriptions.create(user, await _json_body(request))
    if sandbox.quirks.lost_subscription_answers > 0:
        sandbox.quirks.lost_subscription_answers -= 1
        sandbox.faults.injected["lost_answer"] += 1
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=499)
    return json_response(
        {"@odata.context": f"{CONTEXT}subscriptions/$entity", **subscription}, status=201
    )


async def list_subscriptions(request: web.Request) -> web.Response:
    """GET /v1.0/subscriptions. https://learn.microsoft.com/en-us/graph/api/subscription-list"""
    sandbox, user = _sandbox(request), _me(request)
    return json_response(
        {"@odata.context": f"{CONTEXT}subscriptions", "value": sandbox.subscriptions.list(user)}
    )


async def get_subscription(request: web.Request) -> web.Response:
    """GET /v1.0/subscriptions/{id}."""
    sandbox, user = _sandbox(request), _me(request)
    state = sandbox.subscriptions.get(user, request.match_info["subscription_id"])
    return json_response({"@odata.context": f"{CONTEXT}subscriptions/$entity", **state.to_json()})


async def renew_subscription(request: web.Request) -> web.Response:
    """PATCH /v1.0/subscriptions/{id} {expirationDateTime}.
    https://learn.microsoft.com/en-us/graph/api/subscription-update"""
    sandbox, user = _sandbox(request), _me(request)
    subscription = sandbox.subscriptions.renew(
        user, request.match_info["subscription_id"], await _json_body(request)
    )
    return json_response({"@odata.context": f"{CONTEXT}subscriptions/$entity", **subscription})


async def delete_subscription(request: web.Request) -> web.Response:
    """DELETE /v1.0/subscriptions/{id}: 204.
    https://learn.microsoft.com/en-us/graph/api/subscription-delete"""
    sandbox, user = _sandbox(request), _me(request)
    sandbox.subscriptions.delete(user, request.match_info["subscription_id"])
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    """Mount the Graph endpoints under /v1.0."""
    r = app.router
    r.add_get("/v1.0/me", get_me)
    r.add_post("/v1.0/me/revokeSignInSessions", revoke_sign_in_sessions)
    r.add_get("/v1.0/me/calendar", get_calendar)
    r.add_get("/v1.0/me/calendars", list_calendars)
    r.add_get("/v1.0/me/calendars/{calendar_id}", get_calendar)
    for prefix in ("/v1.0/me", "/v1.0/me/calendar", "/v1.0/me/calendars/{calendar_id}"):
        r.add_get(f"{prefix}/calendarView/delta", calendar_view_delta)
        # OData's function-call spelling, which msgraph-sdk sends.
        r.add_get(f"{prefix}/calendarView/delta()", calendar_view_delta)
        r.add_get(f"{prefix}/calendarView", calendar_view)
    r.add_post("/v1.0/me/events", create_event)
    r.add_get("/v1.0/me/events", list_events)
    r.add_get("/v1.0/me/calendars/{calendar_id}/events", list_events)
    r.add_post("/v1.0/me/calendar/events", create_event)
    r.add_post("/v1.0/me/calendars/{calendar_id}/events", create_event)
    r.add_get("/v1.0/me/events/{event_id}", get_event)
    r.add_get("/v1.0/me/calendar/events/{event_id}", get_calendar_event)
    r.add_get("/v1.0/me/calendars/{calendar_id}/events/{event_id}", get_calendar_event)
    r.add_patch("/v1.0/me/events/{event_id}", update_event)
    r.add_delete("/v1.0/me/events/{event_id}", delete_event)
    r.add_post("/v1.0/me/events/{event_id}/cancel", cancel_event)
    r.add_get("/v1.0/me/events/{event_id}/instances", event_instances)
    r.add_post(
        "/v1.0/me/events/{event_id}/{action:accept|tentativelyAccept|decline}", respond_to_event
    )
    r.add_post("/v1.0/me/calendar/getSchedule", schedule)
    r.add_post("/v1.0/subscriptions", create_subscription)
    r.add_get("/v1.0/subscriptions", list_subscriptions)
    r.add_get("/v1.0/subscriptions/{subscription_id}", get_subscription)
    r.add_patch("/v1.0/subscriptions/{subscription_id}", renew_subscription)
    r.add_delete("/v1.0/subscriptions/{subscription_id}", delete_subscription)
