"""The authorization table (docs/authorization.md), called row by row as every kind of caller.

The rows come from the rules guarding the schema (schema/permissions.py), the same source the
document is rendered from. Each row is one test: Acme has an admin (alice) and a member (max),
with linked calendars holding two synced meetings each when the row needs them. Every cell
of the row is called as its caller on its target (the caller's own meeting, or a colleague's);
an allowed call must succeed and show its target, a refused one must answer its code and leave
everything as it was.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import websockets

from schema.authorization import Row, markdown, rows
from schema.ids import decode_id, encode_id
from schema.permissions import Outcome
from schema.root import schema
from tests.conftest import TestUser, make_user
from tests.support import dummy_provider
from tests.support.calendar import GoogleCalendar
from tests.support.linking import INSTALL, link_calendar, sandbox_url
from tests.support.server import RunningChronik
from tests.support.sync import LinkedCalendar
from tests.support.ws import GraphQLSocket

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "authorization.md"
ROWS = rows(schema)
SOON = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
CARLA = "carla@client.test"

# Everything a refused call could have changed, as the admin sees it.
WORLD = """{
  account { domains autoCreateContacts integrationProvider }
  calendarConnections { calendarEmail status }
  contacts(first: 100) { edges { node { id email phone } } }
  meetings(first: 100, filter: {includeCancelled: true}) { edges { node { id title status } } }
}"""


@dataclass
class Scene:
    chronik: RunningChronik
    db: asyncpg.Connection
    admin: TestUser
    member: TestUser
    carla: str  # a contact's id
    # Meeting ids by (owner's email, 1 or 2), when the row needs calendars.
    meetings: dict[tuple[str, int], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """One cell: who calls, and on what (a meeting id, for rows about meetings)."""

    column: str
    outcome: Outcome
    caller: TestUser | None  # None: no token
    target: str | None


Variables = Callable[[Scene, Cell], Awaitable[dict[str, Any]]]


async def nothing(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {}


async def the_contact(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {"id": scene.carla}


async def the_meeting(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {"id": cell.target}


async def the_meetings_calendar(scene: Scene, cell: Cell) -> dict[str, Any]:
    """The calendar connection holding the cell's target meeting (its owner's)."""
    assert cell.target is not None
    connection = await scene.db.fetchval(
        "SELECT connection_id FROM meetings WHERE id = $1", decode_id("Meeting", cell.target)
    )
    return {"id": encode_id("CalendarConnection", connection)}


async def the_contact_and_the_meetings_calendar(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {"ids": [scene.carla, (await the_meetings_calendar(scene, cell))["id"]]}


async def a_new_contact(scene: Scene, cell: Cell) -> dict[str, Any]:
    made = await scene.chronik.graphql(
        "mutation($e: String!) { createContact(input: {email: $e}) { id } }",
        {"e": f"fresh-{cell.column}@client.test"},
        token=scene.admin.token,
    )
    return {"id": made.ok()["createContact"]["id"]}


async def contact_input(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {"input": {"email": f"new-{cell.column}@client.test", "firstName": "New"}}


async def new_phone(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {"id": scene.carla, "input": {"phone": "+49 30 1234567"}}


async def a_new_company(scene: Scene, cell: Cell) -> dict[str, Any]:
    made = await scene.chronik.graphql(
        "mutation($n: String!) { createCompany(input: {name: $n}) { id } }",
        {"n": f"Company of {cell.column}"},
        token=scene.admin.token,
    )
    return {"id": made.ok()["createCompany"]["id"]}


async def company_input(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {"input": {"name": f"New {cell.column}", "domains": [f"{cell.column}.test"]}}


async def new_city(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {**await a_new_company(scene, cell), "input": {"city": "Berlin"}}


async def carla_in_a_company(scene: Scene, cell: Cell) -> dict[str, Any]:
    company = await a_new_company(scene, cell)
    return {"company": company["id"], "contacts": [scene.carla]}


async def company_of_carla(scene: Scene, cell: Cell) -> dict[str, Any]:
    company = await carla_in_a_company(scene, cell)
    linked = await scene.chronik.graphql(
        "mutation($company: ID!, $contacts: [ID!]!) "
        "{ addCompanyContacts(companyId: $company, contactIds: $contacts) { id } }",
        company,
        token=scene.admin.token,
    )
    return {"id": linked.ok()["addCompanyContacts"]["id"]}


async def a_new_deal(scene: Scene, cell: Cell) -> dict[str, Any]:
    made = await scene.chronik.graphql(
        "mutation($n: String!) { createDeal(input: {name: $n}) { id } }",
        {"n": f"Deal of {cell.column}"},
        token=scene.admin.token,
    )
    return {"id": made.ok()["createDeal"]["id"]}


async def a_new_ticket(scene: Scene, cell: Cell) -> dict[str, Any]:
    made = await scene.chronik.graphql(
        "mutation($s: String!) { createTicket(input: {subject: $s}) { id } }",
        {"s": f"Ticket of {cell.column}"},
        token=scene.admin.token,
    )
    return {"id": made.ok()["createTicket"]["id"]}


async def carla_on_a_deal(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {"record": (await a_new_deal(scene, cell))["id"], "contacts": [scene.carla]}


async def carla_on_a_ticket(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {"record": (await a_new_ticket(scene, cell))["id"], "contacts": [scene.carla]}


async def a_week(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {"s": SOON.isoformat(), "e": (SOON + timedelta(days=7)).isoformat()}


async def a_meeting_with_carla(scene: Scene, cell: Cell) -> dict[str, Any]:
    return {"input": _meeting_input(scene, f"Planned by {cell.column}")}


def _meeting_input(scene: Scene, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "startsAt": SOON.isoformat(),
        "endsAt": (SOON + timedelta(minutes=30)).isoformat(),
        "timeZone": "Europe/Berlin",
        "attendees": [{"contactId": scene.carla}],
    }


async def a_dummy_calendar(scene: Scene, cell: Cell) -> dict[str, Any]:
    """The account on the test's dummy provider (it links with typed credentials), and the
    caller's dummy calendar's address and password."""
    admin = scene.admin.token
    for change in (
        "mutation { uninstallCalendarIntegration { integrationProvider } }",
        "mutation { installCalendarIntegration(provider: DUMMY) { integrationProvider } }",
    ):
        (await scene.chronik.graphql(change, token=admin)).ok()
    owner = (cell.caller or scene.member).email
    dummy_provider.calendar(owner, "app-password")
    values = {"address": owner, "password": "app-password"}
    return {"credentials": [{"name": name, "value": value} for name, value in values.items()]}


@dataclass(frozen=True)
class Call:
    document: str
    variables: Variables = nothing
    calendars: bool = False  # needs alice's and max's calendars linked
    meetings: bool = False  # needs two synced meetings in each calendar (the cells' targets)
    shows_target: bool = False  # an allowed call answers with the target meeting's id


CALLS: dict[str, Call] = {
    "me": Call("{ me { email } }"),
    "account": Call("{ account { name } }"),
    "contacts": Call("{ contacts(first: 5) { totalCount } }"),
    "contact": Call("query($id: ID!) { contact(id: $id) { email } }", the_contact),
    "companies": Call("{ companies(first: 5) { totalCount } }"),
    "company": Call("query($id: ID!) { company(id: $id) { name } }", a_new_company),
    "deals": Call("{ deals(first: 5) { totalCount } }"),
    "deal": Call("query($id: ID!) { deal(id: $id) { name } }", a_new_deal),
    "tickets": Call("{ tickets(first: 5) { totalCount } }"),
    "ticket": Call("query($id: ID!) { ticket(id: $id) { subject } }", a_new_ticket),
    "calendarProviders": Call("{ calendarProviders { provider configured linkMethod } }"),
    "calendarConnection": Call("{ calendarConnection { status } }"),
    "calendarLinkAttempt": Call("{ calendarLinkAttempt { status } }"),
    "calendarConnections": Call("{ calendarConnections { calendarEmail } }"),
    "meeting": Call(
        "query($id: ID!) { meeting(id: $id) { id title } }",
        the_meeting,
        meetings=True,
        shows_target=True,
    ),
    "meetings": Call(
        "{ meetings(first: 100) { edges { node { id } } } }", meetings=True, shows_target=True
    ),
    "freeBusy": Call(
        "query($s: DateTime!, $e: DateTime!) { freeBusy(start: $s, end: $e) { start } }",
        a_week,
        calendars=True,
    ),
    "explainEvent": Call(
        "query($id: ID!) { explainEvent(meetingId: $id) { reason } }", the_meeting, meetings=True
    ),
    "node": Call(
        "query($id: ID!) { node(id: $id) { ... on CalendarConnection { calendarEmail } } }",
        the_meetings_calendar,
        meetings=True,
    ),
    "nodes": Call(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        the_contact_and_the_meetings_calendar,
        meetings=True,
    ),
    "addAccountDomain": Call('mutation { addAccountDomain(domain: "partner.test") { domains } }'),
    "updateAccountSettings": Call(
        "mutation { updateAccountSettings(autoCreateContacts: true) { autoCreateContacts } }"
    ),
    "removeAccountDomain": Call('mutation { removeAccountDomain(domain: "acme.test") { id } }'),
    "createContact": Call(
        "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }",
        contact_input,
    ),
    "updateContact": Call(
        "mutation($id: ID!, $input: UpdateContactInput!) "
        "{ updateContact(id: $id, input: $input) { phone } }",
        new_phone,
    ),
    "deleteContact": Call(
        "mutation($id: ID!) { deleteContact(id: $id) { deletedContactId } }", a_new_contact
    ),
    "createCompany": Call(
        "mutation($input: CreateCompanyInput!) { createCompany(input: $input) { id } }",
        company_input,
    ),
    "updateCompany": Call(
        "mutation($id: ID!, $input: UpdateCompanyInput!) "
        "{ updateCompany(id: $id, input: $input) { city } }",
        new_city,
    ),
    "deleteCompany": Call(
        "mutation($id: ID!) { deleteCompany(id: $id) { deletedCompanyId } }", a_new_company
    ),
    "addCompanyContacts": Call(
        "mutation($company: ID!, $contacts: [ID!]!) "
        "{ addCompanyContacts(companyId: $company, contactIds: $contacts) { name } }",
        carla_in_a_company,
    ),
    "removeCompanyContacts": Call(
        "mutation($company: ID!, $contacts: [ID!]!) "
        "{ removeCompanyContacts(companyId: $company, contactIds: $contacts) { name } }",
        carla_in_a_company,
    ),
    "createDeal": Call('mutation { createDeal(input: {name: "Renewal"}) { id } }'),
    "updateDeal": Call(
        "mutation($id: ID!) { updateDeal(id: $id, input: {stage: CLOSED_WON}) { stage } }",
        a_new_deal,
    ),
    "deleteDeal": Call("mutation($id: ID!) { deleteDeal(id: $id) { deletedDealId } }", a_new_deal),
    "addDealContacts": Call(
        "mutation($record: ID!, $contacts: [ID!]!) "
        "{ addDealContacts(dealId: $record, contactIds: $contacts) { name } }",
        carla_on_a_deal,
    ),
    "removeDealContacts": Call(
        "mutation($record: ID!, $contacts: [ID!]!) "
        "{ removeDealContacts(dealId: $record, contactIds: $contacts) { name } }",
        carla_on_a_deal,
    ),
    "createTicket": Call('mutation { createTicket(input: {subject: "Outage"}) { id } }'),
    "updateTicket": Call(
        "mutation($id: ID!) { updateTicket(id: $id, input: {status: CLOSED}) { status } }",
        a_new_ticket,
    ),
    "deleteTicket": Call(
        "mutation($id: ID!) { deleteTicket(id: $id) { deletedTicketId } }", a_new_ticket
    ),
    "addTicketContacts": Call(
        "mutation($record: ID!, $contacts: [ID!]!) "
        "{ addTicketContacts(ticketId: $record, contactIds: $contacts) { subject } }",
        carla_on_a_ticket,
    ),
    "removeTicketContacts": Call(
        "mutation($record: ID!, $contacts: [ID!]!) "
        "{ removeTicketContacts(ticketId: $record, contactIds: $contacts) { subject } }",
        carla_on_a_ticket,
    ),
    "installCalendarIntegration": Call(
        "mutation { installCalendarIntegration(provider: GOOGLE) { integrationProvider } }"
    ),
    "uninstallCalendarIntegration": Call(
        "mutation { uninstallCalendarIntegration { integrationProvider } }", calendars=True
    ),
    "startCalendarLink": Call(
        "mutation { startCalendarLink(provider: GOOGLE) { authorizationUrl } }"
    ),
    "linkCalendarWithCredentials": Call(
        "mutation($credentials: [CredentialInput!]!) { linkCalendarWithCredentials("
        "provider: DUMMY, credentials: $credentials) { calendarEmail status } }",
        a_dummy_calendar,
    ),
    "syncCalendarNow": Call("mutation { syncCalendarNow { id } }", calendars=True),
    "disconnectCalendar": Call("mutation { disconnectCalendar { status } }", calendars=True),
    "scheduleMeeting": Call(
        "mutation($input: ScheduleMeetingInput!) { scheduleMeeting(input: $input) { id } }",
        a_meeting_with_carla,
        calendars=True,
    ),
    "updateMeeting": Call(
        'mutation($id: ID!) { updateMeeting(id: $id, input: {title: "Renamed"}) { id title } }',
        the_meeting,
        meetings=True,
        shows_target=True,
    ),
    "cancelMeeting": Call(
        "mutation($id: ID!) { cancelMeeting(id: $id) { id status } }",
        the_meeting,
        meetings=True,
        shows_target=True,
    ),
    "deleteMeeting": Call(
        "mutation($id: ID!, $alsoDeleteCalendarEvent: Boolean! = false) { deleteMeeting("
        "id: $id, alsoDeleteCalendarEvent: $alsoDeleteCalendarEvent) { deletedMeetingId } }",
        the_meeting,
        meetings=True,
        shows_target=True,
    ),
    "contactTimeline": Call(
        "subscription($id: ID!) { contactTimeline(contactId: $id) { kind meeting { title } } }",
        the_contact,
        calendars=True,  # the update it waits for: a meeting scheduled with the contact
    ),
    "companyTimeline": Call(
        "subscription($id: ID!) { companyTimeline(companyId: $id) { kind meeting { title } } }",
        company_of_carla,
        calendars=True,  # the update it waits for: a meeting scheduled with its contact
    ),
    "dealTimeline": Call(
        "subscription($id: ID!) { dealTimeline(dealId: $id) { kind meeting { title } } }",
        a_new_deal,
        calendars=True,  # the update it waits for: a meeting scheduled from the deal
    ),
    "ticketTimeline": Call(
        "subscription($id: ID!) { ticketTimeline(ticketId: $id) { kind meeting { title } } }",
        a_new_ticket,
        calendars=True,  # the update it waits for: a meeting scheduled from the ticket
    ),
    "calendarSyncState": Call("subscription { calendarSyncState { phase } }", calendars=True),
}


def test_the_document_is_the_table_the_schema_enforces() -> None:
    assert DOCUMENT.read_text() == markdown(schema), (
        "docs/authorization.md is stale: run "
        "`python -m schema.authorization > docs/authorization.md` and commit it"
    )


def test_every_operation_of_the_schema_is_a_row_with_a_call() -> None:
    assert [row.field for row in ROWS if not row.arguments] == list(CALLS)


async def _meeting_id(db: asyncpg.Connection, title: str) -> str:
    pk = await db.fetchval("SELECT id FROM meetings WHERE title = $1", title)
    assert pk is not None, f"no meeting {title!r} was synced"
    return encode_id("Meeting", pk)


async def _link(scene: Scene, user: TestUser) -> LinkedCalendar:
    """Link the user's Google calendar (owner: their address) and wait for its first sync."""
    chronik = scene.chronik
    await link_calendar(chronik, user.token, "GOOGLE", user.email, install=False)
    calendar = GoogleCalendar(chronik.http, sandbox_url(chronik, "GOOGLE"), user.email)
    linked = LinkedCalendar(chronik, user, calendar, scene.db)
    await linked.wait_synced(after=None)
    return linked


