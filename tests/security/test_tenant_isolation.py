"""Tenant isolation, driven by the schema itself.

Every query, mutation and subscription field that takes an ID (as an argument, or inside an
input) is called as `bob` with the ids of `alice`'s objects, in every ID position: each answer
is `NOT_FOUND` or `FORBIDDEN`, names nothing of hers, and her data is unchanged afterwards.
The fields come from introspection, so a field added later is tried too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.conftest import TestUser
from tests.support.server import RunningChronik
from tests.support.sync import linked_calendar
from tests.support.ws import GraphQLSocket

TYPE_REF = (
    "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"
)
INTROSPECT = f"""
{{ __schema {{
  queryType {{ name }} mutationType {{ name }} subscriptionType {{ name }}
  types {{
    kind name
    enumValues {{ name }}
    fields {{ name type {{ {TYPE_REF} }} args {{ name defaultValue type {{ {TYPE_REF} }} }} }}
    inputFields {{ name defaultValue type {{ {TYPE_REF} }} }}
  }}
}} }}"""

# What alice sees, one root field per request (each must be unchanged by bob's calls).
ALICE_VIEW = (
    "{ account { name domains autoCreateContacts integrationProvider } }",
    "{ calendarConnection { id status calendarEmail } }",
    # (Small pages, within the node limit and the account's budget: alice has a handful of
    # contacts and meetings.)
    """{ contacts(first: 20) { edges { node { id email firstName lastName extraEmails
    companyName phone updatedAt timeline(first: 10) { edges { node { id meeting { id title
    status startsAt endsAt attendees { email response } } } } } } } } }""",
    """{ meetings(first: 100, filter: {includeCancelled: true}) { edges { node { id title
    status } } } }""",
    """{ companies(first: 100) { edges { node { id name domains industry phone city updatedAt
    contacts { id } timeline(first: 100) { edges { node { id meeting { id title } } } } } } } }""",
    """{ deals(first: 100) { edges { node { id name stage amount closeDate company { id }
    contacts { id } timeline { edges { node { id meeting { id title } } } } } } } }""",
    """{ tickets(first: 100) { edges { node { id subject status priority company { id }
    contacts { id } timeline { edges { node { id meeting { id title } } } } } } } }""",
)


async def alice_view(chronik: RunningChronik, alice: TestUser) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for query in ALICE_VIEW:
        view.update((await chronik.graphql(query, token=alice.token)).ok())
    return view


REFUSALS = {"NOT_FOUND", "FORBIDDEN"}
MEETING_TITLE = "Acme acquisition of Initech"
# Everything of alice's that must never appear in an answer to bob.
ALICE_SECRETS = (
    MEETING_TITLE,
    "alice@acme.test",
    "carla@client.test",
    "Carlotta",
    "Acme",
    "acme.test",
    "client.test",
)


@dataclass(frozen=True)
class Field:
    operation: str  # query, mutation or subscription
    name: str
    args: list[dict[str, Any]]
    returns: dict[str, Any]


class Schema:
    """The introspected schema, and argument values built from its types."""

    def __init__(self, introspected: dict[str, Any]) -> None:
        self.types = {t["name"]: t for t in introspected["types"]}
        self.roots = {
            operation: introspected[f"{operation}Type"]["name"]
            for operation in ("query", "mutation", "subscription")
            if introspected[f"{operation}Type"]
        }

    def root_fields(self) -> list[Field]:
        return [
            Field(operation, f["name"], f["args"], f["type"])
            for operation, root in self.roots.items()
            for f in self.types[root]["fields"]
        ]

    def takes_id(self, ref: dict[str, Any], seen: frozenset[str] = frozenset()) -> bool:
        """Whether a value of this type holds an ID anywhere (inputs are walked)."""
        named = unwrap(ref)
        if named["name"] == "ID":
            return True
        if named["kind"] != "INPUT_OBJECT" or named["name"] in seen:
            return False
        inner = seen | {named["name"]}
        return any(
            self.takes_id(f["type"], inner) for f in self.types[named["name"]]["inputFields"]
        )

    def value(self, ref: dict[str, Any], name: str, foreign_id: str) -> Any:
        """A valid value of the type, with `foreign_id` in every ID position."""
        if ref["kind"] == "NON_NULL":
            return self.value(ref["ofType"], name, foreign_id)
        if ref["kind"] == "LIST":
            return [self.value(ref["ofType"], name, foreign_id)]
        if ref["kind"] == "ENUM":
            return self.types[ref["name"]]["enumValues"][0]["name"]
        if ref["kind"] == "INPUT_OBJECT":
            return {
                f["name"]: self.value(f["type"], f["name"], foreign_id)
                for f in self.types[ref["name"]]["inputFields"]
                if needed(f) or self.takes_id(f["type"])
            }
        return scalar(ref["name"], name, foreign_id)

    def call(self, field: Field, foreign_id: str) -> tuple[str, dict[str, Any]]:
        """The operation calling `field` with every ID-holding and required argument."""
        args = [a for a in field.args if needed(a) or self.takes_id(a["type"])]
        declared = ", ".join(f"${a['name']}: {type_string(a['type'])}" for a in args)
        passed = ", ".join(f"{a['name']}: ${a['name']}" for a in args)
        selection = "" if unwrap(field.returns)["kind"] in ("SCALAR", "ENUM") else "{ __typename }"
        query = (
            f"{field.operation} Probe{f'({declared})' if declared else ''} "
            f"{{ {field.name}{f'({passed})' if passed else ''} {selection} }}"
        )
        variables = {a["name"]: self.value(a["type"], a["name"], foreign_id) for a in args}
        return query, variables


def unwrap(ref: dict[str, Any]) -> dict[str, Any]:
    while ref["kind"] in ("NON_NULL", "LIST"):
        ref = ref["ofType"]
    return ref


def needed(arg: dict[str, Any]) -> bool:
    return arg["type"]["kind"] == "NON_NULL" and arg["defaultValue"] is None


def type_string(ref: dict[str, Any]) -> str:
    if ref["kind"] == "NON_NULL":
        return type_string(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return f"[{type_string(ref['ofType'])}]"
    return str(ref["name"])


START = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)


def scalar(type_name: str, name: str, foreign_id: str) -> Any:
    """A value of a scalar that passes validation, chosen by the argument's name."""
    lowered = name.lower()
    if type_name == "ID":
        return foreign_id
    if type_name == "DateTime":
        later = "end" in lowered or "before" in lowered
        return (START + timedelta(hours=2 if later else 1)).isoformat()
    if type_name == "Boolean":
        return False
    if type_name == "Int":
        return 1
    if type_name == "Float":
        return 1.0
    if "timezone" in lowered:
        return "Europe/Berlin"
    if "email" in lowered:
        return "mallory@globex.test"
    if "domain" in lowered:
        return "globex.test"
    return "probe"


