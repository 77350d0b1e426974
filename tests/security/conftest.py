"""A Chronik running as in production, for the tests of what production refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import AnyHttpUrl

from app.settings import Environment, Settings
from tests.support.server import RunningChronik, free_port, running_chronik


@pytest.fixture
async def production(settings: Settings) -> AsyncIterator[RunningChronik]:
    """Chronik with `CHRONIK_ENV=production` (the test settings otherwise)."""
    production_settings = settings.model_copy(
        update={
            "env": Environment.PRODUCTION,
            # Its own port, so a test may run it beside the development `chronik`.
            "public_url": AnyHttpUrl(f"http://127.0.0.1:{free_port()}"),
        }
    )
    async with running_chronik(production_settings) as server:
        yield server
