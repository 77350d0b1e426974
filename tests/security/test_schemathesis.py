"""Hostile input, generated from the schema: a `schemathesis` GraphQL run against the live server.

Every query and mutation field is called with queries schemathesis builds from introspection,
both valid ones (positive mode: arguments of the right types, ids of the caller's own objects
among random ones, times near now and far away) and invalid ones (negative mode: arguments
of the wrong type, missing required ones). The caller is a real user with a linked calendar,
contacts and meetings, so generated queries reach the resolvers. Every answer must be a
GraphQL answer, never a 5xx; every error must carry one of the typed codes of
`resolvers/errors.py` (or be a request the GraphQL layer refused before execution) and no
stack trace or SQL.

The run takes its size from the Hypothesis profile (tests/conftest.py: 20 examples per
operation and mode in CI, 500 under `--hypothesis-profile=long`);
`CHRONIK_SCHEMATHESIS_EXAMPLES=200` sets it directly.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import hypothesis
import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from graphql import GraphQLError
from hypothesis import HealthCheck, Phase
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes
from schemathesis.specs.graphql.scalars import CUSTOM_SCALARS

from schema.masking import INTERNAL_MESSAGE, mask
from tests.conftest import TestUser
from tests.support.fuzzing import problems_in, seeded
from tests.support.server import RunningChronik


def examples() -> int:
    """Examples per operation and mode: the environment's choice, else the profile's."""
    chosen = os.environ.get("CHRONIK_SCHEMATHESIS_EXAMPLES")
    return int(chosen) if chosen else hypothesis.settings.default.max_examples


# A mutation that unlinks the calendar is generated last: the others should still find one.
LAST = ("Mutation.disconnectCalendar", "Mutation.uninstallCalendarIntegration")


@dataclass
class Finding:
    operation: str
    query: str
    problems: list[str]


@dataclass
class Run:
    url: str
    token: str
    requests: int = 0
    # How the answers came out: "data" (no error) or each error code, with counts.
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)


@contextmanager
def scalars(ids: list[str]) -> Iterator[None]:
    """Argument values for the run: real ids among random ones, times near and far."""
    near = st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat())
    instants = st.one_of(
        near,
        near.map(lambda s: s.removesuffix("+00:00")),  # naive
        st.datetimes().map(lambda d: d.isoformat()),  # year 1 to 9999
        # ... and with offsets: year 1 at +05:00 overflowed once converted to UTC.
        st.builds(
            lambda d, minutes: d.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
            st.datetimes(),
            st.integers(-(24 * 60 - 1), 24 * 60 - 1),
        ),
        st.text(max_size=30),
    )
    chosen = {
        "ID": st.one_of(st.sampled_from(ids), st.text(max_size=40)).map(nodes.String),
        "DateTime": instants.map(nodes.String),
    }
    saved = dict(CUSTOM_SCALARS)
    CUSTOM_SCALARS.update(chosen)
    try:
        yield
    finally:
        CUSTOM_SCALARS.clear()
        CUSTOM_SCALARS.update(saved)


def fuzz(run: Run) -> None:
    """The schemathesis run (blocking: it runs in a thread beside the server's event loop)."""
    headers = {"Authorization": f"Bearer {run.token}"}
    schema = schemathesis.graphql.from_url(f"{run.url}/graphql", headers=headers, timeout=30)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    operations.sort(key=lambda op: op.label in LAST)
    assert len(operations) >= 20, [op.label for op in operations]
    session = requests.Session()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz_operation(run, session, operation, mode)
            except hypothesis.errors.Unsatisfiable:
                pass  # no negative case exists for an operation without arguments


def fuzz_operation(run: Run, session: requests.Session, operation: Any, mode: Any) -> None:
    headers = {"Authorization": f"Bearer {run.token}"}

    @hypothesis.settings(
        max_examples=examples(),
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def one(case: Any) -> None:
        response = case.call(base_url=run.url, session=session, headers=headers)
        run.requests += 1
        try:
            body = response.json()
        except ValueError:
            body = None
        query = case.body.get("query", "") if isinstance(case.body, dict) else ""
        found = problems_in(response.status_code, body, response.text, query)
        if isinstance(body, dict):
            codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
            run.outcomes.update([str(c) for c in codes] or ["data"])
        if found:
            run.findings.append(Finding(operation.label, query, found))

    one()


@pytest.mark.filterwarnings("ignore")
async def test_generated_queries_get_typed_answers_and_never_a_5xx(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = await seeded(chronik, alice, db)
    run = Run(chronik.url, alice.token)
    with scalars(ids), caplog.at_level(logging.WARNING):
        await asyncio.to_thread(fuzz, run)

    print(f"\nschemathesis: {run.requests} requests, {examples()} examples per operation and mode")
    print(f"answers: {dict(run.outcomes.most_common())}")
    assert run.requests >= 100
    # The generated queries reach the resolvers: many are answered, many refused by them.
    assert run.outcomes["data"] >= run.requests // 10
    assert run.outcomes["VALIDATION"] + run.outcomes["NOT_FOUND"] >= run.requests // 20
    assert [f"{f.operation}: {f.problems}\n{f.query}" for f in run.findings] == []
    # Nothing a caller sent was a fault of ours: no ERROR line (an internal error's traceback).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    # The server still answers its owner as before.
    assert (await chronik.graphql("{ me { email } }", token=alice.token)).ok()


def test_the_check_catches_a_5xx_a_traceback_and_an_untyped_error() -> None:
    assert problems_in(200, {"data": {"me": None}}, '{"data": {"me": null}}') == []
    typed = {"data": None, "errors": [{"message": "x", "extensions": {"code": "NOT_FOUND"}}]}
    assert problems_in(200, typed, "{}") == []

    assert problems_in(500, None, "Internal Server Error")
    assert problems_in(502, {"data": None}, "{}")
    untyped = {"data": None, "errors": [{"message": "boom"}]}
    assert problems_in(200, untyped, "{}")
    internal = {"data": None, "errors": [{"message": "x", "extensions": {"code": "INTERNAL"}}]}
    assert problems_in(200, internal, "{}")
    unknown = {"data": None, "errors": [{"message": "x", "extensions": {"code": "OOPS"}}]}
    assert problems_in(200, unknown, "{}")
    trace = 'Traceback (most recent call last):\n  File "db/contacts.py", line 3'
    assert problems_in(200, {"data": None, "errors": [{"message": trace}]}, trace)
    assert problems_in(200, {"data": None}, '{"message": "SELECT id FROM contacts"}')
    assert problems_in(400, None, "<html>")
    # The caller's own text echoed back is not a leak; the same text unasked for is.
    echoed = {"data": {"updateMeeting": {"title": "UPDATE "}}}
    assert problems_in(200, echoed, '{"title": "UPDATE "}', 'title: "UPDATE "') == []
    assert problems_in(200, echoed, '{"title": "UPDATE "}', "title: 'x'")


# Found by the run above: a document the GraphQL layer refuses (a value of the wrong type, a
# missing argument, bad syntax) was answered with an error that had no code at all.
async def test_a_refused_document_answers_a_typed_code(
    chronik: RunningChronik, alice: TestUser
) -> None:
    cases = {
        "{ contact(id: true) { email } }": "GRAPHQL_VALIDATION_FAILED",
        "{ contacts(first: 1.5) { totalCount } }": "GRAPHQL_VALIDATION_FAILED",
        "{ meeting { title } }": "GRAPHQL_VALIDATION_FAILED",
        '{ freeBusy(start: "yesterday", end: "") { start } }': "GRAPHQL_VALIDATION_FAILED",
        "{ nosuchfield }": "GRAPHQL_VALIDATION_FAILED",
        "{ me { email ": "GRAPHQL_PARSE_FAILED",
    }
    for query, code in cases.items():
        result = await chronik.graphql(query, token=alice.token)
        assert result.data is None, query
        assert result.error_codes and set(result.error_codes) == {code}, (query, result.errors)
    # A variable that cannot be coerced was even answered as an INTERNAL error, and logged
    # as one: the caller could not tell what was wrong with the request.
    free_busy = "query($s: DateTime!, $e: DateTime!) { freeBusy(start: $s, end: $e) { start } }"
    for query, variables in (
        ("query($id: ID!) { contact(id: $id) { email } }", {"id": None}),
        ("query($n: Int) { contacts(first: $n) { totalCount } }", {"n": 2**40}),
        (free_busy, {"s": "tomorrow", "e": 5}),
    ):
        result = await chronik.graphql(query, variables, token=alice.token)
        assert result.data is None, query
        assert set(result.error_codes) == {"GRAPHQL_VALIDATION_FAILED"}, result.errors
        assert all("$" in e["message"] for e in result.errors)  # it names the variable


def test_a_graphql_error_raised_while_executing_is_still_internal() -> None:
    # Same original type as a refused variable, but with a path: a field of ours failed.
    failed = GraphQLError(
        "Int cannot represent non 32-bit signed integer value: 1099511627776",
        path=["contacts", "totalCount"],
        original_error=GraphQLError("Int cannot represent non 32-bit signed integer value"),
    )
    assert mask(failed).extensions == {"code": "INTERNAL"}
    assert mask(failed).message == INTERNAL_MESSAGE