def answered(body: dict[str, Any]) -> bool:
    """Whether the answer carries any data (a nullable field may answer null beside its error,
    a list of nullable items a null per item)."""

    def empty(value: Any) -> bool:
        return value is None or (isinstance(value, list) and all(v is None for v in value))

    return not all(empty(value) for value in (body.get("data") or {}).values())


async def answer_over_websocket(
    chronik: RunningChronik, token: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """The first answer to a subscription, as `{"errors": [...]}` or `{"data": ...}`."""
    socket = await GraphQLSocket.open(chronik.url, token)
    try:
        await socket.subscribe(query, variables)
        message = await socket.next()
    finally:
        await socket.close()
    if message["type"] == "error":
        return {"errors": message["payload"]}
    return dict(message.get("payload") or {})


async def test_no_id_taking_field_reaches_another_accounts_objects(
    chronik: RunningChronik, alice: TestUser, bob: TestUser, db: asyncpg.Connection
) -> None:
    cal = await linked_calendar(chronik, alice, db, "GOOGLE")
    carla = await cal.contact("carla@client.test", name="Carlotta")
    await cal.calendar.create(title=MEETING_TITLE, start=START, guests=["carla@client.test"])
    await cal.sync()
    made = await chronik.graphql(
        'mutation { createCompany(input: {name: "Acme Client", domains: ["client.test"]}) { id } }',
        token=alice.token,
    )
    company = made.ok()["createCompany"]["id"]
    linked = await chronik.graphql(
        "mutation($c: ID!, $p: [ID!]!) { addCompanyContacts(companyId: $c, contactIds: $p) "
        "{ id } }",
        {"c": company, "p": [carla]},
        token=alice.token,
    )
    linked.ok()
    records = await chronik.graphql(
        "mutation($c: ID!) {"
        ' deal: createDeal(input: {name: "Acme renewal", companyId: $c}) { id }'
        ' ticket: createTicket(input: {subject: "Acme outage", companyId: $c}) { id } }',
        {"c": company},
        token=alice.token,
    )
    deal, ticket = records.ok()["deal"]["id"], records.ok()["ticket"]["id"]
    for mutation, key in (("addDealContacts", "dealId"), ("addTicketContacts", "ticketId")):
        added = await chronik.graphql(
            f"mutation($r: ID!, $p: [ID!]!) {{ {mutation}({key}: $r, contactIds: $p) {{ id }} }}",
            {"r": deal if mutation == "addDealContacts" else ticket, "p": [carla]},
            token=alice.token,
        )
        added.ok()
    # Bob has a calendar too, so scheduling reaches the attendee check instead of stopping early.
    await linked_calendar(chronik, bob, db, "MICROSOFT")
    before = await alice_view(chronik, alice)
    entry = before["contacts"]["edges"][0]["node"]["timeline"]["edges"][0]["node"]
    alice_ids = {
        "contact": carla,
        "meeting": entry["meeting"]["id"],
        "timeline entry": entry["id"],
        "calendar connection": before["calendarConnection"]["id"],
        "company": company,
        "deal": deal,
        "ticket": ticket,
    }

    introspected = (await chronik.graphql(INTROSPECT, token=bob.token)).ok()["__schema"]
    schema = Schema(introspected)
    probed = [f for f in schema.root_fields() if any(schema.takes_id(a["type"]) for a in f.args)]
    # The walk must see the fields known today (and any added since).
    assert {
        "contact",
        "meeting",
        "updateContact",
        "deleteContact",
        "scheduleMeeting",
        "updateMeeting",
        "cancelMeeting",
        "deleteMeeting",
        "meetings",
        "contactTimeline",
        "companyTimeline",
        "dealTimeline",
        "ticketTimeline",
        "node",
        "nodes",
        "company",
        "updateCompany",
        "deleteCompany",
        "addCompanyContacts",
        "removeCompanyContacts",
        "deal",
        "updateDeal",
        "deleteDeal",
        "addDealContacts",
        "ticket",
        "updateTicket",
        "deleteTicket",
        "addTicketContacts",
    } <= {f.name for f in probed}

    failures = []
    for field in probed:
        for kind, foreign_id in alice_ids.items():
            query, variables = schema.call(field, foreign_id)
            if field.operation == "subscription":
                body = await answer_over_websocket(chronik, bob.token, query, variables)
            else:
                body = (await chronik.graphql(query, variables, token=bob.token)).body
            codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
            text = json.dumps(body)
            leaked = [secret for secret in ALICE_SECRETS if secret in text]
            if not codes or not codes <= REFUSALS or answered(body) or leaked:
                failures.append(f"{field.operation} {field.name} with alice's {kind}: {text}")
    assert not failures, "\n".join(failures)

    after = await alice_view(chronik, alice)
    assert after == before
