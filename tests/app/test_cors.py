"""CHRONIK_CORS_ORIGINS: pages of the listed origins may call /graphql; no other origin may.

Browsers enforce CORS from the headers tested here (the Chromium test from another origin is
tests/e2e/test_cross_origin.py); websocket handshakes carry no CORS, so their `Origin` is
checked by the server against the same list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import websockets

from app.settings import Settings
from tests.conftest import TestUser
from tests.support.server import RunningChronik, running_chronik

FRONTEND = "http://localhost:5173"
STRANGER = "https://evil.test"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.fixture
async def with_frontend(settings: Settings) -> AsyncIterator[RunningChronik]:
    """Chronik with one frontend origin allowed."""
    allowed = settings.model_copy(update={"cors_origins": [FRONTEND]})
    async with running_chronik(allowed) as server:
        yield server


async def preflight(chronik: RunningChronik, origin: str, path: str = "/graphql") -> dict[str, str]:
    response = await chronik.http.options(
        f"{chronik.url}{path}", headers={"Origin": origin, **PREFLIGHT}
    )
    return {"status": str(response.status_code), **response.headers}


async def test_a_listed_origin_is_answered_a_preflight_and_reads_the_answer_without_credentials(
    with_frontend: RunningChronik, alice: TestUser
) -> None:
    answer = await preflight(with_frontend, FRONTEND)
    assert answer["status"] == "200"
    assert answer["access-control-allow-origin"] == FRONTEND
    assert "POST" in answer["access-control-allow-methods"]
    assert "authorization" in answer["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in answer

    response = await with_frontend.http.post(
        f"{with_frontend.url}/graphql",
        json={"query": "{ me { email } }"},
        headers={"Origin": FRONTEND, "Authorization": f"Bearer {alice.token}"},
    )
    assert response.json() == {"data": {"me": {"email": alice.email}}}
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert "access-control-allow-credentials" not in response.headers


async def test_another_origin_is_refused_its_preflight_and_gets_no_cors_headers(
    with_frontend: RunningChronik,
) -> None:
    answer = await preflight(with_frontend, STRANGER)
    assert answer["status"] == "400"
    assert "access-control-allow-origin" not in answer
    response = await with_frontend.http.post(
        f"{with_frontend.url}/graphql",
        json={"query": "{ __typename }"},
        headers={"Origin": STRANGER},
    )
    assert "access-control-allow-origin" not in response.headers


async def test_only_graphql_is_open_to_the_listed_origin(with_frontend: RunningChronik) -> None:
    answer = await preflight(with_frontend, FRONTEND, "/oauth/google/start")
    assert "access-control-allow-origin" not in answer


async def test_by_default_no_origin_is_allowed(chronik: RunningChronik) -> None:
    answer = await preflight(chronik, FRONTEND)
    assert "access-control-allow-origin" not in answer
    assert chronik.settings.cors_origins == []


async def test_a_wildcard_never_comes_with_credentials(settings: Settings) -> None:
    anyone = settings.model_copy(update={"cors_origins": ["*"]})
    async with running_chronik(anyone) as server:
        answer = await preflight(server, STRANGER)
    assert answer["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_websockets_from_other_origins_follow_the_same_list(
    with_frontend: RunningChronik, protocol: str
) -> None:
    url = with_frontend.url.replace("http", "ws") + "/graphql"
    for origin in (FRONTEND, with_frontend.url, None):  # listed, its own, not a browser
        async with websockets.connect(url, subprotocols=[protocol], origin=origin) as socket:  # type: ignore[list-item,arg-type]
            assert socket.subprotocol == protocol
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, subprotocols=[protocol], origin=STRANGER):  # type: ignore[list-item,arg-type]
            pass
    assert refused.value.response.status_code == 403
