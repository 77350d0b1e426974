"""Fixtures of the sync tests."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.sync import LinkedCalendar, linked_calendar


@pytest.fixture(params=["GOOGLE", "MICROSOFT"])
async def cal(
    request: pytest.FixtureRequest,
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
) -> LinkedCalendar:
    """Alice's calendar, linked and synced once; every test using it runs for both providers."""
    return await linked_calendar(chronik, alice, db, request.param)
