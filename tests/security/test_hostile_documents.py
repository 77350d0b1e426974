"""Hostile GraphQL documents: refused at once, and the server stays responsive meanwhile.

A document whose fragments spread each other twice over doubles its expansion with every
level; the limits analyse every fragment once, and a caller without a token is refused
before its document is even parsed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.ws import GraphQLSocket

# "At once", generously (these take well under 0.1 s on an idle machine): the fan-out at 20
# levels took 5 s before, at 30 levels minutes. On a machine busy with other work every answer
# slows down alike, so the bound grows with an ordinary request's time measured just before:
# a hostile document may cost what 100 ordinary requests cost, never the 400-1000x it once did.
AT_ONCE_SECONDS = 2.0
ORDINARY_REQUESTS_PER_HOSTILE = 100


def fragment_fan_out(levels: int) -> str:
    """`contacts { ...F0 }`, each fragment spreading the next twice: 2^levels expansions."""
    fragments = [
        f"fragment F{i} on ContactConnection {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    ]
    fragments.append(f"fragment F{levels} on ContactConnection {{ totalCount }}")
    return "query { contacts { ...F0 } } " + " ".join(fragments)


def hostile_shapes() -> dict[str, str]:
    """Documents of about 8 KiB, each shaped to make some validation step slow."""
    return {
        "fan-out through two fragments": "query { contacts { ...F0 } } "
        + " ".join(
            f"fragment F{i} on ContactConnection {{ ...A{i} ...B{i} }} "
            f"fragment A{i} on ContactConnection {{ ...F{i + 1} }} "
            f"fragment B{i} on ContactConnection {{ ...F{i + 1} }}"
            for i in range(40)
        )
        + " fragment F40 on ContactConnection { edges { node { id } } }",
        "one field repeated": "{ me { " + "email " * 1300 + "} }",
        "one object repeated": "{ " + "me { email } " * 600 + "}",
        "a chain of fragments": "{ me { ...A0 } } "
        + " ".join(f"fragment A{i} on User {{ email ...A{i + 1} }}" for i in range(150))
        + " fragment A150 on User { id }",
        "many fragments side by side": "{ me { "
        + " ".join(f"...A{i}" for i in range(200))
        + " } } "
        + " ".join(f"fragment A{i} on User {{ email }}" for i in range(200)),
        "many aliases": "{ " + " ".join(f"a{i}: me {{ email }}" for i in range(400)) + " }",
    }


async def timed(answer: Awaitable[Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await answer
    return result, time.perf_counter() - started


async def at_once_bound(chronik: RunningChronik, token: str | None = None) -> float:
    """Seconds "at once" means now: `AT_ONCE_SECONDS`, or more on a machine busy enough that
    an ordinary `{ me { email } }` (median of three) takes over a hundredth of it."""
    ordinary = []
    for _ in range(3):
        result, elapsed = await timed(chronik.graphql("{ me { email } }", token=token))
        assert result.status == 200
        ordinary.append(elapsed)
    return max(AT_ONCE_SECONDS, ORDINARY_REQUESTS_PER_HOSTILE * sorted(ordinary)[1])


async def healthz_while(chronik: RunningChronik, request: Awaitable[Any]) -> tuple[Any, float]:
    """`request`'s answer, and how long `/healthz` took when asked right after it was sent."""

    async def health() -> float:
        await asyncio.sleep(0.05)  # the hostile request first
        response, elapsed = await timed(chronik.http.get(f"{chronik.url}/healthz"))
        assert response.status_code == 200
        return elapsed

    answer, health_seconds = await asyncio.gather(request, health())
    return answer, health_seconds


@pytest.mark.parametrize("levels", [20, 40])
async def test_fragment_fan_out_without_a_token_is_refused_at_once(
    chronik: RunningChronik, levels: int
) -> None:
    bound = await at_once_bound(chronik)
    (result, elapsed), health_seconds = await healthz_while(
        chronik, timed(chronik.graphql(fragment_fan_out(levels)))
    )
    assert result.data is None
    assert result.error_codes == ["UNAUTHENTICATED"]
    assert elapsed < bound
    assert health_seconds < bound


@pytest.mark.parametrize("levels", [20, 40])
async def test_fragment_fan_out_with_a_token_is_answered_at_once(
    chronik: RunningChronik, alice: TestUser, levels: int
) -> None:
    bound = await at_once_bound(chronik, alice.token)
    (result, elapsed), health_seconds = await healthz_while(
        chronik, timed(chronik.graphql(fragment_fan_out(levels), token=alice.token))
    )
    assert result.ok() == {"contacts": {"totalCount": 0}}
    assert elapsed < bound
    assert health_seconds < bound


async def test_hostile_shapes_of_8_kib_are_answered_at_once(
    chronik: RunningChronik, alice: TestUser
) -> None:
    for shape, query in hostile_shapes().items():
        assert 5_000 < len(query) < 9_000, (shape, len(query))
        bound = await at_once_bound(chronik, alice.token)
        (result, elapsed), health_seconds = await healthz_while(
            chronik, timed(chronik.graphql(query, token=alice.token))
        )
        assert result.status == 200, shape
        # Each is answered, or refused as too complex: never an internal error.
        assert set(result.error_codes) <= {"QUERY_TOO_COMPLEX"}, (shape, result.errors[:1])
        assert elapsed < bound, (shape, elapsed, bound)
        assert health_seconds < bound, (shape, health_seconds, bound)


async def test_fragment_cycles_and_unknown_fragments_are_refused_at_once(
    chronik: RunningChronik, alice: TestUser
) -> None:
    cycle = "{ me { ...A } } fragment A on User { email ...B } fragment B on User { ...A }"
    unknown = "{ me { ...Nowhere } }"
    for query in (cycle, unknown):
        bound = await at_once_bound(chronik, alice.token)
        result, elapsed = await timed(chronik.graphql(query, token=alice.token))
        assert result.error_codes == ["GRAPHQL_VALIDATION_FAILED"], result.errors
        assert elapsed < bound


async def test_a_caller_without_a_token_learns_nothing_about_its_document(
    chronik: RunningChronik,
) -> None:
    for query in ("{ contacts { nope } }", "{ me { email ", "mutation { deleteContact }"):
        result = await chronik.graphql(query)
        assert result.error_codes == ["UNAUTHENTICATED"], query
        assert "nope" not in str(result.errors) and "Syntax" not in str(result.errors)


async def test_anonymous_introspection_mixed_with_data_is_refused(
    chronik: RunningChronik,
) -> None:
    result = await chronik.graphql("{ __typename contacts { totalCount } }")
    assert result.error_codes == ["UNAUTHENTICATED"]
    # Introspection alone is answered outside production (GraphiQL loads its schema so).
    assert (await chronik.graphql("{ __typename }")).ok() == {"__typename": "Query"}


async def test_production_refuses_anonymous_introspection(production: RunningChronik) -> None:
    result = await production.graphql("{ __schema { queryType { name } } }")
    assert result.error_codes == ["UNAUTHENTICATED"]


async def test_fan_out_over_a_websocket_is_answered_at_once(
    chronik: RunningChronik, alice: TestUser
) -> None:
    bound = await at_once_bound(chronik, alice.token)
    socket = await GraphQLSocket.open(chronik.url, alice.token)
    try:
        started = time.perf_counter()
        await socket.subscribe(fragment_fan_out(40), {}, op_id="fan-out")
        answer = await socket.next()
        elapsed = time.perf_counter() - started
    finally:
        await socket.close()
    assert answer["payload"] == {"data": {"contacts": {"totalCount": 0}}}
    assert elapsed < bound
