"""Push notifications (events.watch / channels.stop) of the Google sandbox, delivered over HTTP
to a real receiver: sync then exists messages, headers, numbering, stop, expiry, quirks."""

from __future__ import annotations

from typing import Any

from tests.sandboxes.conftest import ALICE, GoogleHarness, Receiver

EVENTS = "/calendar/v3/calendars/primary/events"
MEETING = {
    "summary": "x",
    "start": {"dateTime": "2026-12-01T10:00:00Z"},
    "end": {"dateTime": "2026-12-01T11:00:00Z"},
}


async def watch(google: GoogleHarness, receiver: Receiver, **extra: Any) -> dict[str, Any]:
    body = {"id": "chan-1", "type": "web_hook", "address": receiver.url, **extra}
    status, channel, _ = await google.call("POST", f"{EVENTS}/watch", json=body)
    assert status == 200, channel
    return channel


async def test_watch_sends_sync_then_exists_with_google_headers(
    google: GoogleHarness, receiver: Receiver
) -> None:
    channel = await watch(google, receiver, token="secret-token")
    assert channel["kind"] == "api#channel" and channel["id"] == "chan-1"
    assert channel["resourceId"] and channel["token"] == "secret-token"
    assert channel["resourceUri"].startswith(google.url + "/calendar/v3/calendars/")
    now_ms = int(google.clock() * 1000)
    assert int(channel["expiration"]) == now_ms + 7 * 24 * 3600 * 1000

    await google.call("POST", EVENTS, json=MEETING)
    await google.call("POST", EVENTS, json=MEETING)
    await google.sandbox.push.drain()

    headers = [r["headers"] for r in receiver.requests]
    assert [h["X-Goog-Resource-State"] for h in headers] == ["sync", "exists", "exists"]
    assert [int(h["X-Goog-Message-Number"]) for h in headers] == [1, 2, 3]
    first = headers[0]
    assert first["X-Goog-Channel-ID"] == "chan-1"
    assert first["X-Goog-Channel-Token"] == "secret-token"
    assert first["X-Goog-Resource-ID"] == channel["resourceId"]
    assert first["X-Goog-Resource-URI"] == channel["resourceUri"]
    assert first["X-Goog-Channel-Expiration"].endswith("GMT")
    assert all(r["body"] == b"" for r in receiver.requests)


async def test_changes_made_in_the_ui_are_pushed(google: GoogleHarness, receiver: Receiver) -> None:
    await watch(google, receiver)
    event = google.sandbox.ui_create_event(ALICE, MEETING)
    google.sandbox.make_private(ALICE, event.id)
    await google.sandbox.push.drain()
    assert [r["headers"]["X-Goog-Resource-State"] for r in receiver.requests] == [
        "sync",
        "exists",
        "exists",
    ]


async def test_other_calendars_changes_are_not_pushed(
    google: GoogleHarness, receiver: Receiver
) -> None:
    other = google.sandbox.add_calendar(ALICE, "Other")
    await watch(google, receiver)
    google.sandbox.ui_create_event(other.id, MEETING)
    await google.sandbox.push.drain()
    assert len(receiver.requests) == 1  # only the sync message


async def test_channels_stop_ends_delivery(google: GoogleHarness, receiver: Receiver) -> None:
    channel = await watch(google, receiver)
    status, _, _ = await google.call(
        "POST",
        "/calendar/v3/channels/stop",
        json={"id": "chan-1", "resourceId": channel["resourceId"]},
    )
    assert status == 204
    await google.call("POST", EVENTS, json=MEETING)
    await google.sandbox.push.drain()
    assert [r["headers"]["X-Goog-Resource-State"] for r in receiver.requests] == ["sync"]
    status, body, _ = await google.call(
        "POST",
        "/calendar/v3/channels/stop",
        json={"id": "chan-1", "resourceId": channel["resourceId"]},
    )
    assert status == 404 and body["error"]["errors"][0]["reason"] == "notFound"


async def test_expired_channel_stops_delivering(google: GoogleHarness, receiver: Receiver) -> None:
    expiration = int(google.clock() * 1000) + 60_000
    channel = await watch(google, receiver, expiration=str(expiration))
    assert channel["expiration"] == str(expiration)
    await google.sandbox.push.drain()
    google.clock.advance(61)
    await google.call("POST", EVENTS, json=MEETING)
    await google.sandbox.push.drain()
    assert len(receiver.requests) == 1
    # An expired channel is gone: stopping it is a 404 and its id can be reused.
    status, _, _ = await google.call(
        "POST",
        "/calendar/v3/channels/stop",
        json={"id": "chan-1", "resourceId": channel["resourceId"]},
    )
    assert status == 404
    renewed = await watch(google, receiver, params={"ttl": "120"})
    assert int(renewed["expiration"]) == int(google.clock() * 1000) + 120_000


async def test_duplicate_and_reorder_quirks(google: GoogleHarness, receiver: Receiver) -> None:
    await watch(google, receiver)
    await google.sandbox.push.drain()
    await google.control("POST", "/_sandbox/push", json={"duplicate": 1, "reorder": True})
    google.sandbox.ui_create_event(ALICE, MEETING)
    google.sandbox.ui_create_event(ALICE, MEETING)
    await google.sandbox.push.drain()
    numbers = [int(r["headers"]["X-Goog-Message-Number"]) for r in receiver.requests]
    assert numbers == [1, 3, 3, 2, 2]
    assert google.sandbox.push.faults == {"push_duplicated": 2, "push_reordered": 2}


