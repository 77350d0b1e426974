"""The JavaScript clients frontends use, run in Node.js against a real Chronik.

`graphql-ws` (the protocol author's client), Apollo Client (HTTP for queries and mutations,
its GraphQLWsLink for subscriptions) and the Relay compiler (`@refetchable` fragments against
schema.graphql). Their npm packages are pinned in tests/js/package-lock.json and installed by
`.ci/run` (`npm ci --prefix tests/js`); without Node.js or the packages the tests skip, saying
which is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar
from tests.support.waiting import eventually

JS = Path(__file__).resolve().parent
MODULES = JS / "node_modules"
SCHEMA = JS.parents[1] / "schema.graphql"
SOON = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
WAIT = 20.0  # seconds; generous for a loaded CI machine


def node_with(package: str) -> str:
    """The `node` executable, once `package` is installed; else the test skips."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("no Node.js (Debian: apt-get install nodejs npm; .ci/run installs it)")
    if not (MODULES / package).is_dir():
        pytest.skip(f"npm package {package} not installed: npm ci --prefix tests/js")
    return node


class Script:
    """A running Node.js script that prints one JSON line per step."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), WAIT)
        if not raw:
            assert self.process.stderr is not None
            problem = (await self.process.stderr.read()).decode()
            raise AssertionError(f"the script ended early: {problem}")
        return dict(json.loads(raw))

    async def finished(self) -> int:
        return await asyncio.wait_for(self.process.wait(), WAIT)


@asynccontextmanager
async def script(node: str, name: str, **env: str) -> AsyncIterator[Script]:
    process = await asyncio.create_subprocess_exec(
        node,
        str(JS / name),
        cwd=JS,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield Script(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_graphql_ws_subscribes_receives_every_update_and_queries_on_the_same_socket(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    node = node_with("graphql-ws")
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test", name="Carla")
    event = await cal.calendar.create(title="Kickoff", start=SOON, guests=["carla@client.test"])
    await cal.sync()
    feed = chronik.app.state.services.live

    env = {"CHRONIK_URL": chronik.url, "CHRONIK_TOKEN": alice.token, "CONTACT_ID": carla}
    async with script(node, "graphql_ws_client.mjs", UPDATES="3", **env) as client:
        await eventually(lambda: feed.subscriber_count == 1)
        for version in (1, 2, 3):
            await cal.calendar.update(event, title=f"Kickoff v{version}")
            update = await client.line()
            assert update == {
                "event": "next",
                "payload": {
                    "data": {
                        "contactTimeline": {
                            "kind": "UPDATED",
                            "meeting": {"title": f"Kickoff v{version}"},
                        }
                    }
                },
            }
        assert await client.line() == {
            "event": "query",
            "payload": {"data": {"me": {"email": alice.email}}},
        }
        assert await client.finished() == 0
    await eventually(lambda: feed.subscriber_count == 0)


async def test_apollo_client_queries_mutates_and_subscribes_through_its_websocket_link(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    node = node_with("@apollo/client")
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test", name="Carla")
    event = await cal.calendar.create(title="Demo", start=SOON, guests=["carla@client.test"])
    await cal.sync()
    feed = chronik.app.state.services.live

    env = {"CHRONIK_URL": chronik.url, "CHRONIK_TOKEN": alice.token, "CONTACT_ID": carla}
    async with script(node, "apollo_client.mjs", **env) as client:
        assert await client.line() == {
            "event": "query",
            "payload": {
                "contact": {
                    "__typename": "Contact",
                    "id": carla,
                    "name": "Carla",
                    "email": "carla@client.test",
                }
            },
        }
        created = await client.line()
        assert created["event"] == "mutation"
        assert created["payload"]["createContact"]["name"] == "Dan"
        assert await client.line() == {"event": "cached", "payload": "carla@client.test"}

        await eventually(lambda: feed.subscriber_count == 1)
        await cal.calendar.update(event, title="Demo (moved)")
        assert await client.line() == {
            "event": "next",
            "payload": {
                "contactTimeline": {
                    "__typename": "TimelineUpdate",
                    "kind": "UPDATED",
                    "meeting": {"__typename": "Meeting", "title": "Demo (moved)"},
                }
            },
        }
        assert await client.finished() == 0
    contacts = await chronik.graphql(
        "{ contacts(first: 5) { edges { node { email } } } }", token=alice.token
    )
    emails = {e["node"]["email"] for e in contacts.ok()["contacts"]["edges"]}
    assert emails == {"carla@client.test", "dan@partner.test"}


async def test_the_relay_compiler_builds_refetchable_fragments_against_the_schema(
    tmp_path: Path,
) -> None:
    node = node_with("relay-compiler")
    sources = tmp_path / "src"
    shutil.copytree(JS / "relay", sources)
    config = {"src": "./src", "schema": str(SCHEMA), "language": "javascript"}
    (tmp_path / "relay.config.json").write_text(json.dumps(config))
    compiler = await asyncio.create_subprocess_exec(
        node,
        str(MODULES / "relay-compiler" / "cli.js"),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(compiler.communicate(), 60)
    assert compiler.returncode == 0, output.decode()
    generated = sources / "__generated__"
    for query in ("ContactCard", "TimelineRow", "MeetingTitle", "CalendarStatus"):
        refetch = (generated / f"{query}RefetchQuery.graphql.js").read_text()
        # Relay refetches each fragment through the Node interface's root field.
        assert "node(id: $id)" in refetch, refetch
