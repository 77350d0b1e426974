"""The shared fault injector on the Microsoft sandbox: each fault kind over real HTTP, with
Graph's own error bodies and headers; the control API is never faulted."""

from __future__ import annotations

import aiohttp
import pytest


async def _fault(harness, **body) -> str:
    return (await harness.control("POST", "/_sandbox/faults", json=body))["id"]


async def test_rate_limit_is_429_with_retry_after_and_graph_body(microsoft):
    await _fault(microsoft, kind="rate_limit", retryAfter=7, nextN=1)
    status, body, resp = await microsoft.call("GET", "/v1.0/me")
    assert status == 429
    assert resp.headers["Retry-After"] == "7"
    assert body["error"]["code"] == "TooManyRequests"
    assert body["error"]["innerError"]["request-id"] == resp.headers["request-id"]
    assert (await microsoft.call("GET", "/v1.0/me"))[0] == 200  # nextN=1 expired


async def test_fractional_retry_after_is_rounded_up(microsoft):
    await _fault(microsoft, kind="rate_limit", retryAfter=0.2, nextN=1)
    _, _, resp = await microsoft.call("GET", "/v1.0/me")
    assert resp.headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "serviceNotAvailable"), (500, "generalException"), (504, "UnknownError")],
)
async def test_server_errors_use_graph_codes(microsoft, status, code):
    await _fault(microsoft, kind="server_error", status=status, nextN=1)
    got, body, _ = await microsoft.call("GET", "/v1.0/me/calendar")
    assert got == status and body["error"]["code"] == code


async def test_timeout_holds_then_answers_504(microsoft):
    await _fault(microsoft, kind="timeout", delayMs=50, nextN=1)
    status, body, _ = await microsoft.call("GET", "/v1.0/me")
    assert status == 504 and body["error"]["code"] == "UnknownError"


async def test_timeout_outlasts_a_client_deadline(microsoft):
    await _fault(microsoft, kind="timeout", delayMs=2000, nextN=1)
    with pytest.raises(TimeoutError):
        await microsoft.call("GET", "/v1.0/me", timeout=aiohttp.ClientTimeout(total=0.2))


async def test_reset_drops_the_connection(microsoft):
    await _fault(microsoft, kind="reset", nextN=1)
    # A POST: aiohttp transparently retries an idempotent request once after a disconnect.
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await microsoft.call("POST", "/v1.0/me/events", json={})
    assert (await microsoft.control("GET", "/_sandbox/faults"))["injected"] == {"reset": 1}
    assert microsoft.sandbox.user(microsoft.email).events == {}
    assert (await microsoft.call("GET", "/v1.0/me"))[0] == 200


async def test_reset_of_a_get_survives_one_client_retry_only(microsoft):
    await _fault(microsoft, kind="reset", nextN=2, method="GET")
    with pytest.raises(aiohttp.ClientError):
        await microsoft.call("GET", "/v1.0/me")
    assert (await microsoft.control("GET", "/_sandbox/faults"))["injected"] == {"reset": 2}


async def test_latency_delays_but_answers_normally(microsoft):
    await _fault(microsoft, kind="latency", delayMs=20, nextN=1)
    status, body, _ = await microsoft.call("GET", "/v1.0/me")
    assert status == 200 and body["mail"] == microsoft.email


async def test_filters_by_path_and_method_and_counts_injections(microsoft):
    await _fault(microsoft, kind="rate_limit", pathContains="calendarView/delta", method="GET")
    assert (await microsoft.call("GET", "/v1.0/me"))[0] == 200
    status, _, _ = await microsoft.call(
        "GET",
        "/v1.0/me/calendarView/delta",
        params={"startDateTime": "2026-01-01T00:00:00Z", "endDateTime": "2026-02-01T00:00:00Z"},
    )
    assert status == 429
    stats = await microsoft.control("GET", "/_sandbox/faults")
    assert stats == {"injected": {"rate_limit": 1}, "active": 1}
    await microsoft.control("DELETE", "/_sandbox/faults")
    assert (await microsoft.control("GET", "/_sandbox/faults"))["active"] == 0


async def test_oauth_endpoints_are_faulted_but_control_api_never(microsoft):
    await _fault(microsoft, kind="server_error", status=503)
    async with microsoft.http.post(
        microsoft.url + "/common/oauth2/v2.0/token", data={"grant_type": "refresh_token"}
    ) as resp:
        assert resp.status == 503
    users = await microsoft.control("GET", "/_sandbox/users")
    assert users["value"][0]["email"] == microsoft.email


async def test_probability_faults_are_deterministic_per_seed(microsoft):
    await _fault(microsoft, kind="server_error", probability=0.5, pathContains="/v1.0/me")
    statuses = [(await microsoft.call("GET", "/v1.0/me"))[0] for _ in range(20)]
    assert set(statuses) == {200, 503}


async def test_bad_fault_definition_is_400(microsoft):
    async with microsoft.http.post(
        microsoft.url + "/_sandbox/faults", json={"kind": "meteor"}
    ) as resp:
        assert resp.status == 400 and "error" in await resp.json()
