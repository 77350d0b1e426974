"""Calendar API v3 routes (``/calendar/v3/...``): calendars, events, freeBusy, watch, channels.

Every route needs a live bearer access token (401 with Google's body and ``WWW-Authenticate``
otherwise); handlers parse the request, call GoogleSandbox and render Google's wire format.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from sandboxes.google import errors, fields, listing
from sandboxes.google.model import Calendar, StoredEvent, parse_rfc3339, rfc3339
from sandboxes.google.sandbox import GoogleSandbox

GOOGLE_SANDBOX: web.AppKey[GoogleSandbox] = web.AppKey("google_sandbox", GoogleSandbox)
USER_EMAIL: web.RequestKey[str] = web.RequestKey("user_email", str)
API_PREFIX = "/calendar/v3"
_SEND_UPDATES = ("all", "externalOnly", "none")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_bytes(body: bytes, status: int = 200) -> web.Response:
    """A 200 (or ``status``) answer from already-serialized JSON."""
    return web.Response(body=body, status=status, content_type="application/json", charset="UTF-8")


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON answer serialized with orjson."""
    return json_bytes(orjson.dumps(data), status)


def bearer_token(request: web.Request) -> str | None:
    """The bearer token of the request (header, or ``access_token`` query)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return request.query.get("access_token")
    return token.strip()


@web.middleware
async def google_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn GoogleApiError into Google's JSON error response."""
    try:
        return await handler(request)
    except errors.GoogleApiError as exc:
        return exc.response()
    except web.HTTPNotFound:
        if request.path.startswith(API_PREFIX + "/"):
            return errors.not_found().response()
        raise