async def _with_meetings(linked: LinkedCalendar) -> None:
    for number in (1, 2):
        await linked.calendar.create(
            title=f"{linked.user.email} #{number}", start=SOON, guests=[CARLA]
        )
    await linked.sync()


async def _with_calendars(scene: Scene, *, meetings: bool) -> None:
    """Link alice's and max's calendars (side by side); with `meetings`, each gets two
    meetings with carla, synced."""
    calendars = await asyncio.gather(_link(scene, scene.admin), _link(scene, scene.member))
    if not meetings:
        return
    await asyncio.gather(*(_with_meetings(linked) for linked in calendars))
    for linked in calendars:
        for number in (1, 2):
            title = f"{linked.user.email} #{number}"
            scene.meetings[(linked.user.email, number)] = await _meeting_id(scene.db, title)


@pytest.fixture
async def scene(chronik: RunningChronik, db: asyncpg.Connection, alice: TestUser) -> Scene:
    """Acme: alice (admin, first user) and max (member), Google installed, carla a contact."""
    max_ = await make_user(db, "Acme", "max@acme.test")
    (await chronik.graphql(INSTALL, {"p": "GOOGLE"}, token=alice.token)).ok()
    carla = await chronik.graphql(
        'mutation { createContact(input: {email: "carla@client.test"}) { id } }',
        token=alice.token,
    )
    return Scene(chronik, db, alice, max_, carla.ok()["createContact"]["id"])


