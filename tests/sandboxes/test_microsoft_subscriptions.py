"""Graph change notifications from the Microsoft sandbox over real HTTP: the validation
handshake, notifications with clientState, renewal and lifetime, deletion and expiry, and
duplicated/reordered delivery on demand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sandboxes.microsoft.timefmt import dttz, parse_offset

EVENT = {
    "subject": "Intro call",
    "start": {"dateTime": "2026-09-23T10:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-09-23T10:30:00", "timeZone": "UTC"},
}


def _expiry(harness, minutes: int) -> str:
    return (datetime.fromtimestamp(harness.clock(), UTC) + timedelta(minutes=minutes)).isoformat()


async def _subscribe(harness, receiver, **extra) -> tuple[int, dict]:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": receiver.url,
        "resource": "me/events",
        "expirationDateTime": _expiry(harness, 4000),
        "clientState": "chronik-secret-42",
        **extra,
    }
    status, payload, _ = await harness.call("POST", "/v1.0/subscriptions", json=body)
    return status, payload


async def test_validation_handshake_then_201(microsoft, graph_receiver):
    status, subscription = await _subscribe(microsoft, graph_receiver)
    assert status == 201, subscription
    assert len(graph_receiver.validations) == 1
    assert graph_receiver.validations[0].startswith("Validation: ")
    assert subscription["resource"] == "me/events"
    assert subscription["changeType"] == "created,updated,deleted"
    assert subscription["clientState"] == "chronik-secret-42"
    assert subscription["notificationUrl"] == graph_receiver.url
    assert subscription["creatorId"] == microsoft.sandbox.user(microsoft.email).id
    assert subscription["applicationId"] and subscription["id"]
    assert subscription["expirationDateTime"].endswith("Z")


async def test_endpoint_that_does_not_echo_fails_validation(microsoft, graph_receiver):
    graph_receiver.echo = False
    status, body = await _subscribe(microsoft, graph_receiver)
    assert status == 400 and body["error"]["code"] == "ValidationError"
    assert graph_receiver.validations  # it was asked
    _, listed, _ = await microsoft.call("GET", "/v1.0/subscriptions")
    assert listed["value"] == []


async def test_endpoint_that_answers_non_200_fails_validation(microsoft, receiver):
    receiver.status = 500
    status, body = await _subscribe(microsoft, receiver)
    assert status == 400 and body["error"]["code"] == "ValidationError"


async def test_unreachable_endpoint_fails_validation(microsoft, graph_receiver):
    status, body = await _subscribe(
        microsoft, graph_receiver, notificationUrl="http://127.0.0.1:9/unreachable"
    )
    assert status == 400 and body["error"]["code"] == "ValidationError"


async def test_change_sends_notification_with_client_state(microsoft, graph_receiver):
    _, subscription = await _subscribe(microsoft, graph_receiver)
    status, event, _ = await microsoft.call("POST", "/v1.0/me/events", json=EVENT)
    assert status == 201
    [note] = await graph_receiver.wait_for(1)
    user_id = microsoft.sandbox.user(microsoft.email).id
    assert note["subscriptionId"] == subscription["id"]
    assert note["changeType"] == "created"
    assert note["clientState"] == "chronik-secret-42"
    assert note["tenantId"] == microsoft.sandbox.tenant_id
    assert note["resource"] == f"Users/{user_id}/Events/{event['id']}"
    assert note["resourceData"] == {
        "@odata.type": "#Microsoft.Graph.Event",
        "@odata.id": note["resource"],
        "@odata.etag": event["@odata.etag"],
        "id": event["id"],
    }
    assert note["subscriptionExpirationDateTime"] == subscription["expirationDateTime"]


async def test_update_and_delete_notifications_including_outlook_side(microsoft, graph_receiver):
    await _subscribe(microsoft, graph_receiver)
    event = microsoft.sandbox.create_event(microsoft.email, EVENT)
    microsoft.sandbox.make_private(microsoft.email, event["id"])
    microsoft.sandbox.delete_event(microsoft.email, event["id"])
    notes = await graph_receiver.wait_for(3)
    assert [n["changeType"] for n in notes] == ["created", "updated", "deleted"]
    assert {n["resourceData"]["id"] for n in notes} == {event["id"]}


async def test_change_type_filter(microsoft, graph_receiver):
    await _subscribe(microsoft, graph_receiver, changeType="deleted")
    event = microsoft.sandbox.create_event(microsoft.email, EVENT)
    microsoft.sandbox.delete_event(microsoft.email, event["id"])
    await microsoft.sandbox.drain_notifications()
    assert [n["changeType"] for n in graph_receiver.notifications] == ["deleted"]


async def test_renewal_extends_and_lifetime_is_capped(microsoft, graph_receiver):
    _, subscription = await _subscribe(microsoft, graph_receiver)
    path = f"/v1.0/subscriptions/{subscription['id']}"
    status, renewed, _ = await microsoft.call(
        "PATCH", path, json={"expirationDateTime": _expiry(microsoft, 10000)}
    )
    assert status == 200
    assert renewed["expirationDateTime"] > subscription["expirationDateTime"]
    status, body, _ = await microsoft.call(
        "PATCH", path, json={"expirationDateTime": _expiry(microsoft, 10081)}
    )
    assert status == 400 and body["error"]["code"] == "InvalidRequest"
    status, body = await _subscribe(
        microsoft, graph_receiver, expirationDateTime=_expiry(microsoft, 20000)
    )
    assert status == 400 and "minutes" in body["error"]["message"]


async def test_delete_stops_delivery(microsoft, graph_receiver):
    _, subscription = await _subscribe(microsoft, graph_receiver)
    status, body, _ = await microsoft.call("DELETE", f"/v1.0/subscriptions/{subscription['id']}")
    assert status == 204 and body is None
    microsoft.sandbox.create_event(microsoft.email, EVENT)
    await microsoft.sandbox.drain_notifications()
    assert graph_receiver.notifications == []
    status, body, _ = await microsoft.call("GET", f"/v1.0/subscriptions/{subscription['id']}")
    assert status == 404


async def test_expired_subscription_stops_delivery(microsoft, graph_receiver):
    _, subscription = await _subscribe(
        microsoft, graph_receiver, expirationDateTime=_expiry(microsoft, 60)
    )
    microsoft.clock.advance(3601)
    microsoft.sandbox.create_event(microsoft.email, EVENT)
    await microsoft.sandbox.drain_notifications()
    assert graph_receiver.notifications == []
    fresh = microsoft.sandbox.issue_access_token(microsoft.email)  # the old one expired too
    status, _, _ = await microsoft.call(
        "PATCH",
        f"/v1.0/subscriptions/{subscription['id']}",
        json={"expirationDateTime": _expiry(microsoft, 60)},
        token=fresh,
    )
    assert status == 404


async def test_delivery_happens_after_the_request_not_inside_it(microsoft, graph_receiver):
    await _subscribe(microsoft, graph_receiver)
    await microsoft.control("POST", "/_sandbox/notifications/hold")
    status, _, _ = await microsoft.call("POST", "/v1.0/me/events", json=EVENT)
    assert status == 201
    assert graph_receiver.notifications == []
    log = await microsoft.control("GET", "/_sandbox/notifications")
    assert log["held"] == 1


async def test_held_notifications_released_reversed_and_duplicated(microsoft, graph_receiver):
    await _subscribe(microsoft, graph_receiver)
    await microsoft.control("POST", "/_sandbox/notifications/hold")
    first = microsoft.sandbox.create_event(microsoft.email, EVENT)
    second = microsoft.sandbox.create_event(microsoft.email, {**EVENT, "subject": "Second"})
    released = await microsoft.control(
        "POST", "/_sandbox/notifications/release", json={"reverse": True, "duplicate": True}
    )
    assert released == {"released": 2}
    notes = await graph_receiver.wait_for(4)
    assert [n["resourceData"]["id"] for n in notes] == [
        second["id"],
        second["id"],
        first["id"],
        first["id"],
    ]
    assert microsoft.sandbox.subscriptions.faults == {"push_reordered": 2, "push_duplicated": 2}


async def test_dropped_notifications_are_logged_not_sent(microsoft, graph_receiver):
    await _subscribe(microsoft, graph_receiver)
    assert await microsoft.control("POST", "/_sandbox/notifications/drop", json={"count": 1}) == {
        "drop": 1
    }
    first = microsoft.sandbox.create_event(microsoft.email, EVENT)
    second = microsoft.sandbox.create_event(microsoft.email, {**EVENT, "subject": "Second"})
    notes = await graph_receiver.wait_for(1)
    await microsoft.sandbox.drain_notifications()
    assert [n["resourceData"]["id"] for n in graph_receiver.notifications] == [second["id"]]
    log = await microsoft.control("GET", "/_sandbox/notifications")
    lost = [d for d in log["value"] if d["error"]]
    assert [d["payload"]["value"][0]["resourceData"]["id"] for d in lost] == [first["id"]]
    assert microsoft.sandbox.subscriptions.faults == {"push_dropped": 1}
    assert notes


async def test_duplicate_mode_sends_every_notification_twice(microsoft, graph_receiver):
    await _subscribe(microsoft, graph_receiver)
    await microsoft.control("POST", "/_sandbox/notifications/duplicate", json={"enabled": True})
    microsoft.sandbox.create_event(microsoft.email, EVENT)
    notes = await graph_receiver.wait_for(2)
    await microsoft.sandbox.drain_notifications()
    assert len(notes) == 2 and notes[0] == notes[1]


async def test_failed_delivery_is_logged_and_dropped(microsoft, graph_receiver):
    await _subscribe(microsoft, graph_receiver)
    # The receiver goes away after validating: deliveries now hit a closed port.
    [state] = microsoft.sandbox.subscriptions.items.values()
    state.notification_url = "http://127.0.0.1:9/gone"
    microsoft.sandbox.create_event(microsoft.email, EVENT)
    await asyncio.wait_for(microsoft.sandbox.drain_notifications(), 10)
    log = (await microsoft.control("GET", "/_sandbox/notifications"))["value"]
    assert len(log) == 1 and log[0]["status"] is None and log[0]["error"]


async def test_invalid_subscription_requests(microsoft, graph_receiver):
    status, body = await _subscribe(microsoft, graph_receiver, changeType="renamed")
    assert status == 400 and body["error"]["code"] == "InvalidRequest"
    status, body = await _subscribe(microsoft, graph_receiver, resource="me/messages")
    assert status == 400
    status, body = await _subscribe(
        microsoft, graph_receiver, expirationDateTime=_expiry(microsoft, -5)
    )
    assert status == 400
    assert graph_receiver.validations == []  # rejected before any handshake


async def test_users_resource_form_is_accepted(microsoft, graph_receiver):
    user_id = microsoft.sandbox.user(microsoft.email).id
    status, body = await _subscribe(microsoft, graph_receiver, resource=f"users/{user_id}/events")
    assert status == 201, body
    _, listed, _ = await microsoft.call("GET", "/v1.0/subscriptions")
    assert [s["id"] for s in listed["value"]] == [body["id"]]


def test_dttz_helper_matches_graph_spelling():
    assert dttz(datetime(2026, 1, 5, 9, tzinfo=UTC)) == {
        "dateTime": "2026-01-05T09:00:00.0000000",
        "timeZone": "UTC",
    }


async def test_short_lifetimes_are_raised_to_45_minutes(microsoft, graph_receiver):
    status, body = await _subscribe(
        microsoft, graph_receiver, expirationDateTime=_expiry(microsoft, 5)
    )
    assert status == 201
    granted = parse_offset(body["expirationDateTime"])
    now = datetime.fromtimestamp(microsoft.clock(), UTC)
    assert granted - now == timedelta(minutes=45)


async def test_held_notifications_released_as_one_batch(microsoft, graph_receiver):
    await _subscribe(microsoft, graph_receiver)
    await microsoft.control("POST", "/_sandbox/notifications/hold")
    for n in range(3):
        microsoft.sandbox.create_event(microsoft.email, {**EVENT, "subject": f"E{n}"})
    released = await microsoft.control(
        "POST", "/_sandbox/notifications/release", json={"batch": True}
    )
    assert released == {"released": 3}
    notes = await graph_receiver.wait_for(3)
    await microsoft.sandbox.drain_notifications()
    log = (await microsoft.control("GET", "/_sandbox/notifications"))["value"]
    assert len(log) == 1 and len(log[0]["payload"]["value"]) == 3  # one POST
    assert [n["changeType"] for n in notes] == ["created"] * 3
