"""The argument checks, on the schema itself: which value is refused, and which field it names."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from graphql import parse

from resolvers.errors import NotFound, ValidationFailed
from schema.argument_checks import first_refusal
from schema.ids import decode_id, encode_id
from schema.pagination import decode_cursor, encode_cursor, name_keyset, time_keyset
from schema.root import schema

SCHEDULE = "mutation($input: ScheduleMeetingInput!) { scheduleMeeting(input: $input) { id } }"


def refused(query: str, variables: dict[str, Any] | None = None) -> tuple[str, str] | None:
    """(field, message) of the refusal, or None when the arguments pass."""
    error = first_refusal(schema._schema, parse(query), None, variables)
    if error is None:
        return None
    return (error.extensions or {})["field"], error.message


def field_refused(query: str, variables: dict[str, Any] | None = None) -> str | None:
    found = refused(query, variables)
    return found[0] if found else None


def test_text_with_nul_or_a_lone_surrogate_is_refused_wherever_it_sits() -> None:
    search = "query($s: String) { contacts(search: $s) { totalCount } }"
    assert refused(search, {"s": "a\x00"}) == ("search", "search: must not contain a NUL character")
    assert field_refused(search, {"s": "\udfff"}) == "search"
    assert refused(search, {"s": "Zoë 😀 ✓"}) is None  # any real Unicode is fine
    meeting = {"title": "T", "startsAt": "2030-01-01T10:00:00Z", "endsAt": "2030-01-01T11:00Z"}
    # The outermost input field names the value, like the resolvers do.
    nested = {"input": {**meeting, "timeZone": "UTC", "attendees": [{"email": "\ud800"}]}}
    assert field_refused(SCHEDULE, nested) == "attendees"
    # In the document: a literal, and a variable inside a literal object.
    assert field_refused('{ contacts(search: "\\u0000") { totalCount } }') == "search"
    inline = (
        'mutation($t: String!) { scheduleMeeting(input: {title: $t, timeZone: "UTC", '
        'startsAt: "2030-01-01T10:00:00Z", endsAt: "2030-01-01T11:00:00Z"}) { id } }'
    )
    assert field_refused(inline, {"t": "a\x00"}) == "title"
    # Through a fragment, and an ID as much as a String.
    fragment = "query($id: ID!) { ...F } fragment F on Query { contact(id: $id) { id } }"
    assert field_refused(fragment, {"id": "\x00"}) == "id"


@pytest.mark.parametrize(
    ("value", "refusal"),
    [
        ("0001-01-01T00:00:00+05:00", "year"),
        ("9999-12-31T23:59:59-05:00", "year"),
        ("1899-12-31T23:59:59+00:00", "year"),
        ("2201-01-01T00:00:00", "year"),
        ("2030-01-01T00:00:00+18:30", "offset"),
        ("2030-01-01T00:00:00-23:59", "offset"),
        ("1900-01-01T00:00:00+14:00", None),
        ("2200-12-31T23:59:59-12:00", None),
        ("2030-01-01T00:00:00+18:00", None),
        ("2030-06-01T09:00:00", None),  # naive: scheduleMeeting reads it in the meeting's zone
        ("tomorrow", None),  # not a time: the GraphQL layer refuses it, not this check
    ],
)
def test_times_are_held_to_calendar_years_and_real_offsets(value: str, refusal: str | None) -> None:
    query = "query($s: DateTime!, $e: DateTime!) { freeBusy(start: $s, end: $e) { start } }"
    found = refused(query, {"s": "2030-01-01T00:00:00Z", "e": value})
    if refusal is None:
        assert found is None
    else:
        assert found is not None and found[0] == "end" and refusal in found[1]
    literal = f'{{ meetings(filter: {{startsBefore: "{value}"}}) {{ totalCount }} }}'
    found = refused(literal)
    assert (found is None) == (refusal is None)


def test_the_document_map_is_reused_and_variables_are_still_read_each_time() -> None:
    document = parse("query($s: String) { contacts(search: $s) { totalCount } }")
    assert first_refusal(schema._schema, document, None, {"s": "ok"}) is None
    assert first_refusal(schema._schema, document, None, {"s": "\x00"}) is not None
    assert first_refusal(schema._schema, document, None, {"s": "ok"}) is None


def forged(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        forged(["a\x00", 1]),
        forged(["a", 2**63]),
        forged(["a", True]),
        forged(["a", 1.5]),
        forged(["a", None]),
        forged(["a", [1]]),
        encode_cursor(["a", 1]) + "$",  # a stray character once decoded as the cursor itself
        "\ud800",
    ],
)
def test_a_cursor_we_did_not_make_is_refused(cursor: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        name_keyset(cursor)
    assert refused.value.extensions == {"code": "VALIDATION", "field": "after"}


def test_cursors_we_make_read_back() -> None:
    assert name_keyset(encode_cursor(["smith", 2**63 - 1])) == ("smith", 2**63 - 1)
    moment = "2030-01-01T09:00:00+00:00"
    keyset = time_keyset(encode_cursor([moment, 7]))
    assert keyset is not None and keyset[0].isoformat() == moment and keyset[1] == 7
    assert decode_cursor(encode_cursor(["x", -(2**63)])) == ["x", -(2**63)]
    for bad in ("0001-01-01T00:00:00+05:00", "2030-01-01T09:00:00", ""):
        with pytest.raises(ValidationFailed):
            time_keyset(encode_cursor([bad, 7]))


def test_only_the_ids_we_write_name_an_object() -> None:
    assert decode_id("Contact", encode_id("Contact", 42)) == 42
    aliases = ["Contact:042", "Contact:\u0664\u0662", "Contact:+42", "Contact:" + "9" * 19]
    ids = [base64.urlsafe_b64encode(a.encode()).decode() for a in aliases]
    ids += [encode_id("Contact", 42) + "\x00", encode_id("Contact", 42) + "!", "\ud800"]
    for global_id in ids:
        with pytest.raises(NotFound):
            decode_id("Contact", global_id)
