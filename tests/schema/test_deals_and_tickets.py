"""Deals and tickets through GraphQL: their fields, contacts and company, listing, the
meetings scheduled from them (their timelines), and the errors a user can hit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from schema.ids import decode_id
from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar
from tests.support.waiting import eventually
from tests.support.ws import GraphQLSocket

DEAL = "id name stage amount closeDate company { name } contacts { email }"
CREATE_DEAL = f"mutation($i: CreateDealInput!) {{ createDeal(input: $i) {{ {DEAL} }} }}"
UPDATE_DEAL = f"""
mutation($id: ID!, $i: UpdateDealInput!) {{ updateDeal(id: $id, input: $i) {{ {DEAL} }} }}"""
DEALS = """query($first: Int, $after: String, $search: String) { deals(first: $first,
  after: $after, search: $search) { totalCount edges { node { name } }
  pageInfo { hasNextPage endCursor } } }"""
TICKET = "id subject status priority company { name } contacts { email }"
CREATE_TICKET = f"mutation($i: CreateTicketInput!) {{ createTicket(input: $i) {{ {TICKET} }} }}"
UPDATE_TICKET = f"""
mutation($id: ID!, $i: UpdateTicketInput!) {{ updateTicket(id: $id, input: $i) {{ {TICKET} }}
}}"""
TIMELINES = """query($deal: ID!, $ticket: ID!) {
  deal(id: $deal) { timeline(first: 10) { totalCount edges { node { meeting { title } } } } }
  ticket(id: $ticket) { timeline(first: 10) { totalCount edges { node { meeting { title } } } } }
}"""


async def _ok(chronik: RunningChronik, user: TestUser, query: str, **variables: object) -> dict:
    return dict((await chronik.graphql(query, variables, token=user.token)).ok())


async def _company(chronik: RunningChronik, user: TestUser, name: str) -> str:
    made = await _ok(
        chronik, user, "mutation($n: String!) { createCompany(input: {name: $n}) { id } }", n=name
    )
    return str(made["createCompany"]["id"])


async def _contact(chronik: RunningChronik, user: TestUser, email: str) -> str:
    made = await _ok(
        chronik, user, "mutation($e: String!) { createContact(input: {email: $e}) { id } }", e=email
    )
    return str(made["createContact"]["id"])


async def test_deal_lifecycle_with_contacts_and_company(
    chronik: RunningChronik, alice: TestUser
) -> None:
    initech = await _company(chronik, alice, "Initech")
    carla = await _contact(chronik, alice, "carla@client.test")
    made = (
        await _ok(
            chronik,
            alice,
            CREATE_DEAL,
            i={
                "name": " Renewal 2027 ",
                "amount": "12500.5",
                "closeDate": "2027-03-31",
                "companyId": initech,
            },
        )
    )["createDeal"]
    assert (made["name"], made["stage"], made["amount"], made["closeDate"]) == (
        "Renewal 2027",
        "APPOINTMENT_SCHEDULED",
        "12500.50",
        "2027-03-31",
    )
    assert made["company"] == {"name": "Initech"}
    linked = await _ok(
        chronik,
        alice,
        "mutation($d: ID!, $c: [ID!]!) { addDealContacts(dealId: $d, contactIds: $c) "
        "{ contacts { email } } }",
        d=made["id"],
        c=[carla],
    )
    assert linked["addDealContacts"]["contacts"] == [{"email": "carla@client.test"}]
    updated = (
        await _ok(
            chronik,
            alice,
            UPDATE_DEAL,
            id=made["id"],
            i={"stage": "CLOSED_WON", "amount": None, "companyId": None},
        )
    )["updateDeal"]
    assert (updated["stage"], updated["amount"], updated["company"]) == ("CLOSED_WON", None, None)
    assert updated["closeDate"] == "2027-03-31"  # untouched fields stay

    # Deleting the company keeps the deal; deleting the deal keeps its contact.
    await _ok(chronik, alice, UPDATE_DEAL, id=made["id"], i={"companyId": initech})
    await _ok(
        chronik,
        alice,
        "mutation($id: ID!) { deleteCompany(id: $id) { deletedCompanyId } }",
        id=initech,
    )
    read = await _ok(
        chronik, alice, f"query($id: ID!) {{ deal(id: $id) {{ {DEAL} }} }}", id=made["id"]
    )
    assert read["deal"]["company"] is None
    await _ok(
        chronik,
        alice,
        "mutation($id: ID!) { deleteDeal(id: $id) { deletedDealId } }",
        id=made["id"],
    )
    gone = await chronik.graphql(
        f"query($id: ID!) {{ deal(id: $id) {{ {DEAL} }} }}", {"id": made["id"]}, token=alice.token
    )
    assert gone.error_codes == ["NOT_FOUND"]
    contact = await _ok(chronik, alice, "query($id: ID!) { contact(id: $id) { email } }", id=carla)
    assert contact["contact"]["email"] == "carla@client.test"


async def test_ticket_lifecycle(chronik: RunningChronik, alice: TestUser) -> None:
    globex = await _company(chronik, alice, "Globex")
    made = (
        await _ok(chronik, alice, CREATE_TICKET, i={"subject": "Login fails", "companyId": globex})
    )["createTicket"]
    assert (made["subject"], made["status"], made["priority"]) == ("Login fails", "NEW", "MEDIUM")
    assert made["company"] == {"name": "Globex"}
    updated = (
        await _ok(
            chronik,
            alice,
            UPDATE_TICKET,
            id=made["id"],
            i={"status": "WAITING_ON_US", "priority": "URGENT"},
        )
    )["updateTicket"]
    assert (updated["status"], updated["priority"], updated["subject"]) == (
        "WAITING_ON_US",
        "URGENT",
        "Login fails",
    )
    listed = await _ok(chronik, alice, '{ tickets(search: "LOGIN") { totalCount } }')
    assert listed["tickets"]["totalCount"] == 1


async def test_bad_input_names_its_field_and_changes_nothing(
    chronik: RunningChronik, alice: TestUser, bob: TestUser
) -> None:
    deal = (await _ok(chronik, alice, CREATE_DEAL, i={"name": "Deal"}))["createDeal"]["id"]
    ticket = (await _ok(chronik, alice, CREATE_TICKET, i={"subject": "T"}))["createTicket"]["id"]
    bobs_company = await _company(chronik, bob, "Bob's")
    cases = [
        (CREATE_DEAL, {"i": {"name": " "}}, "VALIDATION", "name"),
        (CREATE_DEAL, {"i": {"name": "D", "amount": "-1"}}, "VALIDATION", "amount"),
        (CREATE_DEAL, {"i": {"name": "D", "amount": "1e20"}}, "VALIDATION", "amount"),
        (UPDATE_DEAL, {"id": deal, "i": {"stage": None}}, "VALIDATION", "stage"),
        (CREATE_TICKET, {"i": {"subject": ""}}, "VALIDATION", "subject"),
        (UPDATE_TICKET, {"id": ticket, "i": {"priority": None}}, "VALIDATION", "priority"),
        (DEALS, {"first": 101}, "VALIDATION", "first"),
        (CREATE_DEAL, {"i": {"name": "D", "companyId": bobs_company}}, "NOT_FOUND", None),
        (UPDATE_TICKET, {"id": ticket, "i": {"companyId": bobs_company}}, "NOT_FOUND", None),
    ]
    for query, variables, code, field in cases:
        result = await chronik.graphql(query, variables, token=alice.token)
        assert result.error_codes == [code], (variables, result.body)
        if field:
            assert result.errors[0]["extensions"]["field"] == field
    listed = await _ok(chronik, alice, DEALS)
    assert [e["node"]["name"] for e in listed["deals"]["edges"]] == ["Deal"]
    read = await _ok(
        chronik, alice, f"query($id: ID!) {{ ticket(id: $id) {{ {TICKET} }} }}", id=ticket
    )
    assert read["ticket"]["company"] is None and read["ticket"]["priority"] == "MEDIUM"


async def test_deals_page_by_name(chronik: RunningChronik, alice: TestUser) -> None:
    for name in ("delta", "Alpha", "charlie", "Bravo", "echo"):
        await _ok(chronik, alice, CREATE_DEAL, i={"name": name})
    names: list[str] = []
    after = None
    while True:
        page = (await _ok(chronik, alice, DEALS, first=2, after=after))["deals"]
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == ["Alpha", "Bravo", "charlie", "delta", "echo"]


async def test_meetings_scheduled_from_a_deal_and_a_ticket_are_on_their_timelines(
    chronik: RunningChronik, alice: TestUser, bob: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    deal = (await _ok(chronik, alice, CREATE_DEAL, i={"name": "Renewal"}))["createDeal"]["id"]
    ticket = (await _ok(chronik, alice, CREATE_TICKET, i={"subject": "Outage"}))["createTicket"][
        "id"
    ]
    bobs_deal = (await _ok(chronik, bob, CREATE_DEAL, i={"name": "Bob's"}))["createDeal"]["id"]
    start = (datetime.now(UTC) + timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    meeting = {
        "title": "Pricing",
        "startsAt": start.isoformat(),
        "endsAt": (start + timedelta(hours=1)).isoformat(),
        "timeZone": "UTC",
        "attendees": [{"email": "buyer@client.test"}],
    }
    schedule = "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }"
    refused = await chronik.graphql(
        schedule, {"i": {**meeting, "dealIds": [bobs_deal]}}, token=alice.token
    )
    assert refused.error_codes == ["NOT_FOUND"]
    assert await cal.db.fetchval("SELECT count(*) FROM meetings") == 0
    made = await _ok(chronik, alice, schedule, i={**meeting, "dealIds": [deal]})
    await _ok(
        chronik,
        alice,
        schedule,
        i={
            **meeting,
            "title": "Postmortem",
            "startsAt": (start + timedelta(days=1)).isoformat(),
            "endsAt": (start + timedelta(days=1, hours=1)).isoformat(),
            "dealIds": [deal],
            "ticketIds": [ticket],
        },
    )
    await cal.sync()
    shown = await _ok(chronik, alice, TIMELINES, deal=deal, ticket=ticket)
    assert [e["node"]["meeting"]["title"] for e in shown["deal"]["timeline"]["edges"]] == [
        "Postmortem",
        "Pricing",
    ]
    assert [e["node"]["meeting"]["title"] for e in shown["ticket"]["timeline"]["edges"]] == [
        "Postmortem"
    ]
    # A page costs the same statements whatever it holds (one page, two pages of one).
    counts = []
    after = None
    for _ in range(2):
        chronik.statements.clear()
        page = await _ok(
            chronik,
            alice,
            "query($d: ID!, $a: String) { deal(id: $d) { timeline(first: 1, after: $a) {"
            " edges { node { meeting { title attendees { email contact { email } } } } }"
            " pageInfo { endCursor } } } }",
            d=deal,
            a=after,
        )
        counts.append(len(chronik.statements))
        after = page["deal"]["timeline"]["pageInfo"]["endCursor"]
    assert counts[0] == counts[1], counts
    # Deleting the meeting in Chronik takes it off; deleting the deal keeps the other meeting.
    await _ok(
        chronik,
        alice,
        "mutation($id: ID!) { deleteMeeting(id: $id) { deletedMeetingId } }",
        id=made["scheduleMeeting"]["id"],
    )
    shown = await _ok(chronik, alice, TIMELINES, deal=deal, ticket=ticket)
    assert shown["deal"]["timeline"]["totalCount"] == 1
    await _ok(
        chronik, alice, "mutation($id: ID!) { deleteDeal(id: $id) { deletedDealId } }", id=deal
    )
    assert await cal.db.fetchval("SELECT count(*) FROM meetings WHERE deleted_at IS NULL") == 1
    shown = await _ok(
        chronik,
        alice,
        "query($t: ID!) { ticket(id: $t) { timeline { totalCount } } }",
        t=ticket,
    )
    assert shown["ticket"]["timeline"]["totalCount"] == 1


LIVE = """subscription($id: ID!) {{ {field}({arg}: $id) {{
  kind entry {{ id occurredAt meeting {{ title }} }} meeting {{ title status }} }} }}"""
DEAL_LIVE = LIVE.format(field="dealTimeline", arg="dealId")
TICKET_LIVE = LIVE.format(field="ticketTimeline", arg="ticketId")


async def _update(socket: GraphQLSocket, op_id: str) -> dict:
    """The next message, which must be an update of the operation `op_id`."""
    message = await asyncio.wait_for(socket.next(), 10)
    assert message["id"] == op_id and message["type"] == "next", message
    data = message["payload"]["data"]
    return dict(next(iter(data.values())))


async def test_deal_and_ticket_timelines_update_live(
    chronik: RunningChronik, alice: TestUser, bob: TestUser, db: asyncpg.Connection
) -> None:
    """Whatever changes the meetings scheduled from a deal or a ticket reaches its subscribers
    (scheduled from it, changed in the calendar, moved to another record, cancelled), whoever
    the guests are (here a stranger, no contact); another account's deal is not found."""
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    deal = (await _ok(chronik, alice, CREATE_DEAL, i={"name": "Renewal"}))["createDeal"]["id"]
    ticket = (await _ok(chronik, alice, CREATE_TICKET, i={"subject": "Outage"}))["createTicket"][
        "id"
    ]
    bobs_deal = (await _ok(chronik, bob, CREATE_DEAL, i={"name": "Bob's"}))["createDeal"]["id"]
    feed = chronik.app.state.services.live
    before = feed.subscriber_count
    socket = await GraphQLSocket.open(chronik.url, alice.token)
    intruder = await GraphQLSocket.open(chronik.url, bob.token)
    try:
        # Bob, on alice's deal: the typed error, then the operation is over.
        await intruder.subscribe(DEAL_LIVE, {"id": deal}, op_id="spy")
        refused = await asyncio.wait_for(intruder.next(), 10)
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"], refused
        if refused["type"] == "next":
            assert await asyncio.wait_for(intruder.next(), 10) == {"id": "spy", "type": "complete"}
        # ... and on his own deal he hears nothing of alice's.
        await intruder.subscribe(DEAL_LIVE, {"id": bobs_deal}, op_id="own")

        await socket.subscribe(DEAL_LIVE, {"id": deal}, op_id="deal")
        await socket.subscribe(TICKET_LIVE, {"id": ticket}, op_id="ticket")
        await eventually(lambda: feed.subscriber_count == before + 3)
        start = (datetime.now(UTC) + timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
        made = await _ok(
            chronik,
            alice,
            "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
            i={
                "title": "Pricing",
                "startsAt": start.isoformat(),
                "endsAt": (start + timedelta(hours=1)).isoformat(),
                "timeZone": "UTC",
                "attendees": [{"email": "buyer@client.test"}],
                "dealIds": [deal],
            },
        )
        meeting_id = made["scheduleMeeting"]["id"]
        added = await _update(socket, "deal")
        assert (added["kind"], added["entry"]["meeting"]["title"]) == ("ADDED", "Pricing")
        assert datetime.fromisoformat(added["entry"]["occurredAt"]) == start

        # Changed in the calendar (the sync brings it): the deal's subscriber sees it.
        event_id = await db.fetchval(
            "SELECT provider_event_id FROM meetings WHERE id = $1", decode_id("Meeting", meeting_id)
        )
        await cal.calendar.update(event_id, title="Pricing, final")
        await cal.sync()
        changed = await _update(socket, "deal")
        assert (changed["kind"], changed["entry"]["meeting"]["title"]) == (
            "UPDATED",
            "Pricing, final",
        )

        # Moved from the deal to the ticket: off one, on the other.
        await _ok(
            chronik,
            alice,
            "mutation($id: ID!, $i: UpdateMeetingInput!) { updateMeeting(id: $id, input: $i) "
            "{ id } }",
            id=meeting_id,
            i={"dealIds": [], "ticketIds": [ticket]},
        )
        updates = {}
        for _ in range(2):
            message = await asyncio.wait_for(socket.next(), 10)
            updates[message["id"]] = next(iter(message["payload"]["data"].values()))
        assert (updates["deal"]["kind"], updates["deal"]["entry"]) == ("REMOVED", None)
        assert updates["deal"]["meeting"]["title"] == "Pricing, final"
        assert updates["ticket"]["kind"] == "ADDED"
        assert updates["ticket"]["entry"]["meeting"]["title"] == "Pricing, final"

        # Cancelled: off the ticket's timeline.
        await _ok(
            chronik,
            alice,
            "mutation($id: ID!) { cancelMeeting(id: $id) { status } }",
            id=meeting_id,
        )
        cancelled = await _update(socket, "ticket")
        assert (cancelled["kind"], cancelled["entry"], cancelled["meeting"]["status"]) == (
            "REMOVED",
            None,
            "CANCELLED",
        )

        # Nothing of all this reached bob: his next message answers his own question.
        await intruder.subscribe("{ me { email } }", {}, op_id="me")
        answer = await asyncio.wait_for(intruder.next(), 10)
        assert (answer["id"], answer["payload"]["data"]["me"]["email"]) == ("me", bob.email)
    finally:
        await socket.close()
        await intruder.close()
    await eventually(lambda: feed.subscriber_count == before)  # nothing left behind
