"""What one request may ask: GraphQL depth, tokens and aliases; body size and content type.

And what production hides: introspection, GraphiQL, and every detail of an internal error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from pydantic import AnyHttpUrl

from app.settings import Settings
from tests.conftest import TestUser
from tests.support.server import RunningChronik, free_port, running_chronik
from tests.support.ws import GraphQLSocket

TOO_COMPLEX = "QUERY_TOO_COMPLEX"


def nested_contact_query(levels: int) -> str:
    """contact → timeline → meeting → attendee → contact …, `levels` times over."""
    inner = "id"
    for _ in range(levels):
        inner = (
            "timeline(first: 1) { edges { node { meeting { attendees { contact { "
            + inner
            + " } } } } } }"
        )
    return '{ contact(id: "x") { ' + inner + " } }"


async def test_a_reasonable_query_passes_every_limit(
    chronik: RunningChronik, alice: TestUser
) -> None:
    query = """{ contacts(first: 5) { edges { node { timeline(first: 5) { edges { node {
      meeting { title attendees { email contact { id name } } } } } } } } } }"""
    result = await chronik.graphql(query, token=alice.token)
    assert result.ok() == {"contacts": {"edges": []}}


async def test_too_deep_query_is_refused_with_a_typed_error(
    chronik: RunningChronik, alice: TestUser
) -> None:
    result = await chronik.graphql(nested_contact_query(3), token=alice.token)
    assert result.data is None
    assert result.error_codes == [TOO_COMPLEX]
    assert "depth" in result.errors[0]["message"]


async def test_the_limits_follow_the_settings(settings: Settings, alice: TestUser) -> None:
    strict = settings.model_copy(
        update={"graphql_max_depth": 1, "public_url": AnyHttpUrl(f"http://127.0.0.1:{free_port()}")}
    )
    async with running_chronik(strict) as chronik:
        shallow = await chronik.graphql("{ me { email } }", token=alice.token)
        assert shallow.ok() == {"me": {"email": alice.email}}
        deeper = await chronik.graphql("{ me { account { name } } }", token=alice.token)
        assert deeper.error_codes == [TOO_COMPLEX]


async def test_too_many_aliases_are_refused_with_a_typed_error(
    chronik: RunningChronik, alice: TestUser
) -> None:
    limit = chronik.settings.graphql_max_aliases
    fields = " ".join(f"a{i}: email" for i in range(limit + 1))
    result = await chronik.graphql("{ me { " + fields + " } }", token=alice.token)
    assert result.data is None
    assert result.error_codes == [TOO_COMPLEX]

    within = " ".join(f"a{i}: email" for i in range(limit))
    answer = (await chronik.graphql("{ me { " + within + " } }", token=alice.token)).ok()
    assert set(answer["me"].values()) == {alice.email}


async def test_too_many_tokens_are_refused_with_a_typed_error(
    chronik: RunningChronik, alice: TestUser
) -> None:
    many = "{ me { " + "email " * chronik.settings.graphql_max_tokens + "} }"
    result = await chronik.graphql(many, token=alice.token)
    assert result.data is None
    assert result.error_codes == [TOO_COMPLEX]


async def test_a_syntax_error_is_not_mistaken_for_a_limit(
    chronik: RunningChronik, alice: TestUser
) -> None:
    result = await chronik.graphql("{ me { email ", token=alice.token)
    assert result.data is None
    assert TOO_COMPLEX not in result.error_codes
    assert "Syntax Error" in result.errors[0]["message"]


async def test_introspection_answers_outside_production(chronik: RunningChronik) -> None:
    result = await chronik.graphql("{ __schema { queryType { name } } }")
    assert result.ok() == {"__schema": {"queryType": {"name": "Query"}}}


async def test_production_refuses_introspection(
    production: RunningChronik, alice: TestUser
) -> None:
    for query in ("{ __schema { types { name } } }", '{ __type(name: "Contact") { name } }'):
        result = await production.graphql(query, token=alice.token)
        assert result.data is None
        assert "introspection" in result.errors[0]["message"].lower()
    # Ordinary queries still answer.
    assert (await production.graphql("{ me { email } }", token=alice.token)).ok()


async def test_production_serves_no_graphiql(
    chronik: RunningChronik, production: RunningChronik
) -> None:
    browser = {"Accept": "text/html"}
    development = await chronik.http.get(f"{chronik.url}/graphql", headers=browser)
    assert "graphiql" in development.text.lower()
    refused = await production.http.get(f"{production.url}/graphql", headers=browser)
    assert refused.status_code >= 400
    assert "graphiql" not in refused.text.lower()


@pytest.fixture
async def broken_contacts(db: asyncpg.Connection) -> AsyncIterator[None]:
    """The contacts table gone from under the server: every contact query fails inside SQL."""
    await db.execute("ALTER TABLE contacts RENAME TO contacts_hidden")
    yield
    await db.execute("ALTER TABLE contacts_hidden RENAME TO contacts")


async def test_internal_errors_carry_no_traceback_or_sql_in_test_and_production(
    chronik: RunningChronik, production: RunningChronik, alice: TestUser, broken_contacts: None
) -> None:
    for server in (chronik, production):  # CHRONIK_ENV=test and CHRONIK_ENV=production
        response = await server.http.post(
            f"{server.url}/graphql",
            json={"query": "{ contacts(first: 5) { edges { node { email } } } }"},
            headers={"Authorization": f"Bearer {alice.token}"},
        )
        body = response.text
        assert response.status_code == 200, server.settings.env
        assert response.json()["errors"][0]["extensions"] == {"code": "INTERNAL"}
        for leak in ("Traceback", "SELECT", "does not exist", "relation", "asyncpg", ".py"):
            assert leak not in body, (server.settings.env, leak)


async def test_oversize_body_is_refused_with_413(chronik: RunningChronik, alice: TestUser) -> None:
    padding = "#" + "x" * chronik.settings.max_body_bytes + "\n"
    response = await chronik.http.post(
        f"{chronik.url}/graphql",
        json={"query": padding + "{ me { email } }"},
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    assert response.status_code == 413


async def test_oversize_streamed_body_is_refused_with_413(chronik: RunningChronik) -> None:
    chunk = b"x" * 65536
    chunks = chronik.settings.max_body_bytes // len(chunk) + 2

    async def body() -> AsyncIterator[bytes]:
        for _ in range(chunks):
            yield chunk

    # No Content-Length: the body arrives chunked and is counted as it comes.
    response = await chronik.http.post(
        f"{chronik.url}/webhooks/microsoft",
        content=body(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_unknown_content_type_is_refused_with_415(
    chronik: RunningChronik, alice: TestUser
) -> None:
    refused = ("text/plain", "application/xml", "multipart/form-data; boundary=x", "")
    # A bare GraphQL document: the spec's old media type, refused up front rather than a 400.
    for content_type in (*refused, "application/graphql"):
        response = await chronik.http.post(
            f"{chronik.url}/graphql",
            content=b'{"query": "{ me { email } }"}',
            headers={"Authorization": f"Bearer {alice.token}", "Content-Type": content_type},
        )
        assert response.status_code == 415, content_type
    accepted = await chronik.http.post(
        f"{chronik.url}/graphql",
        content=b'{"query": "{ me { email } }"}',
        headers={
            "Authorization": f"Bearer {alice.token}",
            "Content-Type": "application/json; charset=utf-8",
        },
    )
    assert accepted.json() == {"data": {"me": {"email": alice.email}}}


async def test_the_limits_apply_to_documents_sent_over_a_websocket(
    production: RunningChronik, alice: TestUser
) -> None:
    socket = await GraphQLSocket.open(production.url, alice.token)
    try:
        await socket.subscribe("{ __schema { types { name } } }", {}, op_id="introspect")
        introspection = await socket.next()
        await socket.subscribe(nested_contact_query(3), {}, op_id="deep")
        deep = await socket.next()
        await socket.subscribe("{ me { email } }", {}, op_id="me")
        me = await socket.next()
    finally:
        await socket.close()
    assert introspection["type"] == "error"
    assert "introspection" in introspection["payload"][0]["message"].lower()
    assert deep["type"] == "error"
    assert deep["payload"][0]["extensions"]["code"] == TOO_COMPLEX
    assert me["payload"] == {"data": {"me": {"email": alice.email}}}