@web.middleware
async def partial_response(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply Google's ``fields`` selection to successful ``/calendar/v3`` JSON answers."""
    selection_text = request.query.get("fields")
    if selection_text is None or not request.path.startswith(API_PREFIX + "/"):
        return await handler(request)
    selection = fields.parse(selection_text)
    response = await handler(request)
    if (
        isinstance(response, web.Response)
        and response.status == 200
        and isinstance(response.body, bytes)
        and response.content_type == "application/json"
    ):
        response.body = orjson.dumps(fields.apply(orjson.loads(response.body), selection))
    return response


_READING_POSTS = ("/watch", "/freeBusy", "/channels/stop")


def _check_scope(scope: str, method: str, path: str) -> None:
    """403 ``insufficientPermissions`` when the grant lacks a calendar scope (reads) or a
    writable one (writes). An empty scope (tokens minted by tests) means full access."""
    if not scope:
        return
    calendar = [s for s in scope.split() if "calendar" in s]
    writable = [s for s in calendar if not s.endswith(("readonly", "freebusy"))]
    writes = method in ("PATCH", "PUT", "DELETE") or (
        method == "POST" and not path.endswith(_READING_POSTS)
    )
    if not calendar or (writes and not writable):
        raise errors.insufficient_scopes()


@web.middleware
async def require_bearer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 on ``/calendar/v3`` without a live access token; stores the user's email."""
    if request.path.startswith(API_PREFIX + "/"):
        sandbox = request.app[GOOGLE_SANDBOX]
        token = bearer_token(request)
        email = sandbox.oauth.email_for_access_token(token) if token else None
        if email is None:
            raise errors.unauthenticated()
        assert token is not None
        _check_scope(
            sandbox.oauth.scope_for_access_token(token) or "", request.method, request.path
        )
        request[USER_EMAIL] = email
    return await handler(request)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.GoogleApiError(400, "parseError", "Parse Error") from exc
    if not isinstance(body, dict):
        raise errors.GoogleApiError(400, "parseError", "Parse Error")
    return body


def _sandbox(request: web.Request) -> GoogleSandbox:
    return request.app[GOOGLE_SANDBOX]


def _calendar(request: web.Request) -> Calendar:
    return _sandbox(request).calendar_for(request.match_info["calendarId"], request[USER_EMAIL])


def _send_updates(request: web.Request) -> str | None:
    value = request.query.get("sendUpdates")
    if value is None:
        legacy = request.query.get("sendNotifications")
        return "all" if legacy == "true" else None
    if value not in _SEND_UPDATES:
        raise errors.invalid(f"Invalid value for: sendUpdates: {value}", "sendUpdates")
    return value


def _event_response(event: StoredEvent | dict[str, Any]) -> web.Response:
    if isinstance(event, StoredEvent):
        return json_bytes(event.wire_bytes())
    return json_response(event)


def calendar_list_entry(calendar: Calendar) -> dict[str, Any]:
    """A ``calendar#calendarListEntry`` for the owner of ``calendar``."""
    entry: dict[str, Any] = {
        "kind": "calendar#calendarListEntry",
        "etag": f'"{calendar.etag_seq * 1000}"',
        "id": calendar.id,
        "summary": calendar.summary,
        "timeZone": calendar.time_zone,
        "colorId": "14" if calendar.primary else "7",
        "backgroundColor": "#9fe1e7" if calendar.primary else "#42d692",
        "foregroundColor": "#000000",
        "selected": True,
        "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 10}],
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    }
    if calendar.description:
        entry["description"] = calendar.description
    if calendar.primary:
        entry["notificationSettings"] = {
            "notifications": [
                {"type": "eventCreation", "method": "email"},
                {"type": "eventChange", "method": "email"},
                {"type": "eventCancellation", "method": "email"},
                {"type": "eventResponse", "method": "email"},
            ]
        }
        entry["primary"] = True
    return entry


def calendar_resource(calendar: Calendar) -> dict[str, Any]:
    """A ``calendar#calendar`` resource (calendars.get)."""
    resource: dict[str, Any] = {
        "kind": "calendar#calendar",
        "etag": f'"{calendar.etag_seq * 1000}"',
        "id": calendar.id,
        "summary": calendar.summary,
        "timeZone": calendar.time_zone,
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    }
    if calendar.description:
        resource["description"] = calendar.description
    return resource


# -- handlers ---------------------------------------------------------------------------------


async def calendar_list(request: web.Request) -> web.Response:
    """calendarList.list: the user's primary and secondary calendars."""
    sandbox = _sandbox(request)
    user = sandbox.users[request[USER_EMAIL]]
    items = [calendar_list_entry(sandbox.calendars[cal_id]) for cal_id in user.calendars]
    return json_response(
        {
            "kind": "calendar#calendarList",
            "etag": f'"p{max(sandbox.calendars[c].etag_seq for c in user.calendars) * 1000}"',
            # calendarList sync tokens are not implemented: an opaque token that is never
            # accepted as an events sync token (a client passing it to events.list gets 410).
            "nextSyncToken": "L" + sandbox._opaque(21),
            "items": items,
        }
    )


async def calendar_list_get(request: web.Request) -> web.Response:
    """calendarList.get."""
    return json_response(calendar_list_entry(_calendar(request)))


async def calendar_get(request: web.Request) -> web.Response:
    """calendars.get (``primary`` resolves to the user's email)."""
    return json_response(calendar_resource(_calendar(request)))


async def events_list(request: web.Request) -> web.Response:
    """events.list: full or incremental listing, one page (see listing.py)."""
    calendar = _calendar(request)
    return json_bytes(listing.list_events(_sandbox(request), calendar, request.query))


# The types events.insert accepts; `fromGmail` events are made by Gmail only ("Google Calendar
# API doesn't allow creating this event type using the insert method"):
# https://developers.google.com/calendar/api/guides/event-types
_INSERTABLE_TYPES = ("default", "outOfOffice", "focusTime", "workingLocation", "birthday")


# What a birthday may carry besides its type, time and required values (event-types guide).
_BIRTHDAY_FIELDS = frozenset(
    {
        "eventType",
        "start",
        "end",
        "visibility",
        "transparency",
        "recurrence",
        "colorId",
        "summary",
        "reminders",
        "birthdayProperties",
        "id",
    }
)
_YEARLY = (["RRULE:FREQ=YEARLY"], ["RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1"])


def _check_birthday(body: dict[str, Any]) -> None:
    """A birthday is one whole day, private, transparent, repeating yearly, and carries
    nothing else (no guests): 400 otherwise.
    https://developers.google.com/calendar/api/guides/event-types#birthday"""
    extra = sorted(key for key in body if key not in _BIRTHDAY_FIELDS and body[key] is not None)
    if extra:
        raise errors.invalid(f"Invalid value for: {extra[0]}", extra[0])
    start, end = body.get("start") or {}, body.get("end") or {}
    try:
        days = (dt.date.fromisoformat(end["date"]) - dt.date.fromisoformat(start["date"])).days
    except (KeyError, TypeError, ValueError):
        days = 0
    if days != 1:
        raise errors.invalid("A birthday must span exactly one whole day.", "start")
    if body.get("visibility") != "private":
        raise errors.invalid("Invalid value for: visibility", "visibility")
    if body.get("transparency") != "transparent":
        raise errors.invalid("Invalid value for: transparency", "transparency")
    if body.get("recurrence") not in _YEARLY:
        raise errors.invalid("Invalid value for: recurrence", "recurrence")


async def events_insert(request: web.Request) -> web.Response:
    """events.insert (client-chosen ids allowed; 409 on a duplicate; 400 for an eventType the
    API cannot create). https://developers.google.com/calendar/api/v3/reference/events/insert"""
    calendar = _calendar(request)
    body = await _body(request)
    event_type = body.get("eventType")
    if event_type is not None and event_type not in _INSERTABLE_TYPES:
        raise errors.invalid(f"Invalid value for: eventType: {event_type}", "eventType")
    if event_type == "birthday":
        _check_birthday(body)
    # organizer and creator are read-only through the API: the caller's calendar organizes.
    body.pop("organizer", None)
    body.pop("creator", None)
    event = _sandbox(request).insert_event(
        calendar, body, actor=request[USER_EMAIL], send_updates=_send_updates(request)
    )
    return json_bytes(event.wire_bytes())


async def events_get(request: web.Request) -> web.Response:
    """events.get (deleted events too, as Google does); honours If-None-Match."""
    calendar = _calendar(request)
    event = _sandbox(request).get_event(calendar, request.match_info["eventId"])
    etag = event.data["etag"] if isinstance(event, StoredEvent) else event["etag"]
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    response = _event_response(event)
    response.headers["ETag"] = etag
    return response


async def _write(request: web.Request, *, replace: bool) -> web.Response:
    calendar = _calendar(request)
    body = await _body(request)
    event = _sandbox(request).patch_event(
        calendar,
        request.match_info["eventId"],
        body,
        replace=replace,
        if_match=request.headers.get("If-Match"),
        send_updates=_send_updates(request),
    )
    return json_bytes(event.wire_bytes())


async def events_patch(request: web.Request) -> web.Response:
    """events.patch (If-Match aware)."""
    return await _write(request, replace=False)


async def events_update(request: web.Request) -> web.Response:
    """events.update: replace the whole event (If-Match aware)."""
    return await _write(request, replace=True)


async def events_delete(request: web.Request) -> web.Response:
    """events.delete: 204, the event stays as a cancelled tombstone."""
    calendar = _calendar(request)
    _sandbox(request).delete_event(
        calendar,
        request.match_info["eventId"],
        if_match=request.headers.get("If-Match"),
        send_updates=_send_updates(request),
    )
    return web.Response(status=204)


async def events_instances(request: web.Request) -> web.Response:
    """events.instances: one page of a series' occurrences."""
    sandbox = _sandbox(request)
    calendar = _calendar(request)
    master = calendar.events.get(request.match_info["eventId"])
    if master is None:
        raise errors.not_found()
    if master.deleted or not master.is_master:
        raise errors.deleted() if master.deleted else errors.not_found()
    return json_bytes(listing.instances(sandbox, calendar, master, request.query))


async def events_watch(request: web.Request) -> web.Response:
    """events.watch: create a web_hook channel (answers an ``api#channel``)."""
    sandbox = _sandbox(request)
    calendar = _calendar(request)
    body = await _body(request)
    api_path = f"{API_PREFIX}/calendars/{calendar.id}/events"
    sandbox.base_url = str(request.url.origin())
    channel = sandbox.watch(calendar, body, request[USER_EMAIL], api_path)
    answer: dict[str, Any] = {
        "kind": "api#channel",
        "id": channel.id,
        "resourceId": channel.resource_id,
        "resourceUri": channel.resource_uri,
    }
    if channel.token is not None:
        answer["token"] = channel.token
    answer["expiration"] = str(channel.expiration_ms)
    return json_response(answer)


async def channels_stop(request: web.Request) -> web.Response:
    """channels.stop: 204, or 404 for an unknown/expired channel."""
    body = await _body(request)
    channel_id, resource_id = body.get("id"), body.get("resourceId")
    if not channel_id:
        raise errors.required("id")
    if not resource_id:
        raise errors.required("resourceId")
    _sandbox(request).stop_channel(str(channel_id), str(resource_id), request[USER_EMAIL])
    return web.Response(status=204)


async def free_busy(request: web.Request) -> web.Response:
    """freebusy.query: merged busy periods per requested calendar."""
    sandbox = _sandbox(request)
    body = await _body(request)
    if "timeMin" not in body:
        raise errors.required("timeMin")
    if "timeMax" not in body:
        raise errors.required("timeMax")
    lo = parse_rfc3339(str(body["timeMin"]), "timeMin")
    hi = parse_rfc3339(str(body["timeMax"]), "timeMax")
    if hi <= lo:
        raise errors.time_range_empty()
    calendars: dict[str, Any] = {}
    for item in body.get("items") or []:
        requested = str(item.get("id", ""))
        cal_id = request[USER_EMAIL] if requested == "primary" else requested
        calendar = sandbox.calendars.get(cal_id)
        if calendar is None:
            calendars[requested] = {
                "errors": [{"domain": "global", "reason": "notFound"}],
                "busy": [],
            }
            continue
        calendars[requested] = {"busy": listing.free_busy(calendar, lo, hi)}
    return json_response(
        {
            "kind": "calendar#freeBusy",
            "timeMin": rfc3339(lo.astimezone(lo.tzinfo)),
            "timeMax": rfc3339(hi.astimezone(hi.tzinfo)),
            "calendars": calendars,
        }
    )


def add_routes(app: web.Application) -> None:
    """Register the Calendar API v3 routes (paths as in Google's discovery document)."""
    p = API_PREFIX
    app.router.add_get(f"{p}/users/me/calendarList", calendar_list)
    app.router.add_get(f"{p}/users/me/calendarList/{{calendarId}}", calendar_list_get)
    app.router.add_get(f"{p}/calendars/{{calendarId}}", calendar_get)
    app.router.add_get(f"{p}/calendars/{{calendarId}}/events", events_list)
    app.router.add_post(f"{p}/calendars/{{calendarId}}/events", events_insert)
    app.router.add_post(f"{p}/calendars/{{calendarId}}/events/watch", events_watch)
    app.router.add_get(f"{p}/calendars/{{calendarId}}/events/{{eventId}}", events_get)
    app.router.add_patch(f"{p}/calendars/{{calendarId}}/events/{{eventId}}", events_patch)
    app.router.add_put(f"{p}/calendars/{{calendarId}}/events/{{eventId}}", events_update)
    app.router.add_delete(f"{p}/calendars/{{calendarId}}/events/{{eventId}}", events_delete)
    app.router.add_get(
        f"{p}/calendars/{{calendarId}}/events/{{eventId}}/instances", events_instances
    )
    app.router.add_post(f"{p}/freeBusy", free_busy)
    app.router.add_post(f"{p}/channels/stop", channels_stop)
