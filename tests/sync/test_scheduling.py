"""Scheduling from Chronik through the linked calendar, against both sandboxes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.conftest import TestUser
from tests.support.linking import sandbox_control
from tests.support.server import RunningChronik
from tests.support.sync import LinkedCalendar, linked_calendar

START = (datetime.now(UTC) + timedelta(days=5)).replace(hour=13, minute=0, second=0, microsecond=0)
SCHEDULE = """
mutation($input: ScheduleMeetingInput!) {
  scheduleMeeting(input: $input) { id title source status startsAt endsAt timeZone
    attendees { email contact { id } } }
}"""
UPDATE = """
mutation($id: ID!, $input: UpdateMeetingInput!) {
  updateMeeting(id: $id, input: $input) { id title attendees { email } }
}"""


def meeting_input(contact: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Contract review",
        "startsAt": START.isoformat(),
        "endsAt": (START + timedelta(minutes=45)).isoformat(),
        "timeZone": "Europe/Berlin",
        "location": "Video call",
        "description": "Bring the numbers",
        "attendees": [{"contactId": contact}, {"email": "Guest@Partner.test"}],
        **extra,
    }


async def schedule(cal: LinkedCalendar, contact: str, **extra: Any) -> Any:
    return await cal.chronik.graphql(
        SCHEDULE, {"input": meeting_input(contact, **extra)}, token=cal.user.token
    )


async def mails(cal: LinkedCalendar) -> list[dict[str, Any]]:
    answer = await sandbox_control(cal.chronik, cal.provider, "GET", "invitations")
    return list(answer.get("invitations") or answer.get("value") or [])


async def events_titled(cal: LinkedCalendar, title: str) -> int:
    return int(await cal.db.fetchval("SELECT count(*) FROM meetings WHERE title = $1", title))


async def test_scheduled_meeting_is_in_the_calendar_invites_and_lands_on_the_timeline(
    cal: LinkedCalendar,
) -> None:
    carla = await cal.contact("carla@client.test", name="Carla")
    made = (await schedule(cal, carla)).ok()["scheduleMeeting"]
    assert made["source"] == "CRM" and made["timeZone"] == "Europe/Berlin"
    assert made["startsAt"].startswith(START.strftime("%Y-%m-%dT%H:%M"))
    assert {a["email"] for a in made["attendees"]} >= {"carla@client.test", "guest@partner.test"}
    invited = {m["to"] for m in await mails(cal) if m["kind"] == "invitation"}
    assert invited >= {"carla@client.test", "guest@partner.test"}
    assert [e["meeting"]["id"] for e in await cal.timeline(carla)] == [made["id"]]

    # Rule 10: the event comes back through the sync as the same meeting.
    await cal.sync()
    entries = await cal.timeline(carla)
    assert [(e["meeting"]["id"], e["meeting"]["source"]) for e in entries] == [(made["id"], "CRM")]
    assert await cal.db.fetchval("SELECT count(*) FROM meetings") == 1


async def test_without_invitations_nobody_is_mailed(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test")
    result = await schedule(cal, carla, sendInvitations=False)
    if cal.provider == "MICROSOFT":
        # Graph notifies attendees of every organizer change: refused up front, typed.
        assert result.error_codes == ["VALIDATION"]
        assert result.errors[0]["extensions"]["field"] == "sendInvitations"
        assert await cal.db.fetchval("SELECT count(*) FROM meetings") == 0
        assert await mails(cal) == []
        return
    assert [m for m in await mails(cal) if m["kind"] == "invitation"] == []


async def test_adding_an_attendee_reaches_the_calendar_event(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test")
    dan = await cal.contact("dan@other.test")
    made = (await schedule(cal, carla)).ok()["scheduleMeeting"]
    updated = await cal.chronik.graphql(
        UPDATE,
        {
            "id": made["id"],
            "input": {
                "title": "Contract review (with Dan)",
                "attendees": [
                    {"contactId": carla},
                    {"contactId": dan},
                    {"email": "guest@partner.test"},
                ],
            },
        },
        token=cal.user.token,
    )
    assert "dan@other.test" in {a["email"] for a in updated.ok()["updateMeeting"]["attendees"]}
    assert "dan@other.test" in {m["to"] for m in await mails(cal) if m["kind"] == "invitation"}
    assert await cal.titles(dan) == ["Contract review (with Dan)"]
    await cal.sync()  # the provider's version agrees
    assert await cal.titles(dan) == ["Contract review (with Dan)"]
    assert await cal.titles(carla) == ["Contract review (with Dan)"]


async def test_cancel_removes_from_timelines_and_cancels_the_event(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test")
    made = (await schedule(cal, carla)).ok()["scheduleMeeting"]
    cancelled = await cal.chronik.graphql(
        "mutation($id: ID!) { cancelMeeting(id: $id) { status } }",
        {"id": made["id"]},
        token=cal.user.token,
    )
    assert cancelled.ok()["cancelMeeting"]["status"] == "CANCELLED"
    assert await cal.titles(carla) == []
    assert "carla@client.test" in {m["to"] for m in await mails(cal) if m["kind"] == "cancellation"}
    await cal.sync()
    assert await cal.titles(carla) == []


async def test_delete_keeps_the_calendar_event_unless_asked(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test")
    kept = (await schedule(cal, carla, title="Kept in calendar")).ok()["scheduleMeeting"]
    gone = (await schedule(cal, carla, title="Gone everywhere")).ok()["scheduleMeeting"]
    delete = (
        "mutation($id: ID!, $also: Boolean!) { deleteMeeting(id: $id, "
        "alsoDeleteCalendarEvent: $also) { deletedMeetingId } }"
    )
    for meeting, also in ((kept, False), (gone, True)):
        (
            await cal.chronik.graphql(
                delete, {"id": meeting["id"], "also": also}, token=cal.user.token
            )
        ).ok()
    assert await cal.titles(carla) == []
    lookup = await cal.chronik.graphql(
        "query($id: ID!) { meeting(id: $id) { id } }", {"id": kept["id"]}, token=cal.user.token
    )
    assert lookup.error_codes == ["NOT_FOUND"]
    # The sync does not bring the deleted meeting back, though its event is still there.
    await cal.calendar.update(kept_id := await _provider_id(cal, kept["id"]), title="Edited")
    assert kept_id
    await cal.sync()
    assert await cal.titles(carla) == []
    assert "cancellation" not in {
        m["kind"] for m in await mails(cal) if m.get("eventId") == kept_id
    }


async def _provider_id(cal: LinkedCalendar, meeting_gid: str) -> str:
    from schema.ids import decode_id

    return str(
        await cal.db.fetchval(
            "SELECT provider_event_id FROM meetings WHERE id = $1",
            decode_id("Meeting", meeting_gid),
        )
    )


async def test_a_503_on_create_is_retried_into_exactly_one_event(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test")
    await sandbox_control(
        cal.chronik,
        cal.provider,
        "POST",
        "faults",
        {
            "kind": "server_error",
            "status": 503,
            "nextN": 1,
            "method": "POST",
            "retryAfter": 0,
        },
    )
    made = (await schedule(cal, carla)).ok()["scheduleMeeting"]
    await cal.sync()
    assert await events_titled(cal, "Contract review") == 1
    invitations = [
        m for m in await mails(cal) if m["kind"] == "invitation" and m["to"] == "carla@client.test"
    ]
    assert len(invitations) == 1
    assert made["title"] == "Contract review"


async def test_a_repeated_idempotency_key_yields_one_event(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test")
    first = (await schedule(cal, carla, idempotencyKey="req-42")).ok()["scheduleMeeting"]
    second = (await schedule(cal, carla, idempotencyKey="req-42")).ok()["scheduleMeeting"]
    assert first["id"] == second["id"]
    await cal.sync()
    assert await events_titled(cal, "Contract review") == 1
    assert len([m for m in await mails(cal) if m["to"] == "carla@client.test"]) == 1


async def test_a_create_that_finally_fails_leaves_nothing(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test")
    await sandbox_control(
        cal.chronik,
        cal.provider,
        "POST",
        "faults",
        {
            "kind": "server_error",
            "status": 503,
            "method": "POST",
            "retryAfter": 0,
        },
    )
    result = await schedule(cal, carla)
    assert result.error_codes == ["PROVIDER_UNAVAILABLE"]
    assert "Nothing was changed" in result.errors[0]["message"]
    assert await cal.db.fetchval("SELECT count(*) FROM meetings") == 0
    assert await cal.titles(carla) == []


async def test_bad_input_is_typed_and_changes_nothing(cal: LinkedCalendar, bob: TestUser) -> None:
    carla = await cal.contact("carla@client.test")
    end_before = await schedule(cal, carla, endsAt=(START - timedelta(hours=1)).isoformat())
    assert end_before.error_codes == ["VALIDATION"]
    bad_zone = await schedule(cal, carla, timeZone="Mars/Olympus_Mons")
    assert bad_zone.error_codes == ["VALIDATION"]
    foreign = await cal.chronik.graphql(
        'mutation { createContact(input: {email: "x@bob.test"}) { id } }', token=bob.token
    )
    bobs_contact = foreign.ok()["createContact"]["id"]
    other_account = await schedule(cal, bobs_contact)
    assert other_account.error_codes == ["NOT_FOUND"]
    assert await cal.db.fetchval("SELECT count(*) FROM meetings") == 0
    assert await mails(cal) == []


async def test_without_a_usable_link_scheduling_is_a_precondition(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    contact = (
        await chronik.graphql(
            'mutation { createContact(input: {email: "c@client.test"}) { id } }', token=alice.token
        )
    ).ok()["createContact"]["id"]
    none = await chronik.graphql(SCHEDULE, {"input": meeting_input(contact)}, token=alice.token)
    assert none.error_codes == ["PRECONDITION_FAILED"]
    assert "link" in none.errors[0]["message"].lower()
    await linked_calendar(chronik, alice, db, "GOOGLE")
    await db.execute("UPDATE calendar_connections SET status = 'needs_reauth'")
    stale = await chronik.graphql(SCHEDULE, {"input": meeting_input(contact)}, token=alice.token)
    assert stale.error_codes == ["PRECONDITION_FAILED"]


async def test_free_busy_shows_scheduled_meetings(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test")
    (await schedule(cal, carla)).ok()
    busy = await cal.chronik.graphql(
        "query($s: DateTime!, $e: DateTime!) { freeBusy(start: $s, end: $e) { start end } }",
        {
            "s": (START - timedelta(hours=2)).isoformat(),
            "e": (START + timedelta(hours=3)).isoformat(),
        },
        token=cal.user.token,
    )
    blocks = busy.ok()["freeBusy"]
    assert len(blocks) == 1
    assert datetime.fromisoformat(blocks[0]["start"]) == START
    assert datetime.fromisoformat(blocks[0]["end"]) == START + timedelta(minutes=45)
