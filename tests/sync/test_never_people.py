"""Addresses that are never people: each provider's spec names its rooms and resources
(Google's `resource.calendar.google.com`, `group.calendar.google.com`), and
`CHRONIK_EXCLUDED_EMAIL_DOMAINS` adds the deployment's own, never replaces them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from app.settings import Settings
from tests.conftest import TestUser
from tests.support.server import RunningChronik, running_chronik
from tests.support.sync import LinkedCalendar, linked_calendar

NEXT_WEEK = (datetime.now(UTC) + timedelta(days=7)).replace(
    hour=10, minute=0, second=0, microsecond=0
)
ROOM = "room-1@resource.calendar.google.com"
SHARED_CALENDAR = "c_team@group.calendar.google.com"


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test settings, with `CHRONIK_EXCLUDED_EMAIL_DOMAINS` set to nothing."""
    monkeypatch.setenv("CHRONIK_EXCLUDED_EMAIL_DOMAINS", "")
    return _with_environment(settings)


def _with_environment(settings: Settings) -> Settings:
    """`settings` read again, so the environment's excluded domains count."""
    return Settings(
        env=settings.env,
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        public_url=settings.public_url,
        providers=settings.providers,
        graphql_budget_points=settings.graphql_budget_points,
    )


async def _auto_create_contacts(cal: LinkedCalendar) -> None:
    opted = await cal.chronik.graphql(
        "mutation { updateAccountSettings(autoCreateContacts: true) { autoCreateContacts } }",
        token=cal.user.token,
    )
    assert opted.ok()["updateAccountSettings"]["autoCreateContacts"] is True


async def _contacts(cal: LinkedCalendar) -> dict[str, str]:
    """The account's contacts: email → id."""
    listed = await cal.chronik.graphql(
        "{ contacts { edges { node { id email } } } }", token=cal.user.token
    )
    return {e["node"]["email"]: e["node"]["id"] for e in listed.ok()["contacts"]["edges"]}


async def test_a_google_room_is_nobody_with_the_setting_empty(
    settings: Settings, chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    assert settings.excluded_email_domains == []
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    shared = await cal.contact(SHARED_CALENDAR)  # made by hand: still never logged
    await _auto_create_contacts(cal)
    await cal.calendar.create(
        title="Pitch",
        start=NEXT_WEEK,
        guests=[ROOM, SHARED_CALENDAR, "new.person@prospect.test"],
    )
    await cal.sync()
    # The room became no contact; the new guest did, and has the meeting.
    contacts = await _contacts(cal)
    assert sorted(contacts) == [SHARED_CALENDAR, "new.person@prospect.test"]
    assert await cal.titles(contacts["new.person@prospect.test"]) == ["Pitch"]
    assert await cal.titles(shared) == []


async def test_the_setting_adds_to_the_providers_rooms(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    alice: TestUser,
    db: asyncpg.Connection,
) -> None:
    monkeypatch.setenv("CHRONIK_EXCLUDED_EMAIL_DOMAINS", "Mailer.test")
    configured = _with_environment(settings)
    assert configured.excluded_email_domains == ["Mailer.test"]
    async with running_chronik(configured) as chronik:
        cal = await linked_calendar(chronik, alice, db, "GOOGLE")
        await _auto_create_contacts(cal)
        await cal.calendar.create(
            title="Kick-off",
            start=NEXT_WEEK,
            guests=[ROOM, "news@mailer.test", "new.person@prospect.test"],
        )
        await cal.sync()
        assert sorted(await _contacts(cal)) == ["new.person@prospect.test"]
