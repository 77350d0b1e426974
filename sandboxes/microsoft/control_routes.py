"""The Microsoft sandbox's control API (``/_sandbox/...``): drive the fake Outlook from tests.

Never faulted, never authenticated. JSON in, JSON out; errors are ``{"error": "..."}`` with
400/404. ``{email}`` is a sandbox user's address; ``{id}`` an event id (single, series master,
occurrence or exception). Every event change made here behaves as if the user (or, for meetings
they were invited to, the organizer) did it in Outlook: change key, etag and lastModifiedDateTime
move, delta rounds see it, subscriptions are notified.

Users and calendars
  POST   /_sandbox/users                          {"email", "displayName"?, "personal"?}
                                                  -> 201 user (idempotent); personal: an
                                                  outlook.com-style Microsoft account
  GET    /_sandbox/users                          -> {"value": [user with calendars]}
  POST   /_sandbox/users/{email}/calendars        {"name"} -> 201 secondary calendar
  POST   /_sandbox/users/{email}/token            {"scope"?} -> {"access_token"} (skip the browser)

Events (body: a Graph event resource; "calendarId" optional; "organizer" may be someone else)
  POST   /_sandbox/users/{email}/events           -> 201 event
  PATCH  /_sandbox/users/{email}/events/{id}      changes (Graph fields, plus "isCancelled")
  DELETE /_sandbox/users/{email}/events/{id}      -> 204 (series, single or one occurrence)
  POST   /_sandbox/users/{email}/events/{id}/cancel        organizer cancelled the meeting
  POST   /_sandbox/users/{email}/events/{id}/private       {"sensitivity"?: "private"}
  POST   /_sandbox/users/{email}/events/{id}/responses     {"attendee", "response"}
  POST   /_sandbox/users/{email}/events/{id}/occurrences/cancel   {"originalStart"}
  POST   /_sandbox/users/{email}/events/{id}/occurrences/restore  {"originalStart"} undo a cancel
  PATCH  /_sandbox/users/{email}/events/{id}/occurrences          {"originalStart", "changes"}
  POST   /_sandbox/users/{email}/events/bulk      {"count", "start"?, "spanDays"?, "minutes"?,
                                                   "attendees"?, "calendarId"?} -> {"created"}

Delta, tokens, faults
  POST   /_sandbox/delta/invalidate               {"email"?} -> {"invalidated": n} (next use: 410)
  POST   /_sandbox/oauth/revoke-user              {"email"}
  POST   /_sandbox/oauth/expire-access-tokens     {"email"?}
  GET    /_sandbox/oauth/stats                    -> {"tokenRequests": {grant_type: n}}
  POST   /_sandbox/faults                         {"kind", "status"?, "retryAfter"?, "nextN"?,
                                                   "probability"?, "delayMs"?, "pathContains"?,
                                                   "method"?} -> {"id"}
  DELETE /_sandbox/faults                         clear every rule
  GET    /_sandbox/faults                         -> {"injected": {kind: n}, "active": n}
  GET    /_sandbox/quirks                         -> the current quirks (see ``quirks``)
  POST   /_sandbox/quirks                         {"expiredStatus"?, "expiredCode"?,
                                                   "repeatPages"?, "maxWindowDays"?,
                                                   "mailboxConcurrency"?, "mailboxLatencyMs"?,
                                                   "x500Organizers"?, "pageOverflow"?,
                                                   "lostSubscriptionAnswers"?,
                                                   "refreshError"?}

Mail and push
  GET    /_sandbox/invitations                    -> {"value": [meeting messages sent: kind
                                                  invitation|update|cancellation|response]}
  GET    /_sandbox/notifications                  -> {"value": [delivery], "held": n}
  POST   /_sandbox/notifications/hold             queue notifications without sending them
  POST   /_sandbox/notifications/release          {"reverse"?, "duplicate"?, "batch"?}
                                                  -> {"released": n} (batch: one POST per
                                                  subscription with every held notification)
  POST   /_sandbox/notifications/duplicate        {"enabled"} send every notification twice
  POST   /_sandbox/notifications/drop             {"count"} lose the next count notifications
  GET    /_sandbox/subscriptions                  -> {"value": [every subscription]}
  POST   /_sandbox/subscriptions/expire           {"id"?} -> {"expired": n}
  POST   /_sandbox/subscriptions/lifecycle        {"event", "id"?} -> {"notified": n}: Graph
                                                  sends subscriptionRemoved (and removes),
                                                  missed or reauthorizationRequired

Everything
  POST   /_sandbox/reset                          forget all state; ids restart from the seed
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from sandboxes.faults import fault_from_json, fault_stats

from .errors import GraphError
from .sandbox import MICROSOFT_SANDBOX, MicrosoftSandbox

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _sandbox(request: web.Request) -> MicrosoftSandbox:
    return request.app[MICROSOFT_SANDBOX]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    body = orjson.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


@web.middleware
async def control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render the control API's failures as ``{"error": ...}``."""
    if not request.path.startswith("/_sandbox/"):
        return await handler(request)
    try:
        return await handler(request)
    except KeyError as exc:
        return _json({"error": f"unknown: {exc.args[0]}"}, 404)
    except GraphError as exc:
        return _json({"error": exc.message, "code": exc.code}, exc.status)
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        return _json({"error": str(exc)}, 400)


