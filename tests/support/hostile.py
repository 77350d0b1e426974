"""Hostile argument values for every operation of `schema.graphql`, and what each must get.

`operations()` reads the checked-in SDL and makes one request per root query or mutation
that takes arguments (with the arguments of the fields of what it returns, e.g.
`Contact.timeline`), every argument sent as a variable. `arguments(op, ids)` is a Hypothesis
strategy for the variables, built from the argument types: benign values beside text with
NUL or lone surrogates, 10^5 characters, paths, forged ids and cursors (NUL, 2^63, year 1),
extreme integers and times from year 1 to 9999 with offsets up to ±23:59.

`refused_fields(op, variables)` is the test's oracle, written from the rules and not from
the code: the fields a hostile value sits in, named as the API names them (the argument, or
the outermost field of an input object). A request with one must be refused as VALIDATION
naming one of them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    build_schema,
    get_named_type,
)

SDL = Path(__file__).parents[2] / "schema.graphql"

EARLIEST_YEAR, LATEST_YEAR = 1900, 2200
MAX_OFFSET = timedelta(hours=18)


@dataclass(frozen=True)
class Operation:
    label: str
    document: str
    # variable name -> (argument name, its type)
    variables: dict[str, tuple[str, GraphQLInputType]]


def operations() -> list[Operation]:
    schema = build_schema(SDL.read_text())
    found = []
    for root in (schema.query_type, schema.mutation_type):
        assert root is not None
        kind = "query" if root is schema.query_type else "mutation"
        for name, field in root.fields.items():
            variables: dict[str, tuple[str, GraphQLInputType]] = {}
            call = _call(name, field, variables, prefix="")
            returned = get_named_type(field.type)
            inner = ["__typename"]
            if isinstance(returned, GraphQLObjectType | GraphQLInterfaceType):
                for sub_name, sub_field in returned.fields.items():
                    if sub_field.args:
                        sub_call = _call(sub_name, sub_field, variables, prefix=f"{sub_name}_")
                        inner.append(f"{sub_call}{_selection(sub_field)}")
            if not variables:
                continue  # nothing a caller can send
            declared = ", ".join(f"${v}: {t}" for v, (_, t) in variables.items())
            is_object = isinstance(returned, GraphQLObjectType | GraphQLInterfaceType)
            selection = f" {{ {' '.join(inner)} }}" if is_object else ""
            document = f"{kind}({declared}) {{ {call}{selection} }}"
            found.append(Operation(f"{root.name}.{name}", document, variables))
    return found


def _call(
    name: str,
    field: GraphQLField,
    variables: dict[str, tuple[str, GraphQLInputType]],
    *,
    prefix: str,
) -> str:
    if not field.args:
        return name
    passed = []
    for arg_name, arg in field.args.items():
        variables[prefix + arg_name] = (arg_name, arg.type)
        passed.append(f"{arg_name}: ${prefix}{arg_name}")
    return f"{name}({', '.join(passed)})"


def _selection(field: GraphQLField) -> str:
    composite = isinstance(get_named_type(field.type), GraphQLObjectType | GraphQLInterfaceType)
    return " { __typename }" if composite else ""


# --- values ---------------------------------------------------------------------------------

LONE_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


def _with(inserted: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Benign text with `inserted` somewhere in it."""
    return st.tuples(st.text(max_size=8), inserted, st.text(max_size=8)).map("".join)


HOSTILE_TEXT = st.one_of(
    _with(st.just("\x00")),
    _with(LONE_SURROGATES),
    st.integers(1_000, 100_000).map(lambda n: "a" * n),
    st.sampled_from(["../../etc/passwd", "/etc/passwd", "Europe/../../../etc/passwd", "."]),
    st.just("A" * 10_000),
)
BENIGN_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["guest0@client.test", "x@acme.test", "partner.test", "Europe/Berlin", "UTC"]),
)


def _instant(moment: datetime) -> str:
    return moment.isoformat()


OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
NEAR = datetime.now(UTC).replace(microsecond=0)
TIMES = st.one_of(
    st.integers(-400, 400).map(lambda days: _instant(NEAR + timedelta(days=days))),
    st.datetimes().map(_instant),  # naive, year 1 to 9999
    st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), st.datetimes(), OFFSETS),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "9999-12-31T23:59:59.999999+00:00",
            "1899-12-31T23:59:59+00:00",
            "2201-01-01T00:00:00+00:00",
            "2030-01-01T00:00:00+23:59",
            "tomorrow",
        ]
    ),
)
# Money: ordinary amounts, and what Python's Decimal reads but a NUMERIC column cannot hold.
DECIMALS = st.one_of(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**9
    ).map(str),
    st.sampled_from(["NaN", "sNaN", "Infinity", "-Infinity", "1e999999", "9" * 400, "-0"]),
    st.sampled_from(["abc", "", "1,5", "0x10"]),
)
DATES = st.one_of(
    st.dates().map(lambda day: day.isoformat()),  # year 1 to 9999
    st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "tomorrow", ""]),
)
INTS = st.one_of(
    st.integers(-3, 120),
    st.sampled_from([2**31 - 1, -(2**31), 2**31, 2**53, 2**63, -(2**63) - 1, 10**30]),
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def _cursor(key: list[Any]) -> str:
    return _b64(json.dumps(key).encode())


CURSOR_PARTS = st.one_of(
    BENIGN_TEXT, HOSTILE_TEXT.filter(lambda s: len(s) < 200), TIMES, INTS, st.booleans(), st.none()
)
CURSORS = st.one_of(
    st.lists(CURSOR_PARTS, max_size=3).map(_cursor),
    HOSTILE_TEXT,
    st.tuples(TIMES, INTS).map(lambda key: _cursor(list(key))),
    st.binary(max_size=30).map(_b64),
    BENIGN_TEXT,
)


def _forged_ids() -> st.SearchStrategy[str]:
    kinds = st.sampled_from(["Contact", "Meeting", "CalendarConnection", "User", ""])
    numbers = st.one_of(INTS.map(str), st.sampled_from(["05", "\u0661", "-1", "1e3", ""]))
    return st.builds(lambda k, n: _b64(f"{k}:{n}".encode()).rstrip("="), kinds, numbers)


def text_values(argument: str, ids: list[str]) -> st.SearchStrategy[str]:
    if argument == "after":
        return CURSORS
    if argument in ("id", "contactId"):
        return st.one_of(st.sampled_from(ids), _forged_ids(), BENIGN_TEXT, HOSTILE_TEXT)
    # Mostly benign, so requests get past one field to the next and on to the resolvers.
    return st.one_of(BENIGN_TEXT, BENIGN_TEXT, BENIGN_TEXT, HOSTILE_TEXT)


def values(type_: GraphQLInputType, argument: str, ids: list[str]) -> st.SearchStrategy[Any]:
    """JSON values of `type_`; `argument` is the field they go to (it picks ids, cursors)."""
    if isinstance(type_, GraphQLNonNull):
        return _non_null(type_.of_type, argument, ids)
    return st.one_of(st.none(), _non_null(type_, argument, ids))


def _non_null(type_: Any, argument: str, ids: list[str]) -> st.SearchStrategy[Any]:
    if isinstance(type_, GraphQLList):
        return st.lists(values(type_.of_type, argument, ids), max_size=3)
    if isinstance(type_, GraphQLInputObjectType):
        required, optional = {}, {}
        for name, field in type_.fields.items():
            strategy = values(field.type, name, ids)
            if isinstance(field.type, GraphQLNonNull) and field.default_value is None:
                required[name] = strategy
            else:
                optional[name] = strategy
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from(list(type_.values))
    assert isinstance(type_, GraphQLScalarType), type_
    if type_.name in ("String", "ID"):
        return text_values(argument, ids)
    if type_.name == "DateTime":
        return TIMES
    if type_.name == "Decimal":
        return DECIMALS
    if type_.name == "Date":
        return DATES
    if type_.name == "Int":
        return INTS
    if type_.name == "Boolean":
        return st.booleans()
    raise AssertionError(f"no strategy for scalar {type_.name}")


def arguments(operation: Operation, ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {v: values(t, name, ids) for v, (name, t) in operation.variables.items()}
    )


# --- the oracle -------------------------------------------------------------------------------


def hostile_text(value: str) -> bool:
    return "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def hostile_time(value: str) -> bool:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False  # not a time at all: GraphQL refuses it before any check of ours
    offset = moment.utcoffset()
    wrong_offset = offset is not None and (abs(offset) > MAX_OFFSET or offset.seconds % 60)
    return not EARLIEST_YEAR <= moment.year <= LATEST_YEAR or bool(wrong_offset)


def refused_fields(operation: Operation, variables: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for variable, value in variables.items():
        name, type_ = operation.variables[variable]
        _collect(value, type_, name, final=False, found=found)
    return found


def _collect(value: Any, type_: Any, field: str, *, final: bool, found: set[str]) -> None:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if value is None:
        return
    if isinstance(type_, GraphQLList):
        for item in value:
            _collect(item, type_.of_type, field, final=final, found=found)
    elif isinstance(type_, GraphQLInputObjectType):
        for key, item in value.items():
            _collect(item, type_.fields[key].type, field if final else key, final=True, found=found)
    elif isinstance(type_, GraphQLScalarType) and isinstance(value, str):
        if type_.name in ("String", "ID") and hostile_text(value):
            found.add(field)
        elif type_.name == "DateTime" and hostile_time(value):
            found.add(field)
