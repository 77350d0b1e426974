"""`node(id:)` and `nodes(ids:)`: every id the API hands out fetches its object again.

What Relay's refetchable fragments and the normalized caches of Apollo Client and urql rely on.
Isolation between accounts is tested with every other id-taking field in
tests/security/test_tenant_isolation.py; who may see a colleague's connection is a row of the
authorization table (tests/schema/test_authorization.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from schema.ids import encode_id
from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar

SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
EVERY_KIND = """{
  calendarConnection { id }
  contacts(first: 10) { edges { node { id email timeline(first: 10) { edges { node {
    id meeting { id title } } } } } } }
}"""
NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Contact { email }
  ... on Meeting { title }
  ... on TimelineEntry { meeting { title } }
  ... on CalendarConnection { calendarEmail }
} }"""
NODES = """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
  ... on Contact { email } ... on Meeting { title } } }"""


async def test_each_kind_of_id_fetches_its_object_again(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    await cal.contact("carla@client.test", name="Carla")
    await cal.calendar.create(title="Kickoff", start=SOON, guests=["carla@client.test"])
    await cal.sync()
    seen = (await chronik.graphql(EVERY_KIND, token=alice.token)).ok()
    carla = seen["contacts"]["edges"][0]["node"]
    entry = carla["timeline"]["edges"][0]["node"]

    expected = {
        carla["id"]: {"__typename": "Contact", "email": "carla@client.test"},
        entry["id"]: {"__typename": "TimelineEntry", "meeting": {"title": "Kickoff"}},
        entry["meeting"]["id"]: {"__typename": "Meeting", "title": "Kickoff"},
        seen["calendarConnection"]["id"]: {
            "__typename": "CalendarConnection",
            "calendarEmail": alice.email,
        },
    }
    for global_id, fields in expected.items():
        answer = await chronik.graphql(NODE, {"id": global_id}, token=alice.token)
        assert answer.ok() == {"node": {"id": global_id, **fields}}


async def test_nodes_answer_in_order_with_null_and_not_found_where_an_id_names_nothing(
    chronik: RunningChronik, alice: TestUser
) -> None:
    ids = []
    for address in ("ana@client.test", "ben@client.test"):
        made = await chronik.graphql(
            "mutation($e: String!) { createContact(input: {email: $e}) { id } }",
            {"e": address},
            token=alice.token,
        )
        ids.append(made.ok()["createContact"]["id"])
    gone = encode_id("Contact", 999_999)
    answer = await chronik.graphql(
        NODES, {"ids": [ids[1], gone, "not an id", ids[0]]}, token=alice.token
    )
    assert answer.data == {
        "nodes": [
            {"__typename": "Contact", "id": ids[1], "email": "ben@client.test"},
            None,
            None,
            {"__typename": "Contact", "id": ids[0], "email": "ana@client.test"},
        ]
    }
    assert [(e["path"], e["extensions"]["code"]) for e in answer.errors] == [
        (["nodes", 1], "NOT_FOUND"),
        (["nodes", 2], "NOT_FOUND"),
    ]

    missing = await chronik.graphql(NODE, {"id": gone}, token=alice.token)
    assert missing.data == {"node": None}
    assert missing.error_codes == ["NOT_FOUND"]


async def test_nodes_read_each_kind_once_however_many_ids(
    chronik: RunningChronik, alice: TestUser
) -> None:
    async def statements_for(count: int) -> int:
        ids = [encode_id("Contact", n) for n in range(1, count + 1)]
        ids += [encode_id("Meeting", n) for n in range(1, count + 1)]
        chronik.statements.clear()
        await chronik.graphql(NODES, {"ids": ids}, token=alice.token)
        return len(chronik.statements)

    assert await statements_for(50) == await statements_for(2)


async def test_more_than_a_hundred_ids_are_refused_naming_the_argument(
    chronik: RunningChronik, alice: TestUser
) -> None:
    ids = [encode_id("Contact", n) for n in range(1, 102)]
    answer = await chronik.graphql(NODES, {"ids": ids}, token=alice.token)
    assert answer.error_codes == ["VALIDATION"]
    assert answer.errors[0]["extensions"]["field"] == "ids"