def _email(request: web.Request) -> str:
    email = request.match_info["email"]
    _sandbox(request).user(email)  # KeyError -> 404
    return email


async def reset(request: web.Request) -> web.Response:
    _sandbox(request).reset()
    return _json({"reset": True})


async def create_user(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _body(request)
    if not body.get("email"):
        raise ValueError("email is required")
    user = sandbox.create_user(body["email"], body.get("displayName"))
    if body.get("personal"):
        user.personal = True
    return _json(next(u for u in sandbox.list_users() if u["id"] == user.id), 201)


async def list_users(request: web.Request) -> web.Response:
    return _json({"value": _sandbox(request).list_users()})


async def add_calendar(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    body = await _body(request)
    calendar = sandbox.add_calendar(email, str(body.get("name") or "Calendar 2"))
    return _json(sandbox.store.calendar_resource(sandbox.user(email), calendar), 201)


async def issue_token(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    body = await _body(request)
    scope = str(body.get("scope") or "Calendars.ReadWrite User.Read")
    return _json(
        {
            "access_token": sandbox.issue_access_token(email, scope),
            "token_type": "Bearer",
            "expires_in": sandbox.authority.access_token_ttl,
        }
    )


async def create_event(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    body = await _body(request)
    calendar_id = body.pop("calendarId", None)
    return _json(sandbox.create_event(email, body, calendar_id), 201)


async def update_event(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    return _json(sandbox.update_event(email, request.match_info["id"], await _body(request)))


async def delete_event(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    sandbox.delete_event(email, request.match_info["id"])
    return web.Response(status=204)


async def cancel_event(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    return _json(sandbox.cancel_event(email, request.match_info["id"]))


async def make_private(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    body = await _body(request)
    return _json(
        sandbox.make_private(
            email, request.match_info["id"], str(body.get("sensitivity") or "private")
        )
    )


async def attendee_response(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    body = await _body(request)
    return _json(
        sandbox.set_attendee_response(
            email, request.match_info["id"], str(body["attendee"]), str(body["response"])
        )
    )


async def cancel_occurrence(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    body = await _body(request)
    sandbox.cancel_occurrence(email, request.match_info["id"], str(body["originalStart"]))
    return web.Response(status=204)


async def restore_occurrence(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    body = await _body(request)
    return _json(
        sandbox.restore_occurrence(email, request.match_info["id"], str(body["originalStart"]))
    )


async def modify_occurrence(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    body = await _body(request)
    return _json(
        sandbox.modify_occurrence(
            email, request.match_info["id"], str(body["originalStart"]), body.get("changes") or {}
        )
    )


async def bulk_events(request: web.Request) -> web.Response:
    sandbox, email = _sandbox(request), _email(request)
    body = await _body(request)
    created = sandbox.bulk_load(
        email,
        int(body.get("count") or 0),
        start=body.get("start"),
        span_days=int(body.get("spanDays") or 365),
        minutes=int(body.get("minutes") or 30),
        attendees=body.get("attendees"),
        calendar_id=body.get("calendarId"),
    )
    return _json({"created": created}, 201)


async def invalidate_delta(request: web.Request) -> web.Response:
    body = await _body(request)
    return _json({"invalidated": _sandbox(request).invalidate_delta_tokens(body.get("email"))})


async def revoke_user(request: web.Request) -> web.Response:
    body = await _body(request)
    _sandbox(request).revoke_user(str(body["email"]))
    return _json({"revoked": True})


async def expire_access_tokens(request: web.Request) -> web.Response:
    body = await _body(request)
    _sandbox(request).expire_access_tokens(body.get("email"))
    return _json({"expired": True})


async def oauth_stats(request: web.Request) -> web.Response:
    return _json({"tokenRequests": dict(_sandbox(request).authority.token_requests)})


async def add_fault(request: web.Request) -> web.Response:
    fault = fault_from_json(await _body(request))
    return _json({"id": _sandbox(request).faults.add(fault)}, 201)


async def clear_faults(request: web.Request) -> web.Response:
    _sandbox(request).faults.clear()
    return web.Response(status=204)


async def get_faults(request: web.Request) -> web.Response:
    return _json(fault_stats(_sandbox(request).faults))


async def get_quirks(request: web.Request) -> web.Response:
    return _json(_sandbox(request).quirks.to_json())


async def set_quirks(request: web.Request) -> web.Response:
    quirks = _sandbox(request).quirks
    quirks.update(await _body(request))
    return _json(quirks.to_json())


async def invitations(request: web.Request) -> web.Response:
    return _json({"value": _sandbox(request).invitations()})


async def notifications(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    return _json({"value": sandbox.notifications(), "held": sandbox.subscriptions.held})


async def hold_notifications(request: web.Request) -> web.Response:
    _sandbox(request).subscriptions.hold = True
    return _json({"hold": True})


async def release_notifications(request: web.Request) -> web.Response:
    body = await _body(request)
    released = _sandbox(request).subscriptions.release(
        reverse=bool(body.get("reverse")),
        duplicate=bool(body.get("duplicate")),
        batch=bool(body.get("batch")),
    )
    return _json({"released": released})


async def duplicate_notifications(request: web.Request) -> web.Response:
    body = await _body(request)
    _sandbox(request).subscriptions.duplicate = bool(body.get("enabled", True))
    return _json({"duplicate": _sandbox(request).subscriptions.duplicate})


async def drop_notifications(request: web.Request) -> web.Response:
    body = await _body(request)
    count = int(body.get("count", 1))
    if count < 0:
        raise web.HTTPBadRequest(text="count must be >= 0")
    _sandbox(request).subscriptions.drop = count
    return _json({"drop": count})


async def all_subscriptions(request: web.Request) -> web.Response:
    return _json(
        {
            "value": [
                s.to_json() | {"userEmail": s.email}
                for s in _sandbox(request).subscriptions.items.values()
            ]
        }
    )


async def expire_subscriptions(request: web.Request) -> web.Response:
    body = await _body(request)
    return _json({"expired": _sandbox(request).subscriptions.expire(body.get("id"))})


async def lifecycle_subscriptions(request: web.Request) -> web.Response:
    body = await _body(request)
    subscriptions = _sandbox(request).subscriptions
    return _json({"notified": subscriptions.lifecycle(str(body.get("event")), body.get("id"))})


def add_routes(app: web.Application) -> None:
    """Mount the control API under /_sandbox/."""
    r = app.router
    r.add_post("/_sandbox/reset", reset)
    r.add_post("/_sandbox/users", create_user)
    r.add_get("/_sandbox/users", list_users)
    r.add_post("/_sandbox/users/{email}/calendars", add_calendar)
    r.add_post("/_sandbox/users/{email}/token", issue_token)
    r.add_post("/_sandbox/users/{email}/events/bulk", bulk_events)
    r.add_post("/_sandbox/users/{email}/events", create_event)
    r.add_patch("/_sandbox/users/{email}/events/{id}", update_event)
    r.add_delete("/_sandbox/users/{email}/events/{id}", delete_event)
    r.add_post("/_sandbox/users/{email}/events/{id}/cancel", cancel_event)
    r.add_post("/_sandbox/users/{email}/events/{id}/private", make_private)
    r.add_post("/_sandbox/users/{email}/events/{id}/responses", attendee_response)
    r.add_post("/_sandbox/users/{email}/events/{id}/occurrences/cancel", cancel_occurrence)
    r.add_post("/_sandbox/users/{email}/events/{id}/occurrences/restore", restore_occurrence)
    r.add_patch("/_sandbox/users/{email}/events/{id}/occurrences", modify_occurrence)
    r.add_post("/_sandbox/delta/invalidate", invalidate_delta)
    r.add_post("/_sandbox/oauth/revoke-user", revoke_user)
    r.add_post("/_sandbox/oauth/expire-access-tokens", expire_access_tokens)
    r.add_get("/_sandbox/oauth/stats", oauth_stats)
    r.add_post("/_sandbox/faults", add_fault)
    r.add_delete("/_sandbox/faults", clear_faults)
    r.add_get("/_sandbox/faults", get_faults)
    r.add_get("/_sandbox/quirks", get_quirks)
    r.add_post("/_sandbox/quirks", set_quirks)
    r.add_get("/_sandbox/invitations", invitations)
    r.add_get("/_sandbox/notifications", notifications)
    r.add_post("/_sandbox/notifications/hold", hold_notifications)
    r.add_post("/_sandbox/notifications/release", release_notifications)
    r.add_post("/_sandbox/notifications/duplicate", duplicate_notifications)
    r.add_post("/_sandbox/notifications/drop", drop_notifications)
    r.add_get("/_sandbox/subscriptions", all_subscriptions)
    r.add_post("/_sandbox/subscriptions/expire", expire_subscriptions)
    r.add_post("/_sandbox/subscriptions/lifecycle", lifecycle_subscriptions)
