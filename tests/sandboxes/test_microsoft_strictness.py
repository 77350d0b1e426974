"""Where the real Graph is strict, the Microsoft sandbox is too: each test here fails against a
kinder sandbox. The Graph documentation page each behaviour follows is named in the handler's
docstring and in docs/providers.md."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandboxes.microsoft.timefmt import dttz

MEETING: dict[str, Any] = {
    "subject": "Zone check",
    "start": {"dateTime": "2026-09-24T14:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-09-24T15:00:00", "timeZone": "UTC"},
}


def _at(zone: str) -> dict[str, Any]:
    return {
        **MEETING,
        "start": {"dateTime": "2026-09-24T14:00:00", "timeZone": zone},
        "end": {"dateTime": "2026-09-24T15:00:00", "timeZone": zone},
    }


# -- time zones: Windows names and Graph's documented IANA list only --------------------------


@pytest.mark.parametrize("zone", ["Europe/Zurich", "America/Toronto", "Etc/UTC", "Mars/Base"])
async def test_a_zone_graph_does_not_list_is_refused_on_create_and_update(microsoft, zone):
    status, body, _ = await microsoft.call("POST", "/v1.0/me/events", json=_at(zone))
    assert status == 400, body
    assert body["error"]["code"] == "TimeZoneNotSupportedException"
    assert zone in body["error"]["message"]

    status, made, _ = await microsoft.call("POST", "/v1.0/me/events", json=MEETING)
    assert status == 201
    status, body, _ = await microsoft.call(
        "PATCH", f"/v1.0/me/events/{made['id']}", json={"start": _at(zone)["start"]}
    )
    assert status == 400 and body["error"]["code"] == "TimeZoneNotSupportedException"
    _, unchanged, _ = await microsoft.call("GET", f"/v1.0/me/events/{made['id']}")
    assert unchanged["start"]["dateTime"].startswith("2026-09-24T14:00:00")


@pytest.mark.parametrize(
    "zone",
    [
        "W. Europe Standard Time",
        "Eastern Standard Time",
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Asia/Kolkata",
    ],
)
async def test_windows_names_and_documented_iana_names_are_accepted(microsoft, zone):
    status, made, _ = await microsoft.call("POST", "/v1.0/me/events", json=_at(zone))
    assert status == 201, made
    assert made["originalStartTimeZone"] == zone


# -- calendarView delta: expired tokens, repeated pages, long windows ---------------------------

DAY = timedelta(days=1)


def _window(harness, days: int = 365) -> dict[str, str]:
    now = datetime.fromtimestamp(harness.clock(), UTC)
    return {
        "startDateTime": (now - 30 * DAY).isoformat(),
        "endDateTime": (now + days * DAY).isoformat(),
    }


def _seed(harness, count: int) -> None:
    base = datetime.fromtimestamp(harness.clock(), UTC).replace(minute=0, second=0)
    for n in range(count):
        start = base + (n + 1) * DAY
        harness.sandbox.create_event(
            harness.email,
            {"subject": f"E{n}", "start": dttz(start), "end": dttz(start + timedelta(hours=1))},
        )


async def _delta_link(harness) -> str:
    status, body, _ = await harness.call(
        "GET", "/v1.0/me/calendarView/delta", params=_window(harness)
    )
    while "@odata.nextLink" in body:
        status, body, _ = await harness.call("GET", body["@odata.nextLink"])
    assert status == 200
    return str(body["@odata.deltaLink"])


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "syncStateNotFound"), (404, "resyncRequired"), (410, "SyncStateNotFound")],
)
async def test_an_expired_delta_token_can_come_back_as_any_40x_sync_state_error(
    microsoft, status, code
):
    link = await _delta_link(microsoft)
    await microsoft.control(
        "POST", "/_sandbox/quirks", json={"expiredStatus": status, "expiredCode": code}
    )
    microsoft.sandbox.invalidate_delta_tokens(microsoft.email)
    got, body, _ = await microsoft.call("GET", link)
    assert (got, body["error"]["code"]) == (status, code)


async def test_delta_pages_can_repeat_under_fresh_next_links(microsoft):
    _seed(microsoft, 4)
    await microsoft.control("POST", "/_sandbox/quirks", json={"repeatPages": 2})
    headers = {"Prefer": "odata.maxpagesize=2"}
    _, first, _ = await microsoft.call(
        "GET", "/v1.0/me/calendarView/delta", params=_window(microsoft), headers=headers
    )
    pages, links = [first], [first["@odata.nextLink"]]
    body = first
    while "@odata.nextLink" in body:
        _, body, _ = await microsoft.call("GET", body["@odata.nextLink"], headers=headers)
        pages.append(body)
        links.append(body.get("@odata.nextLink"))
    subjects = [[e["subject"] for e in page["value"]] for page in pages]
    # The first page three times (each with a new link), then the last page once.
    assert subjects == [["E0", "E1"]] * 3 + [["E2", "E3"]]
    assert len(set(links[:3])) == 3
    assert "@odata.deltaLink" in pages[-1]


async def test_a_long_window_can_answer_503(microsoft):
    await microsoft.control("POST", "/_sandbox/quirks", json={"maxWindowDays": 400})
    status, body, _ = await microsoft.call(
        "GET", "/v1.0/me/calendarView/delta", params=_window(microsoft, days=3 * 365)
    )
    assert status == 503 and body["error"]["code"] == "serviceNotAvailable"
    status, _, _ = await microsoft.call(
        "GET", "/v1.0/me/calendarView/delta", params=_window(microsoft, days=300)
    )
    assert status == 200


# -- throttling: 4 concurrent requests per mailbox ------------------------------------------------


async def test_a_fifth_concurrent_request_to_one_mailbox_is_throttled(microsoft):
    await microsoft.control("POST", "/_sandbox/quirks", json={"mailboxLatencyMs": 200})
    answers = await asyncio.gather(*(microsoft.call("GET", "/v1.0/me") for _ in range(6)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200, 200, 200, 200, 429, 429]
    throttled = next(body for status, body, _ in answers if status == 429)
    assert throttled["error"]["code"] == "ApplicationThrottled"
    assert "MailboxConcurrency" in throttled["error"]["message"]
    # Four at a time are fine.
    answers = await asyncio.gather(*(microsoft.call("GET", "/v1.0/me") for _ in range(4)))
    assert {status for status, _, _ in answers} == {200}


# -- X500 addresses --------------------------------------------------------------------------------


async def test_an_organizer_can_be_named_by_x500_address_beside_the_smtp_form(microsoft):
    microsoft.sandbox.create_event(
        microsoft.email,
        {
            **MEETING,
            "organizer": {"emailAddress": {"address": "dan@other.test", "name": "Dan"}},
            "attendees": [
                {"emailAddress": {"address": "dan@other.test", "name": "Dan"}},
                {"emailAddress": {"address": microsoft.email}},
            ],
        },
    )
    await microsoft.control("POST", "/_sandbox/quirks", json={"x500Organizers": True})
    _, listed, _ = await microsoft.call("GET", "/v1.0/me/events")
    [event] = listed["value"]
    organizer = event["organizer"]["emailAddress"]
    assert organizer["address"].startswith("/o=ExchangeLabs/") and organizer["name"] == "Dan"
    addresses = [a["emailAddress"]["address"] for a in event["attendees"]]
    assert addresses[:2] == ["dan@other.test", microsoft.email]
    assert addresses[2] == organizer["address"]  # the same person, twice
    stored = microsoft.sandbox.store.get_event(microsoft.sandbox.user(microsoft.email), event["id"])
    assert stored["organizer"]["emailAddress"]["address"] == "dan@other.test"


# -- personal Microsoft accounts ------------------------------------------------------------------


async def test_a_personal_account_has_no_mail_and_no_get_schedule(microsoft):
    await microsoft.control(
        "POST", "/_sandbox/users", json={"email": microsoft.email, "personal": True}
    )
    _, me, _ = await microsoft.call("GET", "/v1.0/me")
    assert me["mail"] is None and me["userPrincipalName"] == microsoft.email
    status, body, _ = await microsoft.call(
        "POST",
        "/v1.0/me/calendar/getSchedule",
        json={
            "schedules": [microsoft.email],
            "startTime": {"dateTime": "2026-09-24T00:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": "2026-09-25T00:00:00", "timeZone": "UTC"},
        },
    )
    assert status == 403 and body["error"]["code"] == "ErrorAccessDenied"


async def test_delta_pages_can_be_larger_than_maxpagesize(microsoft):
    _seed(microsoft, 7)
    await microsoft.control("POST", "/_sandbox/quirks", json={"pageOverflow": 2})
    headers = {"Prefer": "odata.maxpagesize=2"}
    _, body, _ = await microsoft.call(
        "GET", "/v1.0/me/calendarView/delta", params=_window(microsoft), headers=headers
    )
    sizes = [len(body["value"])]
    while "@odata.nextLink" in body:
        _, body, _ = await microsoft.call("GET", body["@odata.nextLink"], headers=headers)
        sizes.append(len(body["value"]))
    assert sizes == [4, 3]


async def test_a_mailbox_over_its_requests_per_10_minutes_is_throttled(microsoft):
    await microsoft.control("POST", "/_sandbox/quirks", json={"mailboxRequestsPer10Minutes": 3})
    for _ in range(3):
        status, _, _ = await microsoft.call("GET", "/v1.0/me")
        assert status == 200
    status, body, resp = await microsoft.call("GET", "/v1.0/me")
    assert status == 429 and body["error"]["code"] == "ApplicationThrottled"
    assert 1 <= int(resp.headers["Retry-After"]) <= 600
    microsoft.clock.advance(601)
    status, _, _ = await microsoft.call("GET", "/v1.0/me")
    assert status == 200
