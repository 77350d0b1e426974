"""The product's ten rules, end to end: sandbox calendar → provider HTTP → engine → GraphQL.

Every test runs against both sandboxes (Google Calendar v3 and Microsoft Graph wire formats)
through the real clients, the in-process worker and the timeline query a frontend uses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.conftest import TestUser, make_user
from tests.support.server import RunningChronik
from tests.support.sync import LinkedCalendar, linked_calendar

NEXT_WEEK = (datetime.now(UTC) + timedelta(days=7)).replace(
    hour=10, minute=0, second=0, microsecond=0
)


async def test_rule_1_only_the_primary_calendar_is_synced(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test")
    await cal.calendar.create(
        title="Side", start=NEXT_WEEK, guests=["carla@client.test"], secondary=True
    )
    await cal.calendar.create(title="Main", start=NEXT_WEEK, guests=["carla@client.test"])
    await cal.sync()
    assert await cal.titles(carla) == ["Main"]


async def test_rule_2_contact_guests_and_inviting_contacts_are_logged(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test", "carla@home.test")
    dan = await cal.contact("dan@other.test")
    await cal.calendar.create(title="By primary", start=NEXT_WEEK, guests=["CARLA@Client.TEST"])
    await cal.calendar.create(
        title="By extra", start=NEXT_WEEK + timedelta(hours=2), guests=["carla@home.test"]
    )
    await cal.calendar.create(
        title="Dan invites",
        start=NEXT_WEEK + timedelta(days=1),
        guests=[cal.user.email],
        organizer="dan@other.test",
    )
    await cal.sync()
    assert await cal.titles(carla) == ["By extra", "By primary"]
    assert await cal.titles(dan) == ["Dan invites"]
    entry = (await cal.timeline(dan))[0]
    assert entry["meeting"]["source"] == cal.provider


async def test_rule_3_guests_who_are_not_contacts_create_nothing(cal: LinkedCalendar) -> None:
    await cal.calendar.create(
        title="Strangers", start=NEXT_WEEK, guests=["nobody@else.test", "other@else.test"]
    )
    await cal.sync()
    assert await cal.db.fetchval("SELECT count(*) FROM contacts") == 0
    assert await cal.db.fetchval("SELECT count(*) FROM timeline_entries") == 0


async def test_rule_3_opt_in_turns_unknown_guests_into_contacts(cal: LinkedCalendar) -> None:
    opted = await cal.chronik.graphql(
        "mutation { updateAccountSettings(autoCreateContacts: true) { autoCreateContacts } }",
        token=cal.user.token,
    )
    assert opted.ok()["updateAccountSettings"]["autoCreateContacts"] is True
    await cal.calendar.create(
        title="Intro", start=NEXT_WEEK, guests=["new.person@prospect.test", "bob@acme.test"]
    )
    await cal.sync()
    listed = await cal.chronik.graphql(
        "{ contacts { edges { node { id email } } } }", token=cal.user.token
    )
    contacts = [e["node"] for e in listed.ok()["contacts"]["edges"]]
    assert [c["email"] for c in contacts] == ["new.person@prospect.test"]  # no colleague
    assert await cal.titles(contacts[0]["id"]) == ["Intro"]


async def test_rule_4_members_of_the_account_are_never_logged(cal: LinkedCalendar) -> None:
    # Even when someone made contacts for them: colleagues, another user, a meeting room.
    bob = await cal.contact("bob@acme.test")
    max_user = await make_user(cal.db, "Acme", "max@elsewhere.test")
    maxc = await cal.contact(max_user.email)
    room = await cal.contact("room-1@resource.calendar.google.com")
    carla = await cal.contact("carla@client.test")
    await cal.calendar.create(
        title="Mixed",
        start=NEXT_WEEK,
        guests=[
            "bob@acme.test",
            max_user.email,
            "room-1@resource.calendar.google.com",
            "carla@client.test",
        ],
    )
    await cal.sync()
    assert await cal.titles(carla) == ["Mixed"]
    for member in (bob, maxc, room):
        assert await cal.titles(member) == []


@pytest.mark.parametrize("provider", ["GOOGLE", "MICROSOFT"])
async def test_rule_5_events_created_before_linking_are_not_synced(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, provider: str
) -> None:
    from tests.support.calendar import GoogleCalendar, OutlookCalendar
    from tests.support.linking import sandbox_url, sandbox_user

    await sandbox_user(chronik, provider, alice.email)
    driver = GoogleCalendar if provider == "GOOGLE" else OutlookCalendar
    early = driver(chronik.http, sandbox_url(chronik, provider), alice.email)
    before = await early.create(title="Before", start=NEXT_WEEK, guests=["carla@client.test"])
    cal = await linked_calendar(chronik, alice, db, provider)
    carla = await cal.contact("carla@client.test")
    await cal.calendar.create(title="After", start=NEXT_WEEK, guests=["carla@client.test"])
    # Editing an old event after linking does not make it new.
    await cal.calendar.update(before, title="Before, edited after linking")
    await cal.sync()
    assert await cal.titles(carla) == ["After"]


async def test_rule_6_series_logged_once_changed_occurrences_on_their_own(
    cal: LinkedCalendar,
) -> None:
    carla = await cal.contact("carla@client.test")
    series = await cal.calendar.create(
        title="Weekly", start=NEXT_WEEK, guests=["carla@client.test"], weekly=6
    )
    await cal.sync()
    entries = await cal.timeline(carla)
    assert [(e["meeting"]["title"], e["meeting"]["isRecurring"]) for e in entries] == [
        ("Weekly", True)
    ]
    assert entries[0]["meeting"]["startsAt"].startswith(NEXT_WEEK.strftime("%Y-%m-%dT%H:%M"))

    await cal.calendar.move_occurrence(
        series, NEXT_WEEK + timedelta(weeks=2), NEXT_WEEK + timedelta(weeks=2, hours=3)
    )
    await cal.calendar.cancel_occurrence(series, NEXT_WEEK + timedelta(weeks=3))
    await cal.sync()
    shown = sorted(
        (e["meeting"]["startsAt"][:16], e["meeting"]["status"]) for e in await cal.timeline(carla)
    )
    moved = (NEXT_WEEK + timedelta(weeks=2, hours=3)).strftime("%Y-%m-%dT%H:%M")
    cancelled = (NEXT_WEEK + timedelta(weeks=3)).strftime("%Y-%m-%dT%H:%M")
    assert shown == [
        (NEXT_WEEK.strftime("%Y-%m-%dT%H:%M"), "CONFIRMED"),
        (moved, "CONFIRMED"),
        (cancelled, "CANCELLED"),
    ]


def _minute(value: str | None) -> str | None:
    return value[:16] if value else None


async def test_rule_6_a_cancelled_week_shows_as_that_weeks_meeting_until_restored(
    cal: LinkedCalendar,
) -> None:
    """The article's example: someone cancels one week of a weekly meeting; that week's
    meeting appears, cancelled, on the timelines of the series' contacts — the series' own
    entry unchanged — and an organizer restoring it turns it back."""
    carla = await cal.contact("carla@client.test")
    dan = await cal.contact("dan@other.test")
    series = await cal.calendar.create(
        title="Weekly", start=NEXT_WEEK, guests=["carla@client.test", "dan@other.test"], weekly=6
    )
    await cal.sync()
    before = await cal.timeline(carla)
    week = NEXT_WEEK + timedelta(weeks=2)
    await cal.calendar.cancel_occurrence(series, week)
    await cal.sync()
    for contact in (carla, dan):
        entries = await cal.timeline(contact)
        assert len(entries) == 2
        series_entry = next(e for e in entries if e["meeting"]["id"] == before[0]["meeting"]["id"])
        assert series_entry == before[0]  # the series' own entry is untouched
        cancelled = next(e for e in entries if e is not series_entry)
        meeting = cancelled["meeting"]
        assert meeting["title"] == "Weekly"
        assert meeting["status"] == "CANCELLED"
        assert meeting["isRecurring"] is True
        assert _minute(meeting["originalStart"]) == week.strftime("%Y-%m-%dT%H:%M")
        assert _minute(meeting["startsAt"]) == week.strftime("%Y-%m-%dT%H:%M")
        assert meeting["cancelledAt"] is not None
        assert _minute(cancelled["occurredAt"]) == week.strftime("%Y-%m-%dT%H:%M")

    await cal.calendar.restore_occurrence(series, week)
    await cal.sync()
    statuses = sorted(e["meeting"]["status"] for e in await cal.timeline(carla))
    # Google keeps the restored instance as a changed occurrence (that week's meeting again);
    # in Outlook it is a plain occurrence again, which the series stands for.
    assert statuses == (["CONFIRMED", "CONFIRMED"] if cal.provider == "GOOGLE" else ["CONFIRMED"])
    for entry in await cal.timeline(carla):
        assert entry["meeting"]["cancelledAt"] is None
    after_restore = sorted(e["meeting"]["startsAt"] for e in await cal.timeline(carla))
    await cal.calendar.expire_cursor()  # a full resync agrees
    await cal.sync()
    assert sorted(e["meeting"]["startsAt"] for e in await cal.timeline(carla)) == after_restore


async def test_rule_6_a_cancelled_week_of_a_series_without_contacts_is_not_logged(
    cal: LinkedCalendar,
) -> None:
    carla = await cal.contact("carla@client.test")
    series = await cal.calendar.create(
        title="Team", start=NEXT_WEEK, guests=["bob@acme.test"], weekly=4
    )
    await cal.sync()
    await cal.calendar.cancel_occurrence(series, NEXT_WEEK + timedelta(weeks=1))
    await cal.sync()
    assert await cal.db.fetchval("SELECT count(*) FROM timeline_entries") == 0
    assert await cal.timeline(carla) == []


async def test_rule_7_private_events_are_skipped_and_turning_private_freezes(
    cal: LinkedCalendar,
) -> None:
    carla = await cal.contact("carla@client.test")
    secret = await cal.calendar.create(
        title="Secret", start=NEXT_WEEK, guests=["carla@client.test"]
    )
    await cal.calendar.make_private(secret)
    public = await cal.calendar.create(
        title="Public", start=NEXT_WEEK + timedelta(days=1), guests=["carla@client.test"]
    )
    await cal.sync()
    assert await cal.titles(carla) == ["Public"]

    await cal.calendar.make_private(public)
    await cal.sync()
    assert await cal.titles(carla) == ["Public"]  # kept
    await cal.calendar.update(public, title="Renamed while private")
    await cal.calendar.cancel(public)
    await cal.sync()
    assert await cal.titles(carla) == ["Public"]  # no longer synced


async def test_rule_7_a_series_turned_private_keeps_its_cancelled_week(
    cal: LinkedCalendar,
) -> None:
    """A weekly meeting with Carla loses one week (rule 6: that week shows, cancelled, on her
    timeline), then the series turns private: the series and its cancelled week are frozen
    together (rule 7). The week stays on her timeline as it was; a week cancelled after the
    freeze is not logged, and restoring the frozen week changes nothing, also after a full
    resync."""
    carla = await cal.contact("carla@client.test")
    series = await cal.calendar.create(
        title="Weekly", start=NEXT_WEEK, guests=["carla@client.test"], weekly=6
    )
    await cal.sync()
    week = NEXT_WEEK + timedelta(weeks=2)
    await cal.calendar.cancel_occurrence(series, week)
    await cal.sync()

    async def shown() -> list[tuple[str, str | None, str]]:
        return sorted(
            (e["meeting"]["title"], _minute(e["meeting"]["startsAt"]), e["meeting"]["status"])
            for e in await cal.timeline(carla)
        )

    logged = [
        ("Weekly", NEXT_WEEK.strftime("%Y-%m-%dT%H:%M"), "CONFIRMED"),
        ("Weekly", week.strftime("%Y-%m-%dT%H:%M"), "CANCELLED"),
    ]
    assert await shown() == logged

    await cal.calendar.make_private(series)
    await cal.sync()
    assert await shown() == logged  # frozen: the series and its cancelled week stay

    await cal.calendar.cancel_occurrence(series, NEXT_WEEK + timedelta(weeks=3))
    await cal.sync()
    assert await shown() == logged  # nothing new is logged
    await cal.calendar.restore_occurrence(series, week)
    await cal.sync()
    assert await shown() == logged  # the frozen week's later changes are not synced
    await cal.calendar.expire_cursor()  # a full resync agrees
    await cal.sync()
    assert await shown() == logged


async def test_rule_8_edits_guests_and_cancellations_reach_every_timeline(
    cal: LinkedCalendar,
) -> None:
    carla = await cal.contact("carla@client.test")
    dan = await cal.contact("dan@other.test")
    event = await cal.calendar.create(
        title="Kickoff", start=NEXT_WEEK, guests=["carla@client.test"]
    )
    await cal.sync()
    await cal.calendar.update(
        event,
        title="Kickoff (moved)",
        start=NEXT_WEEK + timedelta(days=1),
        guests=["dan@other.test"],
    )
    await cal.sync()
    assert await cal.titles(carla) == []
    assert await cal.titles(dan) == ["Kickoff (moved)"]
    await cal.calendar.update(event, guests=["dan@other.test", "carla@client.test"])
    await cal.sync()
    assert await cal.titles(carla) == ["Kickoff (moved)"]

    await cal.calendar.cancel(event)
    await cal.sync()
    assert await cal.titles(carla) == [] and await cal.titles(dan) == []

    deleted = await cal.calendar.create(title="Gone", start=NEXT_WEEK, guests=["dan@other.test"])
    await cal.sync()
    await cal.calendar.delete(deleted)
    await cal.sync()
    assert await cal.titles(dan) == []


async def test_rule_9_restore_moves_time_zones_and_all_day_keep_one_entry(
    cal: LinkedCalendar,
) -> None:
    carla = await cal.contact("carla@client.test")
    event = await cal.calendar.create(title="Review", start=NEXT_WEEK, guests=["carla@client.test"])
    all_day = await cal.calendar.create(
        title="Offsite", start=NEXT_WEEK, all_day=True, guests=["carla@client.test"]
    )
    await cal.sync()
    await cal.calendar.update(event, start=NEXT_WEEK + timedelta(days=2, hours=5))
    await cal.calendar.update(all_day, title="Offsite day")
    await cal.sync()
    entries = await cal.timeline(carla)
    assert sorted(e["meeting"]["title"] for e in entries) == ["Offsite day", "Review"]
    offsite = next(e for e in entries if e["meeting"]["title"] == "Offsite day")
    assert offsite["meeting"]["allDay"] is True
    count = "SELECT count(*) FROM timeline_entries"
    assert await cal.db.fetchval(count) == 2
    assert await cal.db.fetchval("SELECT count(*) FROM meetings") == 2


async def test_rule_6_an_outlook_cancelled_week_deleted_later_is_still_one_cancelled_week(
    cal: LinkedCalendar,
) -> None:
    """Outlook keeps a week the organizer cancelled as a "Canceled: …" item until the user
    deletes it; then only the series names it (cancelledOccurrences). One cancelled week on
    the timeline before and after, also after a full resync."""
    if cal.provider != "MICROSOFT":
        pytest.skip("an occurrence kept as a cancelled item is Outlook's")
    carla = await cal.contact("carla@client.test")
    series = await cal.calendar.create(
        title="Weekly", start=NEXT_WEEK, guests=["carla@client.test"], weekly=4
    )
    await cal.sync()
    week = NEXT_WEEK + timedelta(weeks=1)
    await cal.calendar._call(
        "PATCH",
        f"users/{cal.user.email}/events/{series}/occurrences",
        {"originalStart": week.strftime("%Y-%m-%dT%H:%M:%SZ"), "changes": {"isCancelled": True}},
    )
    await cal.sync()

    async def statuses() -> list[str]:
        return sorted(e["meeting"]["status"] for e in await cal.timeline(carla))

    assert await statuses() == ["CANCELLED", "CONFIRMED"]
    await cal.calendar.cancel_occurrence(series, week)  # the user deletes the cancelled item
    await cal.sync()
    assert await statuses() == ["CANCELLED", "CONFIRMED"]
    await cal.calendar.expire_cursor()
    await cal.sync()
    assert await statuses() == ["CANCELLED", "CONFIRMED"]
