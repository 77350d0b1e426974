"""An address listed twice among a meeting's guests (the same guest in two spellings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.sync import LinkedCalendar

SOON = (datetime.now(UTC) + timedelta(days=4)).replace(hour=10, minute=0, second=0, microsecond=0)


async def test_a_guest_listed_twice_is_logged_once_and_the_sync_goes_on(
    cal: LinkedCalendar,
) -> None:
    # Found by the four-worker churn run: Graph keeps both entries, Chronik stores addresses
    # lower-cased, and the connection failed on every retry with a unique violation.
    carla = await cal.contact("carla@client.test")
    await cal.calendar.create(
        title="Twice", start=SOON, guests=["carla@client.test", "Carla@Client.test"]
    )
    await cal.sync()
    await cal.calendar.create(title="After", start=SOON, guests=["carla@client.test"])
    state = await cal.sync()
    assert state["lastError"] is None
    timeline = await cal.timeline(carla)
    assert sorted(e["meeting"]["title"] for e in timeline) == ["After", "Twice"]
    twice = next(e["meeting"] for e in timeline if e["meeting"]["title"] == "Twice")
    guests = [a["email"] for a in twice["attendees"] if a["email"] != cal.user.email]
    assert guests == ["carla@client.test"]
