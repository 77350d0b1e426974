"""Health endpoints for load balancers and orchestrators."""

from __future__ import annotations

import asyncpg

from tests.support.server import RunningChronik


async def test_healthz_and_readyz(chronik: RunningChronik) -> None:
    assert (await chronik.http.get(f"{chronik.url}/healthz")).json() == {"status": "ok"}
    ready = await chronik.http.get(f"{chronik.url}/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_readyz_reports_pending_migrations(
    chronik: RunningChronik, db: asyncpg.Connection
) -> None:
    await db.execute("DELETE FROM schema_migrations WHERE version = 1")
    ready = await chronik.http.get(f"{chronik.url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["pending"] == ["0001_accounts_users_contacts"]