def _cells(scene: Scene, row: Row) -> list[Cell]:
    """The row's cells: (column, outcome, caller, target); own meetings #1 go to the members,
    #2 to the admins, so no two allowed cells share a target."""
    grants = row.grants
    admin, member = scene.admin.email, scene.member.email
    meetings = scene.meetings
    cells = [
        Cell("anonymous", grants.anonymous, None, meetings.get((admin, 1))),
        Cell("member-own", grants.member_own, scene.member, meetings.get((member, 1))),
        Cell("member-colleagues", grants.member_colleagues, scene.member, meetings.get((admin, 1))),
        Cell("admin-own", grants.admin_own, scene.admin, meetings.get((admin, 2))),
        Cell("admin-colleagues", grants.admin_colleagues, scene.admin, meetings.get((member, 2))),
    ]
    return [cell for cell in cells if cell.outcome is not Outcome.NOT_APPLICABLE]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.operation}-{r.name}" for r in ROWS])
async def test_each_caller_gets_what_the_table_says(row: Row, scene: Scene) -> None:
    call = CALLS[row.field]
    if call.calendars or call.meetings:
        await _with_calendars(scene, meetings=call.meetings)
    for cell in _cells(scene, row):
        variables = {**await call.variables(scene, cell), **row.arguments}
        if row.operation == "subscription":
            await _check_subscription(scene, call, cell, variables)
        else:
            await _check_call(scene, call, cell, variables)


