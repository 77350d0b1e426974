"""What a query may cost: a node limit checked before it runs, and each account's budget.

And production's errors suggest no names ("Did you mean …?") to anyone.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
import websockets
from pydantic import AnyHttpUrl

from app.settings import Settings
from tests.conftest import TestUser
from tests.support.server import RunningChronik, free_port, running_chronik
from tests.support.ws import GraphQLSocket

CONTACTS_TIMELINES = """contacts(first: $n) { edges { node {
  timeline(first: $n) { edges { node { meeting { attendees { contact { id } } } } } } } } }"""
NESTED = "query($n: Int) { " + CONTACTS_TIMELINES + " }"


def nested_nodes(n: int) -> int:
    """NESTED's worst case: the connection, n edges and contacts, each with a timeline of n
    edges, entries and meetings, each meeting with 50 (assumed) attendees and contacts."""
    return 1 + n * (1 + 1 + 1 + n * (1 + 1 + 1 + 50 * 2))


async def test_a_query_over_the_node_limit_is_refused_with_its_estimate(
    chronik: RunningChronik, alice: TestUser
) -> None:
    refused = await chronik.graphql(NESTED, {"n": 100}, token=alice.token)
    assert refused.data is None
    assert refused.error_codes == ["QUERY_TOO_COMPLEX"]
    extensions = refused.errors[0]["extensions"]
    assert extensions["nodes"] == nested_nodes(100)
    assert extensions["maxNodes"] == chronik.settings.graphql_max_nodes
    # The same document with a small page is well within the limit.
    assert nested_nodes(5) < chronik.settings.graphql_max_nodes
    answer = await chronik.graphql(NESTED, {"n": 5}, token=alice.token)
    assert answer.ok() == {"contacts": {"edges": []}}


async def test_the_node_limit_counts_defaults_and_variable_defaults(
    chronik: RunningChronik, alice: TestUser
) -> None:
    defaulted = NESTED.replace("$n: Int", "$n: Int = 100")
    refused = await chronik.graphql(defaulted, token=alice.token)
    assert refused.error_codes == ["QUERY_TOO_COMPLEX"]
    assert refused.errors[0]["extensions"]["nodes"] == nested_nodes(100)
    # Without `first`, a connection holds its default page (20): within the limit once,
    # over it twice.
    without_first = CONTACTS_TIMELINES.replace("(first: $n)", "")
    assert (await chronik.graphql("{ " + without_first + " }", token=alice.token)).ok()
    twice = "{ a: " + without_first + " b: " + without_first + " }"
    refused = await chronik.graphql(twice, token=alice.token)
    assert refused.errors[0]["extensions"]["nodes"] == 2 * nested_nodes(20)


async def test_thirty_aliases_of_a_deep_query_are_refused_before_running(
    chronik: RunningChronik, alice: TestUser
) -> None:
    # The query of issue 16 (62 s and +700 MiB on 5,000 contacts before the node limit).
    one = (
        "contacts(first:100){edges{node{timeline(first:100){totalCount edges{node{meeting{"
        "attendees{contact{timeline(first:100){totalCount}}}}}}}}}}"
    )
    query = "{ " + " ".join(f"a{i}: {one}" for i in range(30)) + " }"
    result = await chronik.graphql(query, token=alice.token)
    assert result.error_codes == ["QUERY_TOO_COMPLEX"]
    assert result.errors[0]["extensions"]["nodes"] > 1_000_000
    assert not [s for s in chronik.statements if "timeline" in s], "nothing may run"


@pytest.fixture
async def small_budget(settings: Settings) -> AsyncIterator[RunningChronik]:
    """Chronik whose accounts may spend 6,000 points an hour (two NESTED queries at n=5)."""
    strict = settings.model_copy(
        update={
            "graphql_max_nodes": 3_000,
            "graphql_budget_points": 6_000,
            "graphql_budget_window_seconds": 3_600.0,
            "public_url": AnyHttpUrl(f"http://127.0.0.1:{free_port()}"),
        }
    )
    async with running_chronik(strict) as server:
        yield server


async def test_an_account_over_its_budget_is_rate_limited_and_others_are_not(
    small_budget: RunningChronik, alice: TestUser, bob: TestUser
) -> None:
    for _ in range(2):
        assert (await small_budget.graphql(NESTED, {"n": 5}, token=alice.token)).ok()
    started = time.perf_counter()
    limited = await small_budget.graphql(NESTED, {"n": 5}, token=alice.token)
    # Held a second: a client retrying at once, over and over, costs the server little.
    assert time.perf_counter() - started >= 0.9
    assert limited.data is None
    assert limited.error_codes == ["RATE_LIMITED"]
    # 6,000 - 2 x 2,591 = 818 points left; 1,773 more refill at 6,000 an hour: ~1,064 s.
    retry_after = limited.errors[0]["extensions"]["retryAfter"]
    assert 1_000 < retry_after < 1_100
    # A cheap query still fits what is left; another account has its own budget.
    assert (await small_budget.graphql("{ me { email } }", token=alice.token)).ok()
    assert (await small_budget.graphql(NESTED, {"n": 5}, token=bob.token)).ok()


HEAVY_SUBSCRIPTION = """subscription { contactTimeline(contactId: "x") { meeting { attendees {
  contact { timeline(first: 100) { edges { node { meeting { attendees { contact { id } } } } } }
} } } } }"""


async def test_a_subscription_over_the_node_limit_is_refused_on_a_websocket(
    chronik: RunningChronik, alice: TestUser
) -> None:
    heavy = HEAVY_SUBSCRIPTION
    socket = await GraphQLSocket.open(chronik.url, alice.token)
    try:
        await socket.subscribe(heavy, {}, op_id="heavy")
        refused = await socket.next()
    finally:
        await socket.close()
    assert refused["type"] == "error"
    assert refused["payload"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_a_subscription_over_the_node_limit_is_refused_on_the_legacy_protocol(
    chronik: RunningChronik, alice: TestUser
) -> None:
    url = chronik.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as socket:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {alice.token}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        start = {"id": "1", "type": "start", "payload": {"query": HEAVY_SUBSCRIPTION}}
        await socket.send(json.dumps(start))
        while (answer := json.loads(await socket.recv()))["type"] == "ka":
            pass
    errors = answer["payload"].get("errors") or [answer["payload"]]
    assert errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX", answer


async def test_production_suggests_no_names(
    chronik: RunningChronik, production: RunningChronik, alice: TestUser
) -> None:
    typo = "{ me { emial } }"
    development = await chronik.graphql(typo, token=alice.token)
    assert "Did you mean" in development.errors[0]["message"]  # the test setting suggests
    refused = await production.graphql(typo, token=alice.token)
    assert refused.error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Did you mean" not in refused.errors[0]["message"]
    # A variable's unknown enum value, refused while coercing: no suggestion either.
    install = "mutation($p: CalendarProvider!) { installCalendarIntegration(provider: $p) { id } }"
    development = await chronik.graphql(install, {"p": "GOOGLX"}, token=alice.token)
    assert "Did you mean" in str(development.errors)
    refused = await production.graphql(install, {"p": "GOOGLX"}, token=alice.token)
    assert refused.data is None
    assert "Did you mean" not in str(refused.errors)
    # And over a websocket.
    socket = await GraphQLSocket.open(production.url, alice.token)
    try:
        await socket.subscribe(typo, {}, op_id="typo")
        answer = await socket.next()
    finally:
        await socket.close()
    assert answer["type"] == "error"
    assert "Did you mean" not in str(answer["payload"])
