"""Hostile values in every argument and in the raw body: never a 5xx, never INTERNAL, never
an ERROR line in the log; a hostile argument is refused as VALIDATION naming its field.

The arguments come from `schema.graphql` (tests/support/hostile.py): every argument of every
query and mutation, sent as variables, the way a client sends them. The raw bodies are the
same requests with bytes no JSON encoder would write. Hypothesis runs the profile of
tests/conftest.py: 20 examples per operation in CI, `--hypothesis-profile=long` for 500.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import hypothesis
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck

from tests.conftest import TestUser
from tests.support import hostile
from tests.support.fuzzing import problems_in, seeded
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar

# Health checks are about the generator's speed and size; the server's answers are the test.
FUZZ = hypothesis.settings(suppress_health_check=list(HealthCheck), database=None)


def errors_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The ERROR lines logged during the test (an internal error's traceback, an exception
    in the ASGI app), from any logger."""
    records = caplog.get_records("call")
    return [f"{r.name}: {r.getMessage()[:300]}" for r in records if r.levelno >= logging.ERROR]


@dataclass
class Tally:
    requests: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)


def judge(
    response: httpx.Response, expected_fields: set[str], sent: str, tally: Tally
) -> list[str]:
    """What is wrong with one answer; a request with hostile values must be refused as one
    VALIDATION error naming one of `expected_fields`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    problems = problems_in(response.status_code, body, response.text, sent)
    errors = body.get("errors") or [] if isinstance(body, dict) else []
    extensions = [e.get("extensions") or {} for e in errors]
    tally.outcomes.update([str(x.get("code")) for x in extensions] or ["data"])
    if expected_fields:
        refused = [(x.get("code"), x.get("field")) for x in extensions]
        if (
            len(refused) != 1
            or refused[0][0] != "VALIDATION"
            or refused[0][1] not in expected_fields
        ):
            problems.append(f"expected VALIDATION naming one of {expected_fields}: {errors}")
    return problems


def as_json(query: str, variables: dict[str, Any]) -> bytes:
    """The request body; the stdlib escapes a lone surrogate as `\\ud800`, where the
    clients' encoders refuse to send one."""
    return json.dumps({"query": query, "variables": variables}).encode()


