"""Timelines and meetings through GraphQL: order, pages, SQL cost, isolation, announcements."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.conftest import TestUser
from tests.support.linking import sandbox_control
from tests.support.sandboxes import Sandboxes
from tests.support.server import RunningChronik
from tests.support.sync import LinkedCalendar, linked_calendar
from tests.support.workers import add_bulk_contacts

PAGE = """
query($id: ID!, $first: Int, $after: String) { contact(id: $id) {
  timeline(first: $first, after: $after) {
    edges { cursor node { occurredAt meeting { title startsAt
      attendees { email response contact { name } } } } }
    pageInfo { hasNextPage endCursor } } } }"""

# The same page, the attendees asked through fragments.
PAGE_BY_FRAGMENTS = """
query($id: ID!, $first: Int, $after: String) { contact(id: $id) {
  timeline(first: $first, after: $after) {
    edges { cursor node { occurredAt meeting { ...Slot ... on Meeting { ...People } } } }
    pageInfo { hasNextPage endCursor } } } }
fragment Slot on Meeting { title startsAt }
fragment People on Meeting { attendees { email response contact { name } } }"""


async def bulk_linked(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
    events: int,
) -> LinkedCalendar:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    await add_bulk_contacts(db, alice.account_id, 5000)
    sandboxes.google.bulk_load(alice.email, events, attendees=3)
    await cal.sync()
    return cal


async def _contact_with_most_entries(db: asyncpg.Connection) -> str:
    from schema.ids import encode_id

    contact_id = await db.fetchval(
        "SELECT contact_id FROM timeline_entries GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    )
    return str(encode_id("Contact", contact_id))


async def test_timeline_pages_newest_first_without_gaps(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
) -> None:
    cal = await bulk_linked(chronik, alice, db, sandboxes, 15_000)
    contact = await _contact_with_most_entries(db)
    seen: list[str] = []
    after = None
    while True:
        page = (
            await chronik.graphql(
                PAGE, {"id": contact, "first": 3, "after": after}, token=alice.token
            )
        ).ok()["contact"]["timeline"]
        seen += [e["node"]["meeting"]["startsAt"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) >= 4
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen)
    total = await db.fetchval(
        "SELECT count(*) FROM timeline_entries WHERE contact_id = "
        "(SELECT contact_id FROM timeline_entries GROUP BY 1 "
        "ORDER BY count(*) DESC LIMIT 1)"
    )
    assert len(seen) == total
    assert cal.provider == "GOOGLE"


async def test_timeline_costs_the_same_sql_for_5_or_50_entries(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
    sandboxes: Sandboxes,
) -> None:
    from datetime import UTC, datetime, timedelta

    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test")
    for n in range(3):
        await cal.contact(f"colleague{n}@client.test")
    base = datetime.now(UTC) + timedelta(days=1)
    for i in range(60):
        start = base + timedelta(hours=i)
        sandboxes.google.ui_create_event(
            alice.email,
            {
                "summary": f"Call {i}",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
                "attendees": [
                    {"email": "carla@client.test"},
                    {"email": f"colleague{i % 3}@client.test"},
                    {"email": f"stranger{i}@else.test"},
                ],
            },
        )
    # Let every push of those changes land first: its webhook SQL is not the query's.
    await sandbox_control(chronik, "GOOGLE", "GET", "notifications?wait=true")
    await cal.sync()
    counts = {}
    for first in (5, 50):
        chronik.statements.clear()
        page = (await chronik.graphql(PAGE, {"id": carla, "first": first}, token=alice.token)).ok()[
            "contact"
        ]["timeline"]
        assert len(page["edges"]) == first
        attendees = [a for e in page["edges"] for a in e["node"]["meeting"]["attendees"]]
        assert all(a["contact"] for a in attendees if a["email"].endswith("@client.test"))
        assert not any(a["contact"] for a in attendees if a["email"].endswith("@else.test"))
        counts[first] = len(chronik.statements)
    # The same statements whatever the page size: the viewer's token, the contact, the page,
    # and the page's attendees with their contacts in one read.
    assert counts[5] == counts[50] <= 4, counts
    # Asked through fragments: the same answer, the same statements.
    chronik.statements.clear()
    by_fragments = await chronik.graphql(
        PAGE_BY_FRAGMENTS, {"id": carla, "first": 50}, token=alice.token
    )
    assert by_fragments.ok()["contact"]["timeline"] == page
    assert len(chronik.statements) == counts[50], chronik.statements


async def test_other_accounts_cannot_read_meetings_or_timelines(
    chronik: RunningChronik,
    alice: TestUser,
    bob: TestUser,
    db: asyncpg.Connection,
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test")
    from datetime import UTC, datetime, timedelta

    await cal.calendar.create(
        title="Private to Acme",
        start=datetime.now(UTC) + timedelta(days=2),
        guests=["carla@client.test"],
    )
    await cal.sync()
    meeting_id = (await cal.timeline(carla))[0]["meeting"]["id"]
    for query, variables in (
        ("query($id: ID!) { meeting(id: $id) { title } }", {"id": meeting_id}),
        (PAGE, {"id": carla}),
        (
            "query($id: ID!) { meetings(filter: {contactId: $id}) { edges { cursor } } }",
            {"id": carla},
        ),
    ):
        result = await chronik.graphql(query, variables, token=bob.token)
        assert result.error_codes == ["NOT_FOUND"]
        assert "Acme" not in str(result.body)
    own = await chronik.graphql("{ meetings { edges { node { title } } } }", token=alice.token)
    assert [e["node"]["title"] for e in own.ok()["meetings"]["edges"]] == ["Private to Acme"]
    assert (await chronik.graphql("{ meetings { edges { cursor } } }", token=bob.token)).ok()[
        "meetings"
    ]["edges"] == []


async def test_timeline_changes_are_announced_after_commit(
    chronik: RunningChronik,
    alice: TestUser,
    db: asyncpg.Connection,
) -> None:
    import orjson

    from schema.ids import decode_id

    cal = await linked_calendar(chronik, alice, db, "MICROSOFT")
    carla = await cal.contact("carla@client.test")
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(chronik.settings.database_url)
    await listener.add_listener("chronik_timeline", lambda *args: heard.put_nowait(args[3]))
    try:
        from datetime import UTC, datetime, timedelta

        await cal.calendar.create(
            title="Announced",
            start=datetime.now(UTC) + timedelta(days=1),
            guests=["carla@client.test"],
        )
        await cal.sync()
        payload = orjson.loads(await asyncio.wait_for(heard.get(), 5))
    finally:
        await listener.close()
    assert payload["a"] == alice.account_id
    assert [decode_id("Contact", carla), "a"] == payload["c"][0][::2]
    recorded = await db.fetchval("SELECT count(*) FROM timeline_changes WHERE kind = 'added'")
    assert recorded == 1


async def test_total_counts_of_timeline_and_meetings(cal: LinkedCalendar) -> None:
    from datetime import UTC, datetime, timedelta

    carla = await cal.contact("carla@client.test")
    for n in range(3):
        await cal.calendar.create(
            title=f"Call {n}",
            start=datetime.now(UTC) + timedelta(days=n + 1),
            guests=["carla@client.test"],
        )
    await cal.calendar.create(
        title="Other", start=datetime.now(UTC) + timedelta(days=5), guests=["dan@other.test"]
    )
    await cal.sync()
    result = await cal.chronik.graphql(
        """query($id: ID!) { contact(id: $id) { timeline(first: 1) { totalCount } }
           meetings(first: 1) { totalCount } }""",
        {"id": carla},
        token=cal.user.token,
    )
    data = result.ok()
    assert data["contact"]["timeline"]["totalCount"] == 3
    assert data["meetings"]["totalCount"] == 3  # Dan is no contact: his meeting is not kept
