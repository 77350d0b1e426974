"""A subscription sent over HTTP is refused with a typed error naming the websocket.

Every client Chronik supports subscribes over the websocket; over HTTP a subscription used to
run as a query and fail as INTERNAL. Whatever the client asks for (JSON, Apollo Client's
multipart subscriptions, Server-Sent Events), the answer is the same refusal, and nothing runs.
"""

from __future__ import annotations

import pytest

from tests.conftest import TestUser
from tests.support.server import RunningChronik

SUBSCRIPTION = 'subscription { contactTimeline(contactId: "Q29udGFjdDox") { kind } }'

ACCEPT = {
    "json": "application/json",
    "graphql-response": "application/graphql-response+json",
    # What Apollo Client's HttpLink sends for a subscription.
    "apollo multipart": 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0, application/json',
    "server-sent events": "text/event-stream",
}


@pytest.mark.parametrize("accept", ACCEPT.values(), ids=ACCEPT.keys())
async def test_a_subscription_over_http_post_is_refused_naming_the_websocket(
    chronik: RunningChronik, alice: TestUser, accept: str
) -> None:
    response = await chronik.http.post(
        f"{chronik.url}/graphql",
        json={"query": SUBSCRIPTION},
        headers={"Authorization": f"Bearer {alice.token}", "Accept": accept},
    )
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    websocket = chronik.url.replace("http://", "ws://") + "/graphql"
    assert error["extensions"] == {
        "code": "SUBSCRIPTION_NEEDS_WEBSOCKET",
        "websocket": websocket,
        "protocol": "graphql-transport-ws",
    }
    assert websocket in error["message"]
    assert response.json()["data"] is None
    assert chronik.app.state.services.live.subscriber_count == 0


async def test_a_subscription_over_http_get_is_refused_the_same_way(
    chronik: RunningChronik, alice: TestUser
) -> None:
    response = await chronik.http.get(
        f"{chronik.url}/graphql",
        params={"query": SUBSCRIPTION},
        headers={"Authorization": f"Bearer {alice.token}", "Accept": "application/json"},
    )
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "SUBSCRIPTION_NEEDS_WEBSOCKET"


async def test_queries_and_mutations_over_http_still_run_and_get_still_refuses_a_mutation(
    chronik: RunningChronik, alice: TestUser
) -> None:
    assert (await chronik.graphql("{ me { email } }", token=alice.token)).ok() == {
        "me": {"email": alice.email}
    }
    created = await chronik.graphql(
        'mutation { createContact(input: {email: "carla@client.test"}) { email } }',
        token=alice.token,
    )
    assert created.ok() == {"createContact": {"email": "carla@client.test"}}
    response = await chronik.http.get(
        f"{chronik.url}/graphql",
        params={"query": 'mutation { createContact(input: {email: "dan@x.test"}) { email } }'},
        headers={"Authorization": f"Bearer {alice.token}", "Accept": "application/json"},
    )
    assert response.status_code == 400
    contacts = await chronik.graphql(
        "{ contacts(first: 5) { edges { node { email } } } }", token=alice.token
    )
    assert [e["node"]["email"] for e in contacts.ok()["contacts"]["edges"]] == ["carla@client.test"]