def fuzz_operations(url: str, token: str, ids: list[str], tally: Tally) -> None:
    """Every operation of the SDL with generated arguments (blocking: runs in a thread)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers) as http:
        for operation in hostile.operations():
            fuzz_operation(http, operation, ids, tally)


def fuzz_operation(
    http: httpx.Client, operation: hostile.Operation, ids: list[str], tally: Tally
) -> None:
    @FUZZ
    @hypothesis.given(variables=hostile.arguments(operation, ids))
    def one(variables: dict[str, Any]) -> None:
        response = http.post("/graphql", content=as_json(operation.document, variables))
        tally.requests += 1
        expected = hostile.refused_fields(operation, variables)
        sent = json.dumps(variables)
        for problem in judge(response, expected, sent, tally):
            tally.findings.append(f"{operation.label} {sent[:300]}: {problem}")

    one()


async def test_every_argument_of_every_operation_refuses_hostile_values_by_name(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = await seeded(chronik, alice, db)
    tally = Tally()
    await asyncio.to_thread(fuzz_operations, chronik.url, alice.token, ids, tally)

    print(f"\nhostile arguments: {tally.requests} requests, {dict(tally.outcomes.most_common())}")
    assert tally.findings == []
    assert errors_of(caplog) == []
    # The run reached both the checks and the resolvers behind them.
    operations = len(hostile.operations())
    assert operations >= 15
    assert tally.requests >= operations * 5
    assert tally.outcomes["VALIDATION"] >= tally.requests // 10
    assert tally.outcomes["data"] + tally.outcomes["NOT_FOUND"] >= tally.requests // 20
    assert (await chronik.graphql("{ me { email } }", token=alice.token)).ok()


# --- raw bodies -------------------------------------------------------------------------------

SEARCH = "query($s: String) { contacts(first: 5, search: $s) { totalCount } }"
CREATE = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"

# Byte sequences no JSON encoder writes, or writes only escaped.
NASTY_BYTES = st.one_of(
    st.sampled_from(
        [
            b"\xff",  # never in UTF-8
            b"\xc0\x80",  # an overlong NUL
            b"\xed\xa0\x80",  # a surrogate encoded as UTF-8 (CESU)
            b"\xe2\x82",  # a truncated sequence
            b"\xf4\x90\x80\x80",  # past U+10FFFF
            b"\\ud800",
            b"\\udfff\\ud800",
            b"\\u0000",
            b"\x00",
            b"\\",
            b'"',
            b"9" * 5000,  # an integer too long for int()
            b"[" * 50_000,
        ]
    ),
    st.binary(min_size=1, max_size=12),
)
# A valid body with one place where the nasty bytes go.
TEMPLATES = [
    b'{"query": "' + SEARCH.encode() + b'", "variables": {"s": "a%sb"}}',
    b'{"query": "' + SEARCH.encode() + b'", "variables": {"s": %s}}',
    b'{"query": "' + CREATE.encode() + b'", "variables": {"i": {"email": "x@client.test", '
    b'"firstName": "%s"}}}',
    b'{"query": "' + CREATE.encode() + b'", "variables": {"i": {"email": "x@client.test", '
    b'"%s": 1}}}',
    b'{"query": "' + SEARCH.encode() + b'", "operationName": "%s"}',
    b'{"query": "{ contacts(search: \\"%s\\") { totalCount } }"}',
    b'{"query": "%s"}',
    b'{"%s": 1}',
    b"%s",
]


def fuzz_bodies(url: str, token: str, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers) as http:
        for template in TEMPLATES:
            fuzz_body(http, template, tally)


def fuzz_body(http: httpx.Client, template: bytes, tally: Tally) -> None:
    @FUZZ
    @hypothesis.given(nasty=NASTY_BYTES)
    def one(nasty: bytes) -> None:
        body = template.replace(b"%s", nasty)
        response = http.post("/graphql", content=body)
        tally.requests += 1
        tally.outcomes[str(response.status_code)] += 1
        problems = []
        if response.status_code == 400:
            if not response.text.strip():
                problems.append("400 without a reason")
            elif "Traceback" in response.text:
                problems.append(f"400 with a traceback: {response.text[:300]}")
        else:
            try:
                answer = response.json()
            except ValueError:
                answer = None
            problems = problems_in(response.status_code, answer, response.text, "SELECT")
        if problems:
            tally.findings.append(f"{body[:200]!r}: {problems}")

    one()


async def test_raw_bodies_with_bytes_no_encoder_writes_get_400_or_a_typed_answer(
    chronik: RunningChronik, alice: TestUser, caplog: pytest.LogCaptureFixture
) -> None:
    tally = Tally()
    await asyncio.to_thread(fuzz_bodies, chronik.url, alice.token, tally)

    print(f"\nraw bodies: {tally.requests} requests, {dict(tally.outcomes.most_common())}")
    assert tally.findings == []
    assert errors_of(caplog) == []
    assert tally.outcomes["400"] > 0 and tally.outcomes["200"] > 0


async def test_a_body_that_is_not_utf8_or_not_readable_json_is_400_saying_why(
    chronik: RunningChronik, alice: TestUser, caplog: pytest.LogCaptureFixture
) -> None:
    cases = {
        b'{"query": "' + SEARCH.encode() + b'", "variables": {"s": "\xff\xfe"}}': "UTF-8",
        b'{"query": "{ me { email } }", "variables": {"n": ' + b"1" * 5000 + b"}}": "number",
        b'{"query": "{ me { email } }", "variables": {"n": ' + b"[" * 100_000: "nested",
        b'{"query": "{ me { email } }"': "JSON",
        b'"{ me { email } }"': "object",
        b"null": "object",
    }
    headers = {"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"}
    for body, reason in cases.items():
        response = await chronik.http.post(f"{chronik.url}/graphql", content=body, headers=headers)
        assert response.status_code == 400, (body[:80], response.text)
        assert reason in response.text, response.text
    # An operationName that is not text, or that no UTF-8 can carry.
    for name in ("5", "{}", '"\\ud800"'):
        body = f'{{"query": "{{ me {{ email }} }}", "operationName": {name}}}'.encode()
        response = await chronik.http.post(f"{chronik.url}/graphql", content=body, headers=headers)
        assert response.status_code == 400, (name, response.text)
        assert "operationName" in response.text
    assert errors_of(caplog) == []


# --- the cases found, one by one -------------------------------------------------------------

SCHEDULE = "mutation($input: ScheduleMeetingInput!) { scheduleMeeting(input: $input) { id } }"
MEETINGS = "query($f: MeetingFilter, $a: String) { meetings(filter: $f, after: $a) { totalCount } }"
TIMELINE = "query($id: ID!, $a: String) { contact(id: $id) { timeline(after: $a) { totalCount } } }"
CONTACTS = "query($s: String, $a: String) { contacts(search: $s, after: $a) { totalCount } }"
FREE_BUSY = "query($s: DateTime!, $e: DateTime!) { freeBusy(start: $s, end: $e) { start } }"
NEW_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
YEAR_1 = "0001-01-01T00:00:00+05:00"
YEAR_9999 = "9999-12-31T23:00:00-05:00"


def cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def meeting(**changes: Any) -> dict[str, Any]:
    return {
        "title": "Review",
        "startsAt": "2030-03-04T10:00:00+01:00",
        "endsAt": "2030-03-04T11:00:00+01:00",
        "timeZone": "Europe/Berlin",
        "sendInvitations": False,
        **changes,
    }


async def test_each_hostile_value_found_is_refused_naming_its_field(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    contact = await cal.contact("carla@client.test")
    cases: list[tuple[str, dict[str, Any], str]] = [
        (CONTACTS, {"s": "\ud800"}, "search"),
        (CONTACTS, {"s": "s" * 10_000}, "search"),
        (NEW_CONTACT, {"i": {"email": "dora@client.test", "firstName": "\ud800"}}, "firstName"),
        (
            NEW_CONTACT,
            {"i": {"email": "dora@client.test", "extraEmails": ["\udc00"]}},
            "extraEmails",
        ),
        (SCHEDULE, {"input": meeting(attendees=[{"email": "a\x00@client.test"}])}, "attendees"),
        (CONTACTS, {"a": cursor(["a\x00", 1])}, "after"),
        (CONTACTS, {"a": cursor(["a", 2**63])}, "after"),
        (CONTACTS, {"a": cursor(["a", True])}, "after"),
        (MEETINGS, {"a": cursor(["2030-01-01T00:00:00+00:00", 2**63])}, "after"),
        (MEETINGS, {"a": cursor([YEAR_1, 1])}, "after"),
        (TIMELINE, {"id": contact, "a": cursor([YEAR_9999, 1])}, "after"),
        (SCHEDULE, {"input": meeting(startsAt=YEAR_1)}, "startsAt"),
        (SCHEDULE, {"input": meeting(endsAt=YEAR_9999)}, "endsAt"),
        (SCHEDULE, {"input": meeting(startsAt="2030-03-04T10:00:00+23:30")}, "startsAt"),
        (MEETINGS, {"f": {"startsFrom": YEAR_1}}, "startsFrom"),
        (MEETINGS, {"f": {"startsBefore": YEAR_9999}}, "startsBefore"),
        (FREE_BUSY, {"s": YEAR_1, "e": "0001-01-02T00:00:00+05:00"}, "start"),
        (FREE_BUSY, {"s": "2030-01-01T00:00:00Z", "e": YEAR_9999}, "end"),
        (SCHEDULE, {"input": meeting(timeZone="A" * 10_000)}, "timeZone"),
        (SCHEDULE, {"input": meeting(timeZone="Europe/../Europe/Berlin")}, "timeZone"),
        # The same in the document itself, not in variables.
        (
            '{ meetings(filter: {startsFrom: "0001-01-01T00:00:00+05:00"}) { totalCount } }',
            {},
            "startsFrom",
        ),
        ('{ contacts(search: "a\\u0000") { totalCount } }', {}, "search"),
    ]
    before = (
        await db.fetchval("SELECT count(*) FROM contacts"),
        await db.fetchval("SELECT count(*) FROM meetings"),
    )
    headers = {"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"}
    wrong = []
    for query, variables, expected in cases:
        response = await chronik.http.post(
            f"{chronik.url}/graphql", content=as_json(query, variables), headers=headers
        )
        errors = response.json().get("errors") or []
        refused = [
            ((e.get("extensions") or {}).get("code"), e["extensions"].get("field")) for e in errors
        ]
        if refused != [("VALIDATION", expected)]:
            wrong.append((query[:40], str(variables)[:80], errors))
    assert wrong == []
    assert errors_of(caplog) == []
    after = (
        await db.fetchval("SELECT count(*) FROM contacts"),
        await db.fetchval("SELECT count(*) FROM meetings"),
    )
    assert after == before
    # A 10,000-character zone was once a path on disk: no log line carries it now.
    assert not any("A" * 100 in r.getMessage() for r in caplog.get_records("call"))
