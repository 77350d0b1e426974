"""Internal errors never reach the caller: no message, no SQL, no traceback."""

from __future__ import annotations

import logging

import pytest
from graphql import GraphQLError

from resolvers.errors import Conflict, NotFound
from schema.masking import INTERNAL_MESSAGE, mask, report_and_mask
from schema.root import build_schema


def test_unexpected_exception_is_masked_and_typed() -> None:
    leaked = GraphQLError(
        "relation secret_table does not exist",
        path=["contacts"],
        original_error=RuntimeError('SELECT * FROM secret_table WHERE token = "abc"'),
    )
    masked = mask(leaked)
    assert masked.message == INTERNAL_MESSAGE
    assert masked.extensions == {"code": "INTERNAL"}
    assert "secret" not in str(masked.formatted)


def test_typed_errors_pass_unchanged() -> None:
    typed = Conflict("Another contact of this account already has this email address.")
    located = GraphQLError(typed.message, path=["createContact"], original_error=typed)
    assert mask(located) is located
    assert located.extensions == {"code": "CONFLICT"}


def _raised(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:  # a real traceback for the log
        return caught


def test_operators_see_each_internal_error_once_with_its_traceback_and_no_typed_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The schema's error log is for faults of ours: an unexpected exception is logged once
    at ERROR with its traceback; a caller's NOT_FOUND or refused query is not an error."""
    schema = build_schema()
    internal = GraphQLError("boom", path=["contacts"], original_error=_raised(KeyError("x")))
    not_found = NotFound("No contact with this id.")
    typed = GraphQLError(not_found.message, path=["contact"], original_error=not_found)
    refused = GraphQLError("Cannot query field 'nope' on type 'Query'.")
    with caplog.at_level(logging.DEBUG):
        schema.process_errors([internal, typed, refused])
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert errors[0].name == "chronik.graphql" and errors[0].exc_info is not None
    assert "KeyError" in caplog.text


def test_errors_outside_the_schema_path_are_logged_once_when_internal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The websocket endpoint masks subscription errors itself: an internal one is logged
    with its traceback, a typed one is passed on untouched and not logged."""
    internal = GraphQLError("boom", path=["contactTimeline"], original_error=_raised(KeyError("y")))
    not_found = NotFound("No contact with this id.")
    typed = GraphQLError(not_found.message, path=["contactTimeline"], original_error=not_found)
    with caplog.at_level(logging.DEBUG):
        assert report_and_mask(internal).message == INTERNAL_MESSAGE
        assert report_and_mask(typed) is typed
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and errors[0].exc_info is not None
