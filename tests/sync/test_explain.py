"""`explainEvent`: why an event of the caller's calendar is, or is not, on contact timelines.

Every reason code, against both sandboxes: events are made through the sandboxes' control APIs,
named by the link a person copies from the provider (htmlLink / webLink, read through the
provider's own API) or by the provider id, and explained through the GraphQL API.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.conftest import TEST_SECRET_KEY, TestUser, make_user
from tests.support.calendar import GoogleCalendar, OutlookCalendar
from tests.support.linking import sandbox_control, sandbox_url, sandbox_user
from tests.support.server import RunningChronik
from tests.support.sync import LinkedCalendar, linked_calendar

NEXT_WEEK = (datetime.now(UTC) + timedelta(days=7)).replace(
    hour=10, minute=0, second=0, microsecond=0
)
EXPLAIN = """
query($event: String, $meetingId: ID) {
  explainEvent(event: $event, meetingId: $meetingId) {
    reason sentence onTimeline unmatchedAddresses lastError providerEventId title
    contacts { id email name }
    series { reason sentence contacts { id } }
  }
}"""


async def explain(cal: LinkedCalendar, event: str, *, token: str | None = None) -> Any:
    result = await cal.chronik.graphql(EXPLAIN, {"event": event}, token=token or cal.user.token)
    return result.ok()["explainEvent"]


async def explain_error(chronik: RunningChronik, token: str, **variables: str) -> dict[str, Any]:
    result = await chronik.graphql(EXPLAIN, variables, token=token)
    assert result.status == 200 and result.data is None, result.body
    [error] = result.errors
    return dict(error["extensions"])


async def provider_get(cal: LinkedCalendar, path: str, **params: str) -> Any:
    """GET on the provider's own API as the calendar owner (what Google Calendar or Outlook
    on the web shows the person)."""
    base = sandbox_url(cal.chronik, cal.provider)
    minted = await sandbox_control(
        cal.chronik, cal.provider, "POST", f"users/{cal.user.email}/token", {}
    )
    api = f"{base}/calendar/v3/calendars/primary" if cal.provider == "GOOGLE" else f"{base}/v1.0/me"
    response = await cal.chronik.http.get(
        f"{api}/{path}",
        params=params,
        headers={"Authorization": f"Bearer {minted['access_token']}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def link_of(cal: LinkedCalendar, event: dict[str, Any]) -> str:
    return str(event["htmlLink"] if cal.provider == "GOOGLE" else event["webLink"])


async def link(cal: LinkedCalendar, event_id: str) -> str:
    """The event link a person copies: Google's htmlLink, Outlook's webLink."""
    return link_of(cal, await provider_get(cal, f"events/{event_id}"))


async def occurrence_link(cal: LinkedCalendar, series_id: str, index: int) -> str:
    """The link of the series' occurrence number `index` (0: the first)."""
    if cal.provider == "GOOGLE":
        instances = (await provider_get(cal, f"events/{series_id}/instances"))["items"]
    else:
        window = {
            "startDateTime": (NEXT_WEEK - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endDateTime": (NEXT_WEEK + timedelta(weeks=8)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        instances = (await provider_get(cal, f"events/{series_id}/instances", **window))["value"]
    return link_of(cal, instances[index])


async def pause_push(cal: LinkedCalendar) -> None:
    """Changes stop reaching Chronik by push (polling is minutes away): they stay unsynced."""
    if cal.provider == "GOOGLE":
        await sandbox_control(cal.chronik, "GOOGLE", "POST", "push", {"drop": 1000})
    else:
        await sandbox_control(cal.chronik, "MICROSOFT", "POST", "notifications/hold", {})


async def test_each_rule_is_named_for_the_events_one_sync_decided(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test", name="Carla")
    colleague = await make_user(cal.db, "Acme", "max@elsewhere.test")
    kickoff = await cal.calendar.create(
        title="Kickoff", start=NEXT_WEEK, guests=["carla@client.test", "nobody@else.test"]
    )
    strangers = await cal.calendar.create(
        title="Strangers", start=NEXT_WEEK, guests=["nobody@else.test", "bob@acme.test"]
    )
    standup = await cal.calendar.create(
        title="Standup",
        start=NEXT_WEEK,
        guests=["bob@acme.test", colleague.email, "room-1@resource.calendar.google.com"],
    )
    secret = await cal.calendar.create(
        title="Secret", start=NEXT_WEEK, guests=["carla@client.test"]
    )
    await cal.calendar.make_private(secret)
    weekly = await cal.calendar.create(
        title="Weekly", start=NEXT_WEEK, guests=["carla@client.test"], weekly=4
    )
    await cal.calendar.move_occurrence(
        weekly, NEXT_WEEK + timedelta(weeks=1), NEXT_WEEK + timedelta(weeks=1, hours=2)
    )
    await cal.sync()

    # By the link a person copies, or by the provider's id.
    for named_by in (await link(cal, kickoff), kickoff):
        answer = await explain(cal, named_by)
        assert answer["reason"] == "ON_TIMELINE"
        assert [c["id"] for c in answer["contacts"]] == [carla]
        assert answer["onTimeline"] is True and answer["providerEventId"] == kickoff
        assert answer["sentence"] == "“Kickoff” is on the timeline of Carla."
        assert answer["unmatchedAddresses"] == ["nobody@else.test"]

    answer = await explain(cal, await link(cal, strangers))
    assert answer["reason"] == "NO_CONTACT_GUEST"
    assert answer["unmatchedAddresses"] == ["nobody@else.test"]  # the colleague matched
    assert answer["contacts"] == [] and answer["onTimeline"] is False
    assert "nobody@else.test matches no contact" in answer["sentence"]

    answer = await explain(cal, standup)
    assert answer["reason"] == "ONLY_COLLEAGUES" and answer["unmatchedAddresses"] == []
    assert "only colleagues" in answer["sentence"]

    answer = await explain(cal, await link(cal, secret))
    assert answer["reason"] == "PRIVATE" and answer["contacts"] == []
    assert answer["sentence"] == "“Secret” is private; Chronik does not log private events."

    # An unchanged occurrence is logged as its series; the moved one on its own.
    answer = await explain(cal, await occurrence_link(cal, weekly, 2))
    assert answer["reason"] == "OCCURRENCE_OF_SERIES"
    assert [c["id"] for c in answer["contacts"]] == [carla]
    assert answer["series"]["reason"] == "ON_TIMELINE"
    assert answer["sentence"].endswith("“Weekly” is on the timeline of Carla.")
    answer = await explain(cal, await occurrence_link(cal, weekly, 1))
    assert answer["reason"] == "ON_TIMELINE" and answer["series"] is None
    assert [c["id"] for c in answer["contacts"]] == [carla]

    # A meeting of a timeline, by its id (the page's "Why?").
    entries = await cal.timeline(carla)
    by_meeting = await cal.chronik.graphql(
        EXPLAIN, {"meetingId": entries[0]["meeting"]["id"]}, token=cal.user.token
    )
    assert by_meeting.ok()["explainEvent"]["reason"] == "ON_TIMELINE"


async def test_what_happened_after_logging_is_named(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test", name="Carla")
    deal = await cal.calendar.create(title="Deal", start=NEXT_WEEK, guests=["carla@client.test"])
    off = await cal.calendar.create(
        title="Off", start=NEXT_WEEK + timedelta(hours=2), guests=["carla@client.test"]
    )
    noise = await cal.calendar.create(
        title="Noise", start=NEXT_WEEK + timedelta(hours=4), guests=["carla@client.test"]
    )
    await cal.sync()
    await cal.calendar.make_private(deal)
    await cal.calendar.cancel(off)
    [noise_entry] = [e for e in await cal.timeline(carla) if e["meeting"]["title"] == "Noise"]
    removed = await cal.chronik.graphql(
        "mutation($id: ID!) { deleteMeeting(id: $id) { deletedMeetingId } }",
        {"id": noise_entry["meeting"]["id"]},
        token=cal.user.token,
    )
    removed.ok()
    await cal.sync()

    answer = await explain(cal, deal)
    assert answer["reason"] == "FROZEN" and answer["onTimeline"] is True
    assert [c["id"] for c in answer["contacts"]] == [carla]
    assert "stays on the timeline of Carla" in answer["sentence"]
    answer = await explain(cal, off)
    assert answer["reason"] == "CANCELLED" and answer["contacts"] == []
    assert answer["onTimeline"] is False
    answer = await explain(cal, noise)
    assert answer["reason"] == "REMOVED_IN_CHRONIK" and answer["contacts"] == []


async def test_a_change_not_synced_yet_says_where_it_will_be(cal: LinkedCalendar) -> None:
    carla = await cal.contact("carla@client.test", name="Carla")
    await pause_push(cal)
    event_id = await cal.calendar.create(
        title="Fresh", start=NEXT_WEEK, guests=["carla@client.test"]
    )
    answer = await explain(cal, await link(cal, event_id))
    assert answer["reason"] == "NOT_SYNCED_YET" and answer["onTimeline"] is False
    assert [c["id"] for c in answer["contacts"]] == [carla]
    assert "belongs on the timeline of Carla" in answer["sentence"]
    await cal.sync()
    assert (await explain(cal, event_id))["reason"] == "ON_TIMELINE"


async def test_a_failing_sync_is_named_with_its_last_error(
    chronik: RunningChronik, cal: LinkedCalendar
) -> None:
    await cal.contact("carla@client.test")
    feed = "events?maxResults" if cal.provider == "GOOGLE" else "calendarView/delta"
    await sandbox_control(
        chronik,
        cal.provider,
        "POST",
        "faults",
        {"kind": "server_error", "status": 503, "retryAfter": 0, "pathContains": feed},
    )
    await pause_push(cal)
    event_id = await cal.calendar.create(
        title="Stuck", start=NEXT_WEEK, guests=["carla@client.test"]
    )
    with pytest.raises(AssertionError, match="sync failed"):
        await cal.sync()
    answer = await explain(cal, event_id)
    assert answer["reason"] == "SYNC_FAILING" and answer["lastError"]
    assert answer["lastError"] in answer["sentence"]


@pytest.mark.parametrize("provider", ["GOOGLE", "MICROSOFT"])
async def test_an_event_created_before_linking_is_never_synced(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, provider: str
) -> None:
    await sandbox_user(chronik, provider, alice.email)
    driver = GoogleCalendar if provider == "GOOGLE" else OutlookCalendar
    early = driver(chronik.http, sandbox_url(chronik, provider), alice.email)
    before = await early.create(title="Old", start=NEXT_WEEK, guests=["carla@client.test"])
    cal = await linked_calendar(chronik, alice, db, provider)
    await cal.contact("carla@client.test")
    answer = await explain(cal, await link(cal, before))
    assert answer["reason"] == "CREATED_BEFORE_LINKING"
    assert "before your calendar was linked" in answer["sentence"]


# -- errors and isolation ---------------------------------------------------------------------


async def test_errors_name_what_went_wrong(chronik: RunningChronik, cal: LinkedCalendar) -> None:
    token = cal.user.token
    unknown = "abcdef0123456789" if cal.provider == "GOOGLE" else "AAMkAGUnknownEventId="
    assert (await explain_error(chronik, token, event=unknown))["code"] == "NOT_FOUND"
    # An id the provider could never have issued (Graph: 400 ErrorInvalidIdMalformed).
    assert (await explain_error(chronik, token, event="Zm9vYmFy"))["code"] == "NOT_FOUND"
    # Only the primary calendar is synced (rule 1), and only it is read.
    side = await cal.calendar.create(title="Side", start=NEXT_WEEK, guests=[], secondary=True)
    assert (await explain_error(chronik, token, event=side))["code"] == "NOT_FOUND"
    for not_a_link in (
        "https://example.com/calendar/event?eid=abc",
        "https://www.google.com/calendar/event?eid=%%%",
        "has spaces in it",
        "",
    ):
        error = await explain_error(chronik, token, event=not_a_link)
        assert (error["code"], error["field"]) == ("VALIDATION", "event"), not_a_link
    other_provider = (
        "https://outlook.office365.com/owa/?itemid=AAMkAGI2%3D&exvsurl=1&path=/calendar/item"
        if cal.provider == "GOOGLE"
        else "https://www.google.com/calendar/event?eid=YWJjZGVmMDEyMyBhQGIuYw"
    )
    error = await explain_error(chronik, token, event=other_provider)
    assert (error["code"], error["field"]) == ("VALIDATION", "event")

    event_id = await cal.calendar.create(title="Down", start=NEXT_WEEK, guests=[])
    await sandbox_control(
        chronik,
        cal.provider,
        "POST",
        "faults",
        {"kind": "server_error", "status": 503, "retryAfter": 0, "pathContains": event_id[:12]},
    )
    assert (await explain_error(chronik, token, event=event_id))["code"] == "PROVIDER_UNAVAILABLE"


async def test_without_a_linked_calendar_there_is_nothing_to_explain(
    chronik: RunningChronik, alice: TestUser
) -> None:
    error = await explain_error(chronik, alice.token, event="abcdef0123456789")
    assert error["code"] == "PRECONDITION_FAILED"


async def test_only_the_calendar_owner_can_explain_its_meetings(
    chronik: RunningChronik, cal: LinkedCalendar, bob: TestUser
) -> None:
    carla = await cal.contact("carla@client.test")
    event_id = await cal.calendar.create(
        title="Mine", start=NEXT_WEEK, guests=["carla@client.test"]
    )
    await cal.sync()
    [entry] = await cal.timeline(carla)
    meeting_id = entry["meeting"]["id"]
    # A colleague, even an admin of the same account, does not read Alice's calendar, with or
    # without a calendar of their own.
    colleague = await make_user(cal.db, "Acme", "zoe@acme.test")
    await cal.db.execute("UPDATE users SET is_admin = true WHERE id = $1", colleague.user_id)
    error = await explain_error(chronik, colleague.token, meetingId=meeting_id)
    assert error["code"] == "FORBIDDEN"
    await linked_calendar(chronik, colleague, cal.db, cal.provider)
    error = await explain_error(chronik, colleague.token, meetingId=meeting_id)
    assert error["code"] == "FORBIDDEN"
    assert (await explain_error(chronik, colleague.token, event=event_id))["code"] == "NOT_FOUND"
    # Another account does not even learn that the meeting exists.
    assert (await explain_error(chronik, bob.token, meetingId=meeting_id))["code"] == "NOT_FOUND"
    other = await linked_calendar(chronik, bob, cal.db, cal.provider)
    assert (await explain_error(chronik, other.user.token, event=event_id))["code"] == "NOT_FOUND"


async def test_chronik_explain_prints_the_same_answer(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection, tmp_path: Path
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    await cal.contact("carla@client.test", name="Carla")
    event_id = await cal.calendar.create(
        title="Kickoff", start=NEXT_WEEK, guests=["carla@client.test", "nobody@else.test"]
    )
    await cal.sync()
    event_link = await link(cal, event_id)
    answer = await explain(cal, event_link)

    settings = chronik.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONIK_")}
    env |= {
        "CHRONIK_ENV": "test",
        "CHRONIK_DATA_DIR": str(tmp_path),
        "CHRONIK_DATABASE_URL": str(settings.database_url),
        "CHRONIK_SECRET_KEY": TEST_SECRET_KEY,
        "CHRONIK_PUBLIC_URL": str(settings.public_url),
        "CHRONIK_GOOGLE_SANDBOX_URL": str(settings.provider("google").sandbox_url),
        "CHRONIK_MICROSOFT_SANDBOX_URL": str(settings.provider("microsoft").sandbox_url),
    }

    async def run(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.cli",
            "explain",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    code, out, err = await run("--user", "ALICE@acme.test", event_link)
    assert code == 0, err
    assert out.splitlines() == [
        "reason: ON_TIMELINE",
        answer["sentence"],
        "contact: Carla <carla@client.test>",
        "unmatched: nobody@else.test",
    ]
    code, out, err = await run("--user", alice.email, "https://example.com/not-an-event")
    assert code == 2 and "VALIDATION" in err and out == ""


async def test_an_explanation_costs_the_same_statements_for_one_guest_or_twenty(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    guests = [f"guest{i}@client.test" for i in range(20)]
    for guest in guests:
        await cal.contact(guest)
    one = await cal.calendar.create(title="One", start=NEXT_WEEK, guests=guests[:1])
    many = await cal.calendar.create(title="Many", start=NEXT_WEEK, guests=guests)
    await cal.sync()
    await explain(cal, one)  # the first read of the calendar may refresh its token
    counts = []
    for event_id, expected in ((one, 1), (many, 20)):
        chronik.statements.clear()
        answer = await explain(cal, event_id)
        assert answer["reason"] == "ON_TIMELINE" and len(answer["contacts"]) == expected
        counts.append(len(chronik.statements))
    # The caller, the connection, its tokens, the meeting with its entries, the addresses,
    # the contacts.
    assert counts[0] == counts[1] <= 6, chronik.statements
