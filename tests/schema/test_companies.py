"""Companies through GraphQL: create, read, list, update, delete, their contacts, their
timeline (the meetings of their contacts), and the errors a user can hit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar
from tests.support.waiting import eventually
from tests.support.ws import GraphQLSocket

FIELDS = "id name domains industry phone city contacts { id email } "
CREATE = f"""
mutation($input: CreateCompanyInput!) {{ createCompany(input: $input) {{ {FIELDS} }} }}"""
READ = f"query($id: ID!) {{ company(id: $id) {{ {FIELDS} }} }}"
UPDATE = f"""
mutation($id: ID!, $input: UpdateCompanyInput!) {{
  updateCompany(id: $id, input: $input) {{ {FIELDS} }}
}}"""
DELETE = "mutation($id: ID!) { deleteCompany(id: $id) { deletedCompanyId } }"
LIST = """
query($first: Int, $after: String, $search: String) {
  companies(first: $first, after: $after, search: $search) {
    totalCount edges { cursor node { name } } pageInfo { hasNextPage endCursor }
  }
}"""
ADD = """
mutation($company: ID!, $contacts: [ID!]!) {
  addCompanyContacts(companyId: $company, contactIds: $contacts) { contacts { email } }
}"""
REMOVE = """
mutation($company: ID!, $contacts: [ID!]!) {
  removeCompanyContacts(companyId: $company, contactIds: $contacts) { contacts { email } }
}"""
CONTACT_COMPANIES = "query($id: ID!) { contact(id: $id) { companies { name } } }"
TIMELINE = """
query($id: ID!, $first: Int, $after: String) { company(id: $id) { timeline(first: $first,
  after: $after) { totalCount edges { node { occurredAt meeting { title status attendees {
  email contact { email } } } } } pageInfo { hasNextPage endCursor } } } }"""


async def create(chronik: RunningChronik, user: TestUser, **fields: object) -> dict:
    result = await chronik.graphql(CREATE, {"input": fields}, token=user.token)
    return result.ok()["createCompany"]


async def contact(chronik: RunningChronik, user: TestUser, email: str) -> str:
    made = await chronik.graphql(
        "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }",
        {"input": {"email": email}},
        token=user.token,
    )
    return str(made.ok()["createContact"]["id"])


async def test_company_lifecycle(chronik: RunningChronik, alice: TestUser) -> None:
    made = await create(
        chronik,
        alice,
        name=" Initech ",
        domains=["Initech.TEST", "@initech-labs.test", "initech.test"],
        industry="Software",
        phone="+1 555 0100",
    )
    assert made["name"] == "Initech"
    assert made["domains"] == ["initech.test", "initech-labs.test"]
    assert (made["industry"], made["phone"], made["city"]) == ("Software", "+1 555 0100", None)
    assert made["contacts"] == []

    read = (await chronik.graphql(READ, {"id": made["id"]}, token=alice.token)).ok()["company"]
    assert read == made

    changed = await chronik.graphql(
        UPDATE,
        {"id": made["id"], "input": {"industry": None, "city": "Austin", "domains": []}},
        token=alice.token,
    )
    updated = changed.ok()["updateCompany"]
    assert (updated["industry"], updated["city"], updated["domains"]) == (None, "Austin", [])
    assert updated["name"] == "Initech"  # untouched fields stay

    gone = await chronik.graphql(DELETE, {"id": made["id"]}, token=alice.token)
    assert gone.ok()["deleteCompany"]["deletedCompanyId"] == made["id"]
    again = await chronik.graphql(READ, {"id": made["id"]}, token=alice.token)
    assert again.error_codes == ["NOT_FOUND"]


async def test_bad_input_names_its_field_and_changes_nothing(
    chronik: RunningChronik, alice: TestUser
) -> None:
    made = await create(chronik, alice, name="Initech", domains=["initech.test"])
    cases = [
        (CREATE, {"input": {"name": "  "}}, "name"),
        (CREATE, {"input": {"name": "X", "domains": ["not a domain"]}}, "domains"),
        (CREATE, {"input": {"name": "X", "domains": [f"d{n}.test" for n in range(21)]}}, "domains"),
        (CREATE, {"input": {"name": "x" * 201}}, "name"),
        (UPDATE, {"id": made["id"], "input": {"name": None}}, "name"),
        (LIST, {"first": 0}, "first"),
        (LIST, {"after": "bogus"}, "after"),
    ]
    for query, variables, field in cases:
        result = await chronik.graphql(query, variables, token=alice.token)
        assert result.error_codes == ["VALIDATION"], (variables, result.body)
        assert result.errors[0]["extensions"]["field"] == field
    taken = await chronik.graphql(
        CREATE, {"input": {"name": "Copycat", "domains": ["INITECH.test"]}}, token=alice.token
    )
    assert taken.error_codes == ["CONFLICT"]
    listed = (await chronik.graphql(LIST, {}, token=alice.token)).ok()["companies"]
    assert [e["node"]["name"] for e in listed["edges"]] == ["Initech"]


async def test_companies_page_by_name_and_search_names_and_domains(
    chronik: RunningChronik, alice: TestUser, bob: TestUser
) -> None:
    for name, domain in [
        ("Umbrella", "umbrella.test"),
        ("acme", "acme-corp.test"),
        ("Globex", "globex.test"),
        ("Hooli", "hooli.test"),
    ]:
        await create(chronik, alice, name=name, domains=[domain])
    await create(chronik, bob, name="Bob's own", domains=["bobs.test"])
    names: list[str] = []
    after = None
    while True:
        page = (await chronik.graphql(LIST, {"first": 3, "after": after}, token=alice.token)).ok()
        names += [e["node"]["name"] for e in page["companies"]["edges"]]
        assert page["companies"]["totalCount"] == 4
        if not page["companies"]["pageInfo"]["hasNextPage"]:
            break
        after = page["companies"]["pageInfo"]["endCursor"]
    assert names == ["acme", "Globex", "Hooli", "Umbrella"]
    found = await chronik.graphql(LIST, {"search": "CORP"}, token=alice.token)
    assert [e["node"]["name"] for e in found.ok()["companies"]["edges"]] == ["acme"]
    found = await chronik.graphql(LIST, {"search": "glo"}, token=alice.token)
    assert [e["node"]["name"] for e in found.ok()["companies"]["edges"]] == ["Globex"]


async def test_contacts_belong_to_companies_many_to_many(
    chronik: RunningChronik, alice: TestUser, bob: TestUser
) -> None:
    initech = (await create(chronik, alice, name="Initech"))["id"]
    globex = (await create(chronik, alice, name="Globex"))["id"]
    carla = await contact(chronik, alice, "carla@client.test")
    dan = await contact(chronik, alice, "dan@client.test")
    added = await chronik.graphql(
        ADD, {"company": initech, "contacts": [dan, carla]}, token=alice.token
    )
    assert added.ok()["addCompanyContacts"]["contacts"] == [
        {"email": "carla@client.test"},
        {"email": "dan@client.test"},
    ]
    await chronik.graphql(ADD, {"company": globex, "contacts": [carla]}, token=alice.token)
    # Adding again is fine and changes nothing.
    again = await chronik.graphql(ADD, {"company": initech, "contacts": [carla]}, token=alice.token)
    assert len(again.ok()["addCompanyContacts"]["contacts"]) == 2
    companies = await chronik.graphql(CONTACT_COMPANIES, {"id": carla}, token=alice.token)
    assert companies.ok()["contact"]["companies"] == [{"name": "Globex"}, {"name": "Initech"}]

    # All or none: one contact of another account refuses the whole call.
    bobs = await contact(chronik, bob, "erin@client.test")
    refused = await chronik.graphql(
        REMOVE, {"company": initech, "contacts": [carla, bobs]}, token=alice.token
    )
    assert refused.error_codes == ["NOT_FOUND"]
    removed = await chronik.graphql(
        REMOVE, {"company": initech, "contacts": [carla]}, token=alice.token
    )
    assert removed.ok()["removeCompanyContacts"]["contacts"] == [{"email": "dan@client.test"}]
    empty = await chronik.graphql(ADD, {"company": initech, "contacts": []}, token=alice.token)
    assert empty.errors[0]["extensions"]["field"] == "contactIds"

    # Deleting a contact takes it off its companies; deleting a company keeps its contacts.
    await chronik.graphql(
        "mutation($id: ID!) { deleteContact(id: $id) { deletedContactId } }",
        {"id": dan},
        token=alice.token,
    )
    read = await chronik.graphql(READ, {"id": initech}, token=alice.token)
    assert read.ok()["company"]["contacts"] == []
    await chronik.graphql(DELETE, {"id": globex}, token=alice.token)
    still = await chronik.graphql(CONTACT_COMPANIES, {"id": carla}, token=alice.token)
    assert still.ok()["contact"]["companies"] == []


async def test_company_timeline_holds_its_contacts_meetings_once_each(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test")
    dan = await cal.contact("dan@client.test")
    await cal.contact("erin@other.test")
    initech = (await create(chronik, alice, name="Initech"))["id"]
    await chronik.graphql(ADD, {"company": initech, "contacts": [carla, dan]}, token=alice.token)
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    for hours, title, guests in [
        (0, "Both", ["carla@client.test", "dan@client.test"]),
        (2, "Carla only", ["carla@client.test"]),
        (4, "Erin only", ["erin@other.test"]),
        (6, "Dan and Erin", ["dan@client.test", "erin@other.test"]),
    ]:
        await cal.calendar.create(title=title, start=start + timedelta(hours=hours), guests=guests)
    await cal.sync()

    titles: list[str] = []
    after = None
    counts = []
    while True:
        chronik.statements.clear()
        result = await chronik.graphql(
            TIMELINE, {"id": initech, "first": 2, "after": after}, token=alice.token
        )
        counts.append(len(chronik.statements))
        timeline = result.ok()["company"]["timeline"]
        titles += [e["node"]["meeting"]["title"] for e in timeline["edges"]]
        assert timeline["totalCount"] == 3
        if not timeline["pageInfo"]["hasNextPage"]:
            break
        after = timeline["pageInfo"]["endCursor"]
    assert titles == ["Dan and Erin", "Carla only", "Both"]
    # Each page: the same statements (token, company, page, attendees, count), whatever it holds.
    assert len(set(counts)) == 1, counts

    # The company's timeline follows its contacts: one removed, its meetings go with it.
    await chronik.graphql(REMOVE, {"company": initech, "contacts": [dan]}, token=alice.token)
    result = await chronik.graphql(TIMELINE, {"id": initech, "first": 10}, token=alice.token)
    shown = result.ok()["company"]["timeline"]["edges"]
    assert [e["node"]["meeting"]["title"] for e in shown] == ["Carla only", "Both"]
    both = shown[1]["node"]["meeting"]["attendees"]
    assert {a["email"]: a["contact"] for a in both}["dan@client.test"] == {
        "email": "dan@client.test"
    }


SCHEDULE = """
mutation($input: ScheduleMeetingInput!) { scheduleMeeting(input: $input) { id title } }"""
RESCHEDULE = """
mutation($id: ID!, $input: UpdateMeetingInput!) { updateMeeting(id: $id, input: $input) { id } }"""


async def _titles(chronik: RunningChronik, user: TestUser, company: str) -> list[str]:
    result = await chronik.graphql(TIMELINE, {"id": company, "first": 20}, token=user.token)
    return [e["node"]["meeting"]["title"] for e in result.ok()["company"]["timeline"]["edges"]]


async def test_a_meeting_scheduled_from_a_company_is_on_its_timeline(
    chronik: RunningChronik, alice: TestUser, bob: TestUser, db: asyncpg.Connection
) -> None:
    """The article: from a company record, schedule a meeting; it is logged on that record,
    whoever the guests are (here a stranger, no contact of the company)."""
    cal = await linked_calendar(chronik, alice, db, "MICROSOFT")
    initech = (await create(chronik, alice, name="Initech"))["id"]
    globex = (await create(chronik, alice, name="Globex"))["id"]
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    meeting = {
        "title": "Intro call",
        "startsAt": start.isoformat(),
        "endsAt": (start + timedelta(minutes=30)).isoformat(),
        "timeZone": "Europe/Berlin",
        "attendees": [{"email": "peter@initech.test"}],
    }
    # A company of another account is refused before the calendar is touched.
    others = (await create(chronik, bob, name="Bob's"))["id"]
    refused = await chronik.graphql(
        SCHEDULE, {"input": {**meeting, "companyIds": [initech, others]}}, token=alice.token
    )
    assert refused.error_codes == ["NOT_FOUND"]
    assert await cal.db.fetchval("SELECT count(*) FROM meetings") == 0

    made = await chronik.graphql(
        SCHEDULE, {"input": {**meeting, "companyIds": [initech]}}, token=alice.token
    )
    meeting_id = made.ok()["scheduleMeeting"]["id"]
    assert await _titles(chronik, alice, initech) == ["Intro call"]
    assert await _titles(chronik, alice, globex) == []
    await cal.sync()  # the sync's round trip keeps it there (rule 10)
    assert await _titles(chronik, alice, initech) == ["Intro call"]

    moved = await chronik.graphql(
        RESCHEDULE, {"id": meeting_id, "input": {"companyIds": [globex]}}, token=alice.token
    )
    moved.ok()
    assert await _titles(chronik, alice, initech) == []
    assert await _titles(chronik, alice, globex) == ["Intro call"]

    await chronik.graphql(
        "mutation($id: ID!) { cancelMeeting(id: $id) { status } }",
        {"id": meeting_id},
        token=alice.token,
    )
    assert await _titles(chronik, alice, globex) == []


SETTINGS = """mutation($on: Boolean!) { updateAccountSettings(matchCompaniesByDomain: $on) {
  matchCompaniesByDomain autoCreateContacts } }"""


async def test_contacts_found_by_domain_when_the_account_opts_in(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    """Off by default; on, a contact at a company's domain belongs to it (by any of its
    addresses), never by the account's own domain or a webmail domain."""
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    peter = await cal.contact("peter@initech.test", name="Peter")
    await cal.contact("milton@gmail.com", name="Milton")
    await cal.contact("bill@acme.test", name="Bill")  # acme.test: alice's account's own domain
    joanna = await chronik.graphql(
        'mutation { createContact(input: {email: "joanna@chotchkies.test", '
        'extraEmails: ["joanna@initech.test"]}) { id } }',
        token=alice.token,
    )
    joanna.ok()
    initech = (
        await create(
            chronik, alice, name="Initech", domains=["initech.test", "gmail.com", "acme.test"]
        )
    )["id"]
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    await cal.calendar.create(title="TPS reports", start=start, guests=["peter@initech.test"])
    await cal.sync()

    async def members() -> list[str]:
        read = await chronik.graphql(READ, {"id": initech}, token=alice.token)
        return [c["email"] for c in read.ok()["company"]["contacts"]]

    assert await members() == []
    assert await _titles(chronik, alice, initech) == []
    settings = await chronik.graphql(SETTINGS, {"on": True}, token=alice.token)
    assert settings.ok()["updateAccountSettings"] == {
        "matchCompaniesByDomain": True,
        "autoCreateContacts": False,
    }
    assert sorted(await members()) == ["joanna@chotchkies.test", "peter@initech.test"]
    assert await _titles(chronik, alice, initech) == ["TPS reports"]
    companies = await chronik.graphql(CONTACT_COMPANIES, {"id": peter}, token=alice.token)
    assert companies.ok()["contact"]["companies"] == [{"name": "Initech"}]

    # Off again: only linked contacts remain (none here).
    await chronik.graphql(SETTINGS, {"on": False}, token=alice.token)
    assert await members() == []


