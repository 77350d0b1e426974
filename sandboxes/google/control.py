"""Control API of the Google sandbox (``/_sandbox/...``): drive it like a user in Google's UI.

Never faulted, never authenticated (it is the test harness's and the demo's back door). JSON in,
JSON out; unknown users/calendars/events answer 404 ``{"error": "..."}``, bad input 400.

Users and calendars
  POST   /_sandbox/users                      {"email", "displayName"?, "timeZone"?} -> user
                                               (creates the primary calendar; idempotent)
  GET    /_sandbox/users                      -> {"users": [user...]}
  POST   /_sandbox/users/{email}/calendars    {"summary", "id"?, "timeZone"?} -> secondary calendar
  POST   /_sandbox/users/{email}/demo         fill the primary calendar with sample meetings
                                               -> {"created": [event ids]} (see demo.py)
  POST   /_sandbox/users/{email}/token        {"scope"?, "clientId"?} -> {"access_token"}
                                               (mint an access token without the browser flow)

Events, as if changed in Google Calendar's own UI (each change bumps etag/updated, is visible to
sync tokens and triggers push; ``{calendarId}`` is a calendar id or the owner's email)
  POST   /_sandbox/calendars/{calendarId}/events             Google event body -> event
         (``organizer: {"email": other}`` = an invitation from someone outside the sandbox: our
          user is added as attendee and gets ``self: true``; ``recurrence`` makes a series.
          A meeting between two sandbox users is created on the organizer's calendar: it is
          then mirrored onto the guests' calendars, see sharing.py)
  PATCH  /_sandbox/calendars/{calendarId}/events/{eventId}   changed fields -> event
         (also bumps ``sequence``; an instance id stores a modified occurrence)
  POST   /_sandbox/calendars/{calendarId}/events/{eventId}/cancel    organizer cancelled it
  POST   /_sandbox/calendars/{calendarId}/events/{eventId}/private   visibility -> private
  POST   /_sandbox/calendars/{calendarId}/events/{eventId}/response  {"email", "responseStatus"}
         (on a guest's copy of a meeting organized by another sandbox user, the response is
          written to the organizer's copy and flows to every copy; see sharing.py)
  POST   /_sandbox/calendars/{calendarId}/events/{eventId}/occurrence
         {"originalStartTime": RFC 3339 or date, "changes"?: {...}, "cancel"?: bool,
          "restore"?: bool}
         change, cancel or restore ("restore": true, after a cancel) one occurrence of a series
         -> the instance (or {"id"} when cancelled)
  DELETE /_sandbox/calendars/{calendarId}/events/{eventId}   deleted in the UI (tombstone)
  POST   /_sandbox/calendars/{calendarId}/events/{eventId}/lose
         fault: the event vanishes and no sync token reports it (only a full listing shows it)
  POST   /_sandbox/calendars/{calendarId}/events:bulk
         {"count", "start"?, "spacingMinutes"?, "durationMinutes"?, "attendees"?, "mix"?}
         -> {"created", "mix"?}  (``mix``: {} or BulkMix fields in camelCase, e.g. "seed",
         "internalShare", "recurringEvery": a realistic seeded calendar, see bulkmix.py)
  POST   /_sandbox/calendars/{calendarId}/expire-sync-tokens     next use of any token -> 410

OAuth
  GET    /_sandbox/oauth/stats                     -> {"tokenRequests": {grant_type: n}}
  POST   /_sandbox/oauth/revoke-user               {"email"}  (user removed the app's access)
  POST   /_sandbox/oauth/expire-access-tokens      {"email"?} (next API call -> 401)

Faults (see sandboxes/faults.py)
  POST   /_sandbox/faults   {"kind", "status"?, "retryAfter"?, "nextN"?, "probability"?,
                             "delayMs"?, "pathContains"?, "method"?} -> {"id"}
  DELETE /_sandbox/faults   clear all;  GET /_sandbox/faults -> {"injected": {...}, "active": n}

Logs and push
  GET    /_sandbox/channels        live push channels (id, resourceId, calendarId, address,
                                   token, expiration ms, messageNumber)
  POST   /_sandbox/channels/{id}/expire   the channel expires now (stops delivering)
  GET    /_sandbox/invitations     mails Google "sent" because of sendUpdates
  GET    /_sandbox/notifications   push deliveries (channel, state, message number, status);
                                   ``?wait=true`` first waits for queued deliveries
  POST   /_sandbox/push            {"duplicate"?: n, "reorder"?: bool, "drop"?: n,
                                   "delayMs"?: ms} delivery quirks (drop: lose the next n)
  POST   /_sandbox/reset           forget everything
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from sandboxes.faults import fault_from_json, fault_stats
from sandboxes.google.api import GOOGLE_SANDBOX, json_bytes, json_response
from sandboxes.google.bulkmix import BulkMix
from sandboxes.google.demo import seed_demo_calendar
from sandboxes.google.model import Calendar, User, parse_rfc3339
from sandboxes.google.sandbox import GoogleSandbox

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """KeyError -> 404 and ValueError -> 400, as small JSON bodies, on control routes only."""
    if not request.path.startswith("/_sandbox/"):
        return await handler(request)
    try:
        return await handler(request)
    except KeyError as exc:
        return json_response({"error": str(exc.args[0] if exc.args else exc)}, status=404)
    except (ValueError, TypeError) as exc:
        return json_response({"error": str(exc)}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    body = orjson.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def _sb(request: web.Request) -> GoogleSandbox:
    return request.app[GOOGLE_SANDBOX]


def user_json(sandbox: GoogleSandbox, user: User) -> dict[str, Any]:
    """A sandbox user and their calendars as control-API JSON."""
    return {
        "email": user.email,
        "displayName": user.display_name,
        "sub": user.sub,
        "calendars": [calendar_json(sandbox.calendars[c]) for c in user.calendars],
    }


def calendar_json(calendar: Calendar) -> dict[str, Any]:
    """A calendar as control-API JSON."""
    return {
        "id": calendar.id,
        "summary": calendar.summary,
        "timeZone": calendar.time_zone,
        "primary": calendar.primary,
        "owner": calendar.owner,
        "events": len(calendar.events),
    }


async def create_user(request: web.Request) -> web.Response:
    """POST /_sandbox/users."""
    body = await _body(request)
    sandbox = _sb(request)
    user = sandbox.create_user(
        str(body["email"]), body.get("displayName"), body.get("timeZone") or "UTC"
    )
    return json_response(user_json(sandbox, user), status=201)


async def list_users(request: web.Request) -> web.Response:
    """GET /_sandbox/users."""
    sandbox = _sb(request)
    return json_response({"users": [user_json(sandbox, u) for u in sandbox.users.values()]})


async def add_calendar(request: web.Request) -> web.Response:
    """POST /_sandbox/users/{email}/calendars."""
    body = await _body(request)
    calendar = _sb(request).add_calendar(
        request.match_info["email"],
        str(body.get("summary") or "Secondary"),
        calendar_id=body.get("id"),
        time_zone=body.get("timeZone"),
    )
    return json_response(calendar_json(calendar), status=201)


async def demo(request: web.Request) -> web.Response:
    """POST /_sandbox/users/{email}/demo."""
    sandbox = _sb(request)
    user = sandbox._user(request.match_info["email"])
    return json_response({"created": seed_demo_calendar(sandbox, user.email)}, status=201)


async def mint_token(request: web.Request) -> web.Response:
    """POST /_sandbox/users/{email}/token."""
    body = await _body(request)
    sandbox = _sb(request)
    user = sandbox._user(request.match_info["email"])
    token = sandbox.oauth.issue_access_token(
        user.email,
        str(body.get("clientId") or "sandbox"),
        str(body.get("scope") or "https://www.googleapis.com/auth/calendar"),
    )
    return json_response({"access_token": token, "expires_in": sandbox.oauth.access_token_ttl})


async def create_event(request: web.Request) -> web.Response:
    """POST /_sandbox/calendars/{calendarId}/events."""
    body = await _body(request)
    event = _sb(request).ui_create_event(request.match_info["calendarId"], body)
    return json_bytes(event.wire_bytes(), status=201)


async def update_event(request: web.Request) -> web.Response:
    """PATCH /_sandbox/calendars/{calendarId}/events/{eventId}."""
    body = await _body(request)
    event = _sb(request).ui_update_event(
        request.match_info["calendarId"], request.match_info["eventId"], body
    )
    return json_bytes(event.wire_bytes())


async def cancel_event(request: web.Request) -> web.Response:
    """POST .../events/{eventId}/cancel."""
    event = _sb(request).ui_cancel_event(
        request.match_info["calendarId"], request.match_info["eventId"]
    )
    return json_bytes(event.wire_bytes())


async def private_event(request: web.Request) -> web.Response:
    """POST .../events/{eventId}/private."""
    event = _sb(request).make_private(
        request.match_info["calendarId"], request.match_info["eventId"]
    )
    return json_bytes(event.wire_bytes())


async def respond(request: web.Request) -> web.Response:
    """POST .../events/{eventId}/response."""
    body = await _body(request)
    event = _sb(request).set_response(
        request.match_info["calendarId"],
        request.match_info["eventId"],
        str(body["email"]),
        str(body["responseStatus"]),
    )
    return json_bytes(event.wire_bytes())


async def occurrence(request: web.Request) -> web.Response:
    """POST .../events/{eventId}/occurrence: change or cancel one occurrence."""
    body = await _body(request)
    sandbox = _sb(request)
    cal_id = request.match_info["calendarId"]
    instance_id = sandbox.instance_id(
        cal_id, request.match_info["eventId"], str(body["originalStartTime"])
    )
    if body.get("cancel"):
        sandbox.ui_delete_event(cal_id, instance_id)
        return json_response({"id": instance_id, "status": "cancelled"})
    if body.get("restore"):
        # The organizer undoes the cancellation (restores the occurrence from the Trash).
        event = sandbox.ui_restore_event(cal_id, instance_id)
        return json_bytes(event.wire_bytes())
    event = sandbox.ui_update_event(cal_id, instance_id, body.get("changes") or {})
    return json_bytes(event.wire_bytes())


async def delete_event(request: web.Request) -> web.Response:
    """DELETE /_sandbox/calendars/{calendarId}/events/{eventId}."""
    _sb(request).ui_delete_event(request.match_info["calendarId"], request.match_info["eventId"])
    return web.Response(status=204)


async def lose_event(request: web.Request) -> web.Response:
    """POST .../events/{eventId}/lose."""
    _sb(request).lose_from_feed(request.match_info["calendarId"], request.match_info["eventId"])
    return web.Response(status=204)


async def bulk(request: web.Request) -> web.Response:
    """POST /_sandbox/calendars/{calendarId}/events:bulk."""
    body = await _body(request)
    start = parse_rfc3339(str(body["start"]), "start") if body.get("start") else None
    sandbox = _sb(request)
    created = sandbox.bulk_load(
        request.match_info["calendarId"],
        int(body.get("count", 0)),
        start=start,
        spacing=dt.timedelta(minutes=float(body.get("spacingMinutes", 60))),
        duration=dt.timedelta(minutes=float(body.get("durationMinutes", 30))),
        attendees=int(body.get("attendees", 2)),
        mix=BulkMix.from_json(body["mix"]) if isinstance(body.get("mix"), dict) else None,
    )
    answer: dict[str, Any] = {"created": created}
    if body.get("mix") is not None and sandbox.last_bulk_mix is not None:
        answer["mix"] = sandbox.last_bulk_mix.as_json()
    return json_response(answer, status=201)


async def expire_sync_tokens(request: web.Request) -> web.Response:
    """POST /_sandbox/calendars/{calendarId}/expire-sync-tokens."""
    _sb(request).expire_sync_tokens(request.match_info["calendarId"])
    return json_response({"expired": True})


async def oauth_stats(request: web.Request) -> web.Response:
    """GET /_sandbox/oauth/stats."""
    return json_response({"tokenRequests": dict(_sb(request).oauth.token_requests)})


async def revoke_user(request: web.Request) -> web.Response:
    """POST /_sandbox/oauth/revoke-user."""
    body = await _body(request)
    _sb(request).oauth.revoke_user(str(body["email"]).lower())
    return json_response({"revoked": True})


async def expire_access_tokens(request: web.Request) -> web.Response:
    """POST /_sandbox/oauth/expire-access-tokens."""
    body = await _body(request)
    email = body.get("email")
    _sb(request).oauth.expire_access_tokens(str(email).lower() if email else None)
    return json_response({"expired": True})


async def add_fault(request: web.Request) -> web.Response:
    """POST /_sandbox/faults."""
    fault = fault_from_json(await _body(request))
    return json_response({"id": _sb(request).faults.add(fault)}, status=201)


async def clear_faults(request: web.Request) -> web.Response:
    """DELETE /_sandbox/faults."""
    _sb(request).faults.clear()
    return web.Response(status=204)


async def get_faults(request: web.Request) -> web.Response:
    """GET /_sandbox/faults."""
    return json_response(fault_stats(_sb(request).faults))


async def invitations(request: web.Request) -> web.Response:
    """GET /_sandbox/invitations."""
    return json_response({"invitations": _sb(request).invitations})


async def notifications(request: web.Request) -> web.Response:
    """GET /_sandbox/notifications."""
    sandbox = _sb(request)
    if request.query.get("wait") == "true":
        await sandbox.push.drain()
    return json_response({"notifications": sandbox.push.log})


async def push_settings(request: web.Request) -> web.Response:
    """POST /_sandbox/push."""
    body = await _body(request)
    settings = _sb(request).push.settings
    if "duplicate" in body:
        settings.duplicate = int(body["duplicate"])
    if "reorder" in body:
        settings.reorder = bool(body["reorder"])
    if "drop" in body:
        settings.drop = int(body["drop"])
    if "delayMs" in body:
        settings.delay_s = float(body["delayMs"]) / 1000
    return json_response(
        {
            "duplicate": settings.duplicate,
            "reorder": settings.reorder,
            "drop": settings.drop,
            "delayMs": settings.delay_s * 1000,
        }
    )


async def channels(request: web.Request) -> web.Response:
    """GET /_sandbox/channels."""
    sandbox = _sb(request)
    now_ms = int(sandbox.clock() * 1000)
    return json_response(
        {
            "channels": [
                {
                    "id": c.id,
                    "resourceId": c.resource_id,
                    "calendarId": c.calendar_id,
                    "address": c.address,
                    "token": c.token,
                    "expiration": str(c.expiration_ms),
                    "messageNumber": c.message_number,
                }
                for c in sandbox.channels.values()
                if not c.stopped and c.expiration_ms > now_ms
            ]
        }
    )


async def expire_channel(request: web.Request) -> web.Response:
    """POST /_sandbox/channels/{channelId}/expire."""
    sandbox = _sb(request)
    channel = sandbox.channels.get(request.match_info["channelId"])
    if channel is None:
        raise KeyError(f"no such channel: {request.match_info['channelId']}")
    channel.expiration_ms = min(channel.expiration_ms, int(sandbox.clock() * 1000))
    return json_response({"expired": True})


async def reset(request: web.Request) -> web.Response:
    """POST /_sandbox/reset."""
    _sb(request).reset()
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    """Register the control routes listed in this module's docstring."""
    r = app.router
    r.add_post("/_sandbox/users", create_user)
    r.add_get("/_sandbox/users", list_users)
    r.add_post("/_sandbox/users/{email}/calendars", add_calendar)
    r.add_post("/_sandbox/users/{email}/token", mint_token)
    r.add_post("/_sandbox/users/{email}/demo", demo)
    cal = "/_sandbox/calendars/{calendarId}"
    r.add_post(f"{cal}/events", create_event)
    r.add_post(f"{cal}/events:bulk", bulk)
    r.add_patch(f"{cal}/events/{{eventId}}", update_event)
    r.add_delete(f"{cal}/events/{{eventId}}", delete_event)
    r.add_post(f"{cal}/events/{{eventId}}/cancel", cancel_event)
    r.add_post(f"{cal}/events/{{eventId}}/private", private_event)
    r.add_post(f"{cal}/events/{{eventId}}/response", respond)
    r.add_post(f"{cal}/events/{{eventId}}/occurrence", occurrence)
    r.add_post(f"{cal}/events/{{eventId}}/lose", lose_event)
    r.add_post(f"{cal}/expire-sync-tokens", expire_sync_tokens)
    r.add_get("/_sandbox/oauth/stats", oauth_stats)
    r.add_post("/_sandbox/oauth/revoke-user", revoke_user)
    r.add_post("/_sandbox/oauth/expire-access-tokens", expire_access_tokens)
    r.add_post("/_sandbox/faults", add_fault)
    r.add_delete("/_sandbox/faults", clear_faults)
    r.add_get("/_sandbox/faults", get_faults)
    r.add_get("/_sandbox/invitations", invitations)
    r.add_get("/_sandbox/notifications", notifications)
    r.add_post("/_sandbox/push", push_settings)
    r.add_get("/_sandbox/channels", channels)
    r.add_post("/_sandbox/channels/{channelId}/expire", expire_channel)
    r.add_post("/_sandbox/reset", reset)