async def test_failed_delivery_is_logged_and_dropped(
    google: GoogleHarness, receiver: Receiver
) -> None:
    receiver.status = 500
    await watch(google, receiver)
    await google.sandbox.push.drain()
    log = (await google.control("GET", "/_sandbox/notifications"))["notifications"]
    assert [(n["resourceState"], n["messageNumber"], n["status"]) for n in log] == [
        ("sync", 1, 500)
    ]
    assert len(receiver.requests) == 1  # no retry


async def test_watch_validates_channel(google: GoogleHarness, receiver: Receiver) -> None:
    status, _, _ = await google.call(
        "POST",
        f"{EVENTS}/watch",
        json={"id": "c", "type": "carrier_pigeon", "address": receiver.url},
    )
    assert status == 400
    await watch(google, receiver)
    status, _, _ = await google.call(
        "POST",
        f"{EVENTS}/watch",
        json={"id": "chan-1", "type": "web_hook", "address": receiver.url},
    )
    assert status == 400


async def test_dropped_messages_are_logged_not_sent(
    google: GoogleHarness, receiver: Receiver
) -> None:
    await watch(google, receiver)
    await google.sandbox.push.drain()
    await google.control("POST", "/_sandbox/push", json={"drop": 1})
    google.sandbox.ui_create_event(ALICE, MEETING)
    google.sandbox.ui_create_event(ALICE, MEETING)
    await google.sandbox.push.drain()
    assert [int(r["headers"]["X-Goog-Message-Number"]) for r in receiver.requests] == [1, 3]
    log = (await google.control("GET", "/_sandbox/notifications"))["notifications"]
    assert [n["messageNumber"] for n in log if n["error"]] == [2]
    assert google.sandbox.push.faults == {"push_dropped": 1}


async def test_control_lists_and_expires_channels(
    google: GoogleHarness, receiver: Receiver
) -> None:
    channel = await watch(google, receiver, token="t")
    await google.sandbox.push.drain()
    listed = (await google.control("GET", "/_sandbox/channels"))["channels"]
    assert [(c["id"], c["resourceId"], c["token"]) for c in listed] == [
        ("chan-1", channel["resourceId"], "t")
    ]
    await google.control("POST", "/_sandbox/channels/chan-1/expire")
    assert (await google.control("GET", "/_sandbox/channels"))["channels"] == []
    google.sandbox.ui_create_event(ALICE, MEETING)
    await google.sandbox.push.drain()
    assert len(receiver.requests) == 1  # only the sync message from before the expiry


async def test_a_dead_receiver_does_not_hold_up_other_channels(
    google: GoogleHarness, receiver: Receiver
) -> None:
    # A receiver that accepts the connection but never answers (until the delivery timeout).
    import asyncio

    stalled: list[asyncio.StreamWriter] = []

    async def swallow(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stalled.append(writer)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await google.call(
            "POST",
            f"{EVENTS}/watch",
            json={"id": "chan-dead", "type": "web_hook", "address": f"http://127.0.0.1:{port}/x"},
        )
        await watch(google, receiver)  # queued after the dead channel's message
        for _ in range(100):  # the live channel's sync message arrives despite the dead one
            if receiver.requests:
                break
            await asyncio.sleep(0.02)
        assert [r["headers"]["X-Goog-Channel-ID"] for r in receiver.requests] == ["chan-1"]
    finally:
        for writer in stalled:
            writer.close()
        server.close()
        google.sandbox.push.forget()


async def test_resource_id_names_the_calendar_not_the_channel(
    google: GoogleHarness, receiver: Receiver
) -> None:
    first = await watch(google, receiver)
    _, second, _ = await google.call(
        "POST",
        f"{EVENTS}/watch",
        json={"id": "chan-2", "type": "web_hook", "address": receiver.url},
    )
    other = google.sandbox.add_calendar(ALICE, "Other")
    _, third, _ = await google.call(
        "POST",
        f"/calendar/v3/calendars/{other.id}/events/watch",
        json={"id": "chan-3", "type": "web_hook", "address": receiver.url},
    )
    assert first["resourceId"] == second["resourceId"] != third["resourceId"]
    # Stopping one channel leaves the other on the same resource alive.
    await google.call(
        "POST",
        "/calendar/v3/channels/stop",
        json={"id": "chan-1", "resourceId": first["resourceId"]},
    )
    await google.sandbox.push.drain()
    google.sandbox.ui_create_event(ALICE, MEETING)
    await google.sandbox.push.drain()
    last = receiver.requests[-1]["headers"]
    assert (last["X-Goog-Channel-ID"], last["X-Goog-Resource-State"]) == ("chan-2", "exists")


async def test_a_retried_watch_meets_channel_id_not_unique(
    google: GoogleHarness, receiver: Receiver
) -> None:
    """events.watch is not idempotent: repeating the very request (a retry after a lost
    answer) is refused while the first channel lives, so a client must not resend it as is.
    https://developers.google.com/calendar/api/guides/push"""
    first = await watch(google, receiver)
    retry = {"id": "chan-1", "type": "web_hook", "address": receiver.url}
    status, body, _ = await google.call("POST", f"{EVENTS}/watch", json=retry)
    assert status == 400
    assert body["error"]["errors"][0]["reason"] == "channelIdNotUnique"
    live = await google.control("GET", "/_sandbox/channels")
    assert [c["id"] for c in live["channels"]] == [first["id"]]


async def test_channel_ids_and_tokens_have_documented_limits(
    google: GoogleHarness, receiver: Receiver
) -> None:
    """Push guide: the channel id is at most 64 characters, the token at most 256."""
    for body in ({"id": "c" * 65}, {"id": "c", "token": "t" * 257}):
        status, _, _ = await google.call(
            "POST", f"{EVENTS}/watch", json={"type": "web_hook", "address": receiver.url, **body}
        )
        assert status == 400, body
    await watch(google, receiver, id="c" * 64, token="t" * 256)