async def _check_call(scene: Scene, call: Call, cell: Cell, variables: dict[str, Any]) -> None:
    token = cell.caller.token if cell.caller else None
    before = await _world(scene)
    result = await scene.chronik.graphql(call.document, variables, token=token)
    if cell.outcome is Outcome.ALLOWED:
        data = result.ok()
        if call.shows_target:  # e.g. a colleague's meeting is among what the caller sees
            assert cell.target and cell.target in json.dumps(data), (cell, data)
        return
    assert result.error_codes == [cell.outcome.value], (cell, result.body)
    assert await _world(scene) == before, f"{cell} changed something"


async def _world(scene: Scene) -> Any:
    return (await scene.chronik.graphql(WORLD, token=scene.admin.token)).ok()


async def _check_subscription(
    scene: Scene, call: Call, cell: Cell, variables: dict[str, Any]
) -> None:
    if cell.caller is None:
        assert await _socket_refused(scene.chronik) == 4403
        return
    socket = await GraphQLSocket.open(scene.chronik.url, cell.caller.token)
    try:
        await socket.subscribe(call.document, variables)
        if "Timeline(" in call.document:
            # Something to report: a colleague schedules a meeting with the contact (from the
            # deal or the ticket, for theirs).
            await asyncio.sleep(0.2)  # the subscription is registered before the change
            colleague = scene.member if cell.caller is scene.admin else scene.admin
            meeting = _meeting_input(scene, f"Seen by {cell.column}")
            if "dealTimeline" in call.document:
                meeting["dealIds"] = [variables["id"]]
            if "ticketTimeline" in call.document:
                meeting["ticketIds"] = [variables["id"]]
            scheduled = await scene.chronik.graphql(
                "mutation($input: ScheduleMeetingInput!) { scheduleMeeting(input: $input) { id } }",
                {"input": meeting},
                token=colleague.token,
            )
            scheduled.ok()
        message = await asyncio.wait_for(socket.next(), 10)
    finally:
        await socket.close()
    if cell.outcome is Outcome.ALLOWED:
        assert message["type"] == "next" and not message["payload"].get("errors"), message
    else:
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == [cell.outcome.value], message


async def _socket_refused(chronik: RunningChronik) -> int:
    """The close code of a websocket that says hello without a token."""
    url = chronik.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code
