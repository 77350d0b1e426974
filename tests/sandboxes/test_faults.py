"""Fault injection (sandboxes/faults.py) through the Google sandbox over real HTTP:
rate limits with Retry-After, 5xx, timeouts, connection resets, latency; nextN/probability;
short change-feed pages (page_cap) in both sandboxes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import pytest

from sandboxes.faults import Fault, FaultInjector, FaultKind, fault_from_json
from sync.credentials import StaticToken
from sync.providers.google.client import GoogleCalendarClient
from sync.providers.microsoft.client import GraphCalendarClient
from tests.sandboxes.conftest import GoogleHarness
from tests.support.sandboxes import start_sandboxes

EVENTS = "/calendar/v3/calendars/primary/events"


async def add(google: GoogleHarness, **body: object) -> str:
    answer = await google.control("POST", "/_sandbox/faults", json=body)
    return str(answer["id"])


async def test_rate_limit_429_with_retry_after_then_normal(google: GoogleHarness) -> None:
    await add(google, kind="rate_limit", retryAfter=7, nextN=2)
    for _ in range(2):
        status, body, resp = await google.call("GET", EVENTS)
        assert status == 429
        assert resp.headers["Retry-After"] == "7"
        assert body["error"]["errors"][0] == {
            "domain": "usageLimits",
            "reason": "rateLimitExceeded",
            "message": "Rate Limit Exceeded",
        }
    assert (await google.call("GET", EVENTS))[0] == 200
    stats = await google.control("GET", "/_sandbox/faults")
    assert stats == {"injected": {"rate_limit": 2}, "active": 0}


async def test_rate_limit_as_403_user_rate_limit(google: GoogleHarness) -> None:
    await add(google, kind="rate_limit", status=403, nextN=1)
    status, body, _ = await google.call("GET", EVENTS)
    assert status == 403 and body["error"]["errors"][0]["reason"] == "rateLimitExceeded"


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_backend_error(google: GoogleHarness, status: int) -> None:
    await add(google, kind="server_error", status=status, nextN=1)
    got, body, _ = await google.call("GET", EVENTS)
    assert got == status and body["error"]["errors"][0]["reason"] == "backendError"


async def test_server_error_defaults_to_503(google: GoogleHarness) -> None:
    await add(google, kind="server_error", nextN=1)
    assert (await google.call("GET", EVENTS))[0] == 503


async def test_timeout_makes_the_client_time_out(google: GoogleHarness) -> None:
    await add(google, kind="timeout", delayMs=2000, nextN=1)
    with pytest.raises(asyncio.TimeoutError):
        await google.call("GET", EVENTS, timeout=aiohttp.ClientTimeout(total=0.2))
    assert (await google.call("GET", EVENTS))[0] == 200


async def test_reset_drops_the_connection(google: GoogleHarness) -> None:
    await add(google, kind="reset", nextN=1)
    # POST: aiohttp transparently retries an idempotent request once after a disconnect.
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await google.call("POST", EVENTS, json={})
    assert (await google.call("GET", EVENTS))[0] == 200
    assert (await google.control("GET", "/_sandbox/faults"))["injected"] == {"reset": 1}


async def test_reset_of_an_idempotent_request_after_client_retry(google: GoogleHarness) -> None:
    await add(google, kind="reset", nextN=2, method="GET")
    with pytest.raises(aiohttp.ClientError):
        await google.call("GET", EVENTS)
    assert (await google.control("GET", "/_sandbox/faults"))["injected"] == {"reset": 2}


async def test_latency_delays_then_answers_normally(google: GoogleHarness) -> None:
    await add(google, kind="latency", delayMs=50, nextN=1)
    status, body, _ = await google.call("GET", EVENTS)
    assert status == 200 and body["kind"] == "calendar#events"
    assert (await google.control("GET", "/_sandbox/faults"))["injected"] == {"latency": 1}


async def test_filters_by_path_and_method_and_control_api_is_never_faulted(
    google: GoogleHarness,
) -> None:
    await add(google, kind="server_error", pathContains="/events", method="POST")
    assert (await google.call("GET", EVENTS))[0] == 200
    assert (await google.call("GET", "/calendar/v3/users/me/calendarList"))[0] == 200
    assert (await google.call("POST", EVENTS, json={}))[0] == 503
    assert (await google.control("GET", "/_sandbox/users"))["users"]
    async with google.http.delete(google.url + "/_sandbox/faults") as resp:
        assert resp.status == 204
    status, _, _ = await google.call("POST", EVENTS, json={})
    assert status == 400  # a real answer again (the body is invalid)


async def test_bad_fault_json_is_400(google: GoogleHarness) -> None:
    async with google.http.post(google.url + "/_sandbox/faults", json={"kind": "meteor"}) as resp:
        assert resp.status == 400


def test_probability_is_seeded_and_roughly_respected() -> None:
    class Req:
        method = "GET"
        path_qs = "/calendar/v3/x"

    def hits(seed: int) -> list[bool]:
        injector = FaultInjector(seed)
        injector.add(Fault(FaultKind.SERVER_ERROR, probability=0.3))
        return [injector.pick(Req()) is not None for _ in range(1000)]  # type: ignore[arg-type]

    first = hits(3)
    assert first == hits(3)
    assert 200 < sum(first) < 400
    assert first != hits(4)


def test_next_n_expires_and_rules_apply_in_order() -> None:
    class Req:
        method = "GET"
        path_qs = "/a"

    injector = FaultInjector(0)
    injector.add(Fault(FaultKind.RATE_LIMIT, next_n=2))
    injector.add(Fault(FaultKind.LATENCY))
    kinds = [injector.pick(Req()).kind for _ in range(4)]  # type: ignore[arg-type, union-attr]
    assert kinds == [
        FaultKind.RATE_LIMIT,
        FaultKind.RATE_LIMIT,
        FaultKind.LATENCY,
        FaultKind.LATENCY,
    ]
    assert injector.active == 1


def test_fault_from_json_maps_camel_case() -> None:
    fault = fault_from_json(
        {
            "kind": "timeout",
            "status": 504,
            "retryAfter": 2,
            "nextN": 3,
            "probability": 0.5,
            "delayMs": 1500,
            "pathContains": "/events",
            "method": "GET",
        }
    )
    assert fault == Fault(FaultKind.TIMEOUT, 504, 2.0, 3, 0.5, 1.5, "/events", "GET")
    for bad in ({"kind": "rate_limit", "probability": 2}, {"kind": "rate_limit", "nextN": 0}, {}):
        with pytest.raises(ValueError):
            fault_from_json(bad)


@pytest.mark.parametrize("provider", ["GOOGLE", "MICROSOFT"])
async def test_page_cap_splits_a_change_feed_into_short_pages(provider: str) -> None:
    """Under `page_cap` a full round of five events takes three pages, and nothing is lost."""
    running = await start_sandboxes()
    owner = "pages@acme.test"
    try:
        async with aiohttp.ClientSession() as http:
            client: GoogleCalendarClient | GraphCalendarClient
            if provider == "GOOGLE":
                sandbox = running.google
                sandbox.create_user(owner)
                for hour in range(5):
                    when = f"2030-01-01T{10 + hour:02d}:00:00Z"
                    sandbox.ui_create_event(
                        owner,
                        {"summary": "x", "start": {"dateTime": when}, "end": {"dateTime": when}},
                    )
                token = sandbox.oauth.issue_access_token(owner, "sandbox", "calendar")
                client = GoogleCalendarClient(http, running.google_url, StaticToken(token))
            else:
                graph = running.microsoft
                graph.create_user(owner)
                for hour in range(5):
                    when = {"dateTime": f"2030-01-01T{10 + hour:02d}:00:00", "timeZone": "UTC"}
                    graph.create_event(owner, {"subject": "x", "start": when, "end": when})
                token = graph.issue_access_token(owner)
                client = GraphCalendarClient(http, running.microsoft_url, StaticToken(token))
            injector = running.google.faults if provider == "GOOGLE" else running.microsoft.faults
            injector.page_cap = 2
            cursor, pages, ids = None, 0, set()
            window = datetime(2029, 12, 1, tzinfo=UTC)
            while True:
                page = await client.fetch_changes(cursor, window_start=window)
                pages += 1
                ids |= {e.provider_event_id for e in page.events}
                cursor = page.cursor
                if page.complete:
                    break
    finally:
        await running.close()
    assert (pages, len(ids)) == (3, 5)
    assert injector.injected["short_page"] == 3
