"""What the fuzz runs share: a caller with objects to aim at, and the judge of an answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from resolvers.errors import ChronikError
from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar

# Text an answer must never carry: a Python traceback, a file, SQL, the driver's name.
LEAKS = ("Traceback", 'File "', ".py", "SELECT ", "INSERT ", "UPDATE ", "asyncpg", "psycopg")


def typed_codes() -> set[str]:
    codes: set[str] = set()
    pending: list[type[ChronikError]] = [ChronikError]
    while pending:
        kind = pending.pop()
        codes.add(kind.code)
        pending.extend(kind.__subclasses__())
    return codes


KNOWN_CODES = typed_codes()


def problems_in(status: int, body: Any, text: str, sent: str = "") -> list[str]:
    """What is wrong with one answer to the query `sent` (empty when it is a proper GraphQL
    answer). Text the query itself holds may come back (a title, a search) and is no leak."""
    if status >= 500:
        return [f"HTTP {status}: {text[:300]}"]
    found = [f"answer carries {leak!r}" for leak in LEAKS if leak in text and leak not in sent]
    if not isinstance(body, dict) or not ({"data", "errors"} & body.keys()):
        return [*found, f"HTTP {status}, not a GraphQL answer: {text[:300]}"]
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL":  # masked, but a failure of ours all the same
            found.append(f"internal error at {error.get('path')}")
        elif code not in KNOWN_CODES:
            found.append(f"error without a typed code: {error}")
    return found


async def seeded(chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection) -> list[str]:
    """Alice's linked calendar, contacts and a meeting; the ids of her objects."""
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    contacts = [await cal.contact(f"guest{i}@client.test") for i in range(3)]
    soon = datetime.now(UTC) + timedelta(days=3)
    await cal.calendar.create(title="Renewal", start=soon, guests=["guest0@client.test"])
    await cal.sync()
    listed = "{ meetings(first: 10) { edges { node { id } } } }"
    meetings = (await chronik.graphql(listed, token=alice.token)).ok()["meetings"]["edges"]
    connection = (await chronik.graphql("{ calendarConnection { id } }", token=alice.token)).ok()
    ids = [*contacts, *(m["node"]["id"] for m in meetings), connection["calendarConnection"]["id"]]
    assert len(ids) >= 5
    return ids
