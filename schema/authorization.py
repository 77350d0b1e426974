"""The authorization table, read from the rules guarding the schema's root fields.

`python -m schema.authorization > docs/authorization.md` writes the document; a test checks the
checked-in file is what this prints, and another calls every row as every kind of caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from strawberry import Schema
from strawberry.types import get_object_definition
from strawberry.types.base import StrawberryObjectDefinition

from schema.permissions import Grants, Outcome, Rule, rule_of

OPERATIONS = ("query", "mutation", "subscription")


@dataclass(frozen=True)
class Row:
    operation: str  # query, mutation or subscription
    field: str  # the root field's GraphQL name
    rule: Rule
    grants: Grants
    arguments: dict[str, object]  # for a variant row: the arguments that make it one

    @property
    def name(self) -> str:
        """`deleteMeeting`, or `deleteMeeting(alsoDeleteCalendarEvent: true)` for a variant."""
        if not self.arguments:
            return self.field
        shown = ", ".join(f"{k}: {_shown(v)}" for k, v in self.arguments.items())
        return f"{self.field}({shown})"


def _shown(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value)


class UnguardedField(Exception):
    """A root field carries no rule: every operation must be in the table."""


def root_types(schema: Schema) -> Iterator[tuple[str, StrawberryObjectDefinition]]:
    """The schema's root types (Strawberry's definitions, whose fields carry their rule)."""
    for operation, root in zip(
        OPERATIONS, (schema.query, schema.mutation, schema.subscription), strict=True
    ):
        if root is not None:
            yield operation, get_object_definition(root, strict=True)


def rows(schema: Schema) -> list[Row]:
    """One row per root field, plus one per variant of its rule, in schema order."""
    found: list[Row] = []
    names = schema.config.name_converter
    for operation, root in root_types(schema):
        for field in root.fields:
            name = names.get_graphql_name(field)
            rule = rule_of(field.extensions)
            if rule is None:
                raise UnguardedField(f"{operation} {name} has no rule (schema/permissions.py)")
            found.append(Row(operation, name, rule, rule.grants, {}))
            for variant in rule.variants:
                found.append(Row(operation, name, rule, variant.grants, variant.arguments))
    return found


HEADER = """# Authorization

Generated from the rules guarding the schema (`schema/permissions.py`) by
`python -m schema.authorization > docs/authorization.md`; `tests/schema/test_authorization.py`
checks this file is current and calls every row below as every kind of caller.

An account has two roles: **admin** (the first user of an account, or one made with
`chronik user create --admin`) and **member**. *Own* is the caller's own data: their linked
calendar, the meetings it holds and the meetings they scheduled from Chronik. *A colleague's*
is another user's of the same account. Without a valid token every operation answers
`UNAUTHENTICATED` (a websocket is closed with 4403 at `connection_init`). A refusal is
`FORBIDDEN` and changes nothing. An id of another account is `NOT_FOUND` for everyone, admins
included, so its existence is never revealed (`tests/security/test_tenant_isolation.py`).
`—`: the operation cannot name a colleague's data (it acts on the caller's own, or on the
account's shared records).
"""


def markdown(schema: Schema) -> str:
    table = rows(schema)
    lines = [
        HEADER,
        "| operation | rule | no token | member: own | member: a colleague's | admin: own "
        "| admin: a colleague's |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table:
        g = row.grants
        cells = (g.anonymous, g.member_own, g.member_colleagues, g.admin_own, g.admin_colleagues)
        lines.append(
            f"| {row.operation} `{row.name}` | {type(row.rule).__name__} | "
            + " | ".join(_cell(c) for c in cells)
            + " |"
        )
    lines += ["", "## The rules", ""]
    seen: set[type[Rule]] = set()
    for row in table:
        kind = type(row.rule)
        if kind not in seen:
            seen.add(kind)
            lines.append(f"- **{kind.__name__}**: {kind.data}.")
    return "\n".join(lines) + "\n"


def _cell(outcome: Outcome) -> str:
    plain = outcome in (Outcome.ALLOWED, Outcome.NOT_APPLICABLE)
    return outcome.value if plain else f"`{outcome.value}`"


if __name__ == "__main__":
    from schema.root import schema

    print(markdown(schema), end="")