LIVE = """subscription($id: ID!) { companyTimeline(companyId: $id) {
  kind entry { occurredAt } meeting { title status } } }"""


async def test_the_company_timeline_updates_live(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    """Changes of its contacts' meetings reach a subscriber of the company, once per meeting
    (two of its contacts on one meeting: one update); others' meetings do not."""
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test", name="Carla")
    dan = await cal.contact("dan@client.test", name="Dan")
    await cal.contact("erin@other.test", name="Erin")
    initech = (await create(chronik, alice, name="Initech"))["id"]
    await chronik.graphql(ADD, {"company": initech, "contacts": [carla, dan]}, token=alice.token)
    feed = chronik.app.state.services.live
    before = feed.subscriber_count
    socket = await GraphQLSocket.open(chronik.url, alice.token)
    try:
        await socket.subscribe(LIVE, {"id": initech})
        await eventually(lambda: feed.subscriber_count == before + 1)
        start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        await cal.calendar.create(title="Erin only", start=start, guests=["erin@other.test"])
        await cal.sync()
        both = await cal.calendar.create(
            title="Both", start=start, guests=["carla@client.test", "dan@client.test"]
        )
        await cal.sync()
        first = await asyncio.wait_for(socket.next(), 10)
        assert first["payload"]["data"]["companyTimeline"]["kind"] == "ADDED"
        assert first["payload"]["data"]["companyTimeline"]["meeting"]["title"] == "Both"
        await cal.calendar.cancel(both)
        await cal.sync()
        gone = await asyncio.wait_for(socket.next(), 10)
        update = gone["payload"]["data"]["companyTimeline"]
        assert (update["kind"], update["entry"], update["meeting"]["title"]) == (
            "REMOVED",
            None,
            "Both",
        )
    finally:
        await socket.close()
    await eventually(lambda: feed.subscriber_count == before)  # nothing left behind


async def test_the_company_timeline_follows_its_contacts_as_they_are_now(
    chronik: RunningChronik, alice: TestUser, db: asyncpg.Connection
) -> None:
    """A contact added to the company after subscribing is followed from then on, one removed
    no longer, and each time the subscriber is told to refetch (the timeline gained or lost
    that contact's meetings at once); a meeting scheduled from the company reaches its
    subscriber whoever the guests are (here a stranger)."""
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test", name="Carla")
    dan = await cal.contact("dan@client.test", name="Dan")
    initech = (await create(chronik, alice, name="Initech"))["id"]
    await chronik.graphql(ADD, {"company": initech, "contacts": [carla]}, token=alice.token)
    feed = chronik.app.state.services.live
    before = feed.subscriber_count
    socket = await GraphQLSocket.open(chronik.url, alice.token)

    async def title() -> tuple[str, str | None]:
        update = (await asyncio.wait_for(socket.next(), 10))["payload"]["data"]["companyTimeline"]
        return update["kind"], update["meeting"] and update["meeting"]["title"]

    try:
        await socket.subscribe(LIVE, {"id": initech})
        await eventually(lambda: feed.subscriber_count == before + 1)
        start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        # Dan joins after the subscription started: his meetings are the company's now.
        await chronik.graphql(ADD, {"company": initech, "contacts": [dan]}, token=alice.token)
        assert await title() == ("RESYNC", None)
        await cal.calendar.create(title="Dan's demo", start=start, guests=["dan@client.test"])
        await cal.sync()
        assert await title() == ("ADDED", "Dan's demo")
        # Carla leaves: hers are not; the next update is Dan's again.
        await chronik.graphql(REMOVE, {"company": initech, "contacts": [carla]}, token=alice.token)
        assert await title() == ("RESYNC", None)
        await cal.calendar.create(title="Carla's lunch", start=start, guests=["carla@client.test"])
        await cal.sync()
        await cal.calendar.create(title="Dan's follow-up", start=start, guests=["dan@client.test"])
        await cal.sync()
        assert await title() == ("ADDED", "Dan's follow-up")
        # Scheduled from the company with a stranger: on its timeline, and live.
        made = await chronik.graphql(
            SCHEDULE,
            {
                "input": {
                    "title": "Intro call",
                    "startsAt": start.isoformat(),
                    "endsAt": (start + timedelta(minutes=30)).isoformat(),
                    "timeZone": "UTC",
                    "attendees": [{"email": "peter@initech.test"}],
                    "companyIds": [initech],
                }
            },
            token=alice.token,
        )
        made.ok()
        assert await title() == ("ADDED", "Intro call")
    finally:
        await socket.close()
    await eventually(lambda: feed.subscriber_count == before)
