"""`/metrics` is not for the public network: refused in production until a token is set, then
only for `Authorization: Bearer <CHRONIK_METRICS_TOKEN>` (what Prometheus sends)."""

from __future__ import annotations

import pytest
from pydantic import AnyHttpUrl, SecretStr

from app.settings import Environment, Settings, SettingsError, load_settings
from tests.support.server import RunningChronik, free_port, running_chronik

METRICS_TOKEN = "scrape-" + "m" * 24


async def test_production_without_a_metrics_token_refuses_metrics(
    production: RunningChronik,
) -> None:
    response = await production.http.get(f"{production.url}/metrics")
    assert response.status_code == 403
    assert "CHRONIK_METRICS_TOKEN" in response.text
    assert "chronik_" not in response.text
    assert (await production.http.get(f"{production.url}/healthz")).status_code == 200


async def test_with_a_token_metrics_answer_only_that_bearer_token(settings: Settings) -> None:
    scraped = settings.model_copy(
        update={
            "env": Environment.PRODUCTION,
            "metrics_token": SecretStr(METRICS_TOKEN),
            "public_url": AnyHttpUrl(f"http://127.0.0.1:{free_port()}"),
        }
    )
    async with running_chronik(scraped) as server:
        url = f"{server.url}/metrics"
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-of-some-length"},
            {"Authorization": f"Basic {METRICS_TOKEN}"},
            {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        ):
            refused = await server.http.get(url, headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "chronik_" not in refused.text
        allowed = await server.http.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert allowed.status_code == 200
        assert "chronik_graphql_requests" in allowed.text


async def test_outside_production_metrics_stay_open_without_a_token(
    chronik: RunningChronik,
) -> None:
    response = await chronik.http.get(f"{chronik.url}/metrics")
    assert response.status_code == 200
    assert "chronik_sync_leases_held" in response.text


def test_a_short_metrics_token_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="CHRONIK_METRICS_TOKEN"):
        load_settings(metrics_token="short")
