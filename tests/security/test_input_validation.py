"""Emails, time zones and times are validated on every field that takes them.

Each case is one request with one bad value; the answer is a typed `VALIDATION` error naming
the field, and nothing changed (no contact, meeting, domain or calendar event was made).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.conftest import TestUser
from tests.support.linking import sandbox_control
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar

START = (datetime.now(UTC) + timedelta(days=6)).replace(hour=9, minute=0, second=0, microsecond=0)
END = START + timedelta(hours=1)
NAIVE = START.replace(tzinfo=None).isoformat()

SCHEDULE = """mutation($input: ScheduleMeetingInput!) { scheduleMeeting(input: $input) { id } }"""
UPDATE_MEETING = """mutation($id: ID!, $input: UpdateMeetingInput!) {
  updateMeeting(id: $id, input: $input) { id } }"""
CREATE_CONTACT = """mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"""
UPDATE_CONTACT = """mutation($id: ID!, $input: UpdateContactInput!) {
  updateContact(id: $id, input: $input) { id } }"""
ADD_DOMAIN = "mutation($d: String!) { addAccountDomain(domain: $d) { domains } }"
LINK = "mutation($h: String) { startCalendarLink(provider: GOOGLE, loginHint: $h) { __typename } }"
FREE_BUSY = "query($s: DateTime!, $e: DateTime!) { freeBusy(start: $s, end: $e) { start } }"
MEETINGS = "query($f: MeetingFilter) { meetings(filter: $f, first: 5) { totalCount } }"


def meeting(**changes: Any) -> dict[str, Any]:
    return {
        "title": "Review",
        "startsAt": START.isoformat(),
        "endsAt": END.isoformat(),
        "timeZone": "Europe/Berlin",
        "attendees": [{"email": "guest@partner.test"}],
        "sendInvitations": False,
        **changes,
    }


async def rows(db: asyncpg.Connection) -> dict[str, int]:
    counts = {}
    for table in ("contacts", "meetings", "account_domains"):
        counts[table] = int(await db.fetchval(f"SELECT count(*) FROM {table}"))
    return counts


async def test_bad_emails_zones_and_times_are_validation_errors_on_every_field(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    contact = await cal.contact("carla@client.test")
    existing = (await chronik.graphql(SCHEDULE, {"input": meeting()}, token=alice.token)).ok()[
        "scheduleMeeting"
    ]["id"]
    events_before = await sandbox_control(chronik, "GOOGLE", "GET", "invitations")
    before = await rows(db)

    bad_emails = ("not-an-address", "carla@", "@client.test", "a b@client.test", "x@-bad-.test")
    cases: list[tuple[str, dict[str, Any], str]] = []
    for email in bad_emails:
        cases += [
            (CREATE_CONTACT, {"input": {"email": email}}, "email"),
            (
                CREATE_CONTACT,
                {"input": {"email": "ok@client.test", "extraEmails": [email]}},
                "extraEmails",
            ),
            (UPDATE_CONTACT, {"id": contact, "input": {"email": email}}, "email"),
            (SCHEDULE, {"input": meeting(attendees=[{"email": email}])}, "attendees"),
            (
                UPDATE_MEETING,
                {"id": existing, "input": {"attendees": [{"email": email}]}},
                "attendees",
            ),
            (LINK, {"h": email}, "loginHint"),
        ]
    cases += [
        (ADD_DOMAIN, {"d": "not a domain"}, "domain"),
        (ADD_DOMAIN, {"d": "-bad-.test"}, "domain"),
    ]
    for zone in ("Mars/Olympus_Mons", "Europe/Berlinn", "../../etc/passwd", ""):
        cases += [
            (SCHEDULE, {"input": meeting(timeZone=zone)}, "timeZone"),
            (UPDATE_MEETING, {"id": existing, "input": {"timeZone": zone}}, "timeZone"),
        ]
    before_start = (START - timedelta(minutes=1)).isoformat()
    cases += [
        (SCHEDULE, {"input": meeting(endsAt=before_start)}, "endsAt"),
        (SCHEDULE, {"input": meeting(endsAt=START.isoformat())}, "endsAt"),  # zero length
        (UPDATE_MEETING, {"id": existing, "input": {"endsAt": before_start}}, "endsAt"),
        (FREE_BUSY, {"s": END.isoformat(), "e": START.isoformat()}, "end"),
        # Naive times: an instant needs an offset (a meeting's times are read in its zone).
        (FREE_BUSY, {"s": NAIVE, "e": END.isoformat()}, "start"),
        (MEETINGS, {"f": {"startsFrom": NAIVE}}, "startsFrom"),
        (MEETINGS, {"f": {"startsBefore": NAIVE}}, "startsBefore"),
    ]

    wrong = []
    for query, variables, field in cases:
        result = await chronik.graphql(query, variables, token=alice.token)
        codes = result.error_codes
        fields = [e.get("extensions", {}).get("field") for e in result.errors]
        if codes != ["VALIDATION"] or fields != [field]:
            wrong.append((query.split("(")[0][:40], variables, result.errors))
    assert [w[:2] for w in wrong] == [], wrong
    assert await rows(db) == before
    assert await sandbox_control(chronik, "GOOGLE", "GET", "invitations") == events_before


async def test_datetimes_the_graphql_layer_cannot_read_are_refused_before_anything_runs(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    await linked_calendar(chronik, alice, db, "GOOGLE")
    for value in ("tomorrow", "2026-02-30T10:00:00Z", "2026-01-01T25:00:00Z", "", "1e9"):
        result = await chronik.graphql(
            FREE_BUSY, {"s": value, "e": END.isoformat()}, token=alice.token
        )
        assert result.error_codes == ["GRAPHQL_VALIDATION_FAILED"], (value, result.errors)
        inline = await chronik.graphql(
            f'{{ freeBusy(start: "{value}", end: "{END.isoformat()}") {{ start }} }}',
            token=alice.token,
        )
        assert inline.error_codes == ["GRAPHQL_VALIDATION_FAILED"], (value, inline.errors)
    assert await db.fetchval("SELECT count(*) FROM meetings") == 0


# Found by the long schemathesis run: a NUL character, which PostgreSQL text cannot hold,
# reached SQL and came back as an INTERNAL error.
async def test_a_nul_character_in_any_text_is_a_validation_error(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    contact = await cal.contact("carla@client.test")
    nul = "a\x00b"
    contacts = "query($s: String) { contacts(first: 5, search: $s) { totalCount } }"
    cases: list[tuple[str, dict[str, Any]]] = [
        (contacts, {"s": nul}),
        (CREATE_CONTACT, {"input": {"email": "dora@client.test", "firstName": nul}}),
        (CREATE_CONTACT, {"input": {"email": "dora@client.test", "companyName": nul}}),
        (CREATE_CONTACT, {"input": {"email": f"do{nul}ra@client.test"}}),
        (UPDATE_CONTACT, {"id": contact, "input": {"lastName": nul}}),
        (UPDATE_CONTACT, {"id": contact, "input": {"phone": nul}}),
        (SCHEDULE, {"input": meeting(title=nul)}),
        (SCHEDULE, {"input": meeting(description=nul)}),
        (SCHEDULE, {"input": meeting(location=nul)}),
        (SCHEDULE, {"input": meeting(idempotencyKey=nul)}),
        (SCHEDULE, {"input": meeting(timeZone=f"Europe/Ber{nul}lin")}),
        (ADD_DOMAIN, {"d": f"ex{nul}ample.test"}),
        (LINK, {"h": nul}),
    ]
    before = await rows(db)
    wrong = []
    for query, variables in cases:
        result = await chronik.graphql(query, variables, token=alice.token)
        if result.error_codes != ["VALIDATION"]:
            wrong.append((variables, result.error_codes))
    assert wrong == []
    assert await rows(db) == before


async def test_values_the_graphql_layer_refuses_name_the_argument_they_were_given_for(
    chronik: RunningChronik, alice: TestUser
) -> None:
    # An Int out of 32-bit range, inline or in a variable, and a bad DateTime inside a
    # variable: each refused before anything ran, naming the argument like our own checks do.
    inline = await chronik.graphql(
        "{ contacts(first: 1099511627776) { totalCount } }", token=alice.token
    )
    assert inline.error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert [e["extensions"].get("field") for e in inline.errors] == ["first"]
    variable = await chronik.graphql(
        "query($n: Int) { contacts(first: $n) { totalCount } }", {"n": 2**40}, token=alice.token
    )
    assert variable.error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert [e["extensions"].get("field") for e in variable.errors] == ["first"]
    dates = await chronik.graphql(
        FREE_BUSY, {"s": "tomorrow", "e": END.isoformat()}, token=alice.token
    )
    assert [e["extensions"].get("field") for e in dates.errors] == ["start"]
