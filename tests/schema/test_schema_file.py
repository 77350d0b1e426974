"""The checked-in schema.graphql is the contract frontends read: it must match the code."""

from __future__ import annotations

from pathlib import Path

from schema.root import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_checked_in_schema_is_current() -> None:
    exported = schema.as_str() + "\n"
    assert SCHEMA_FILE.read_text() == exported, (
        "schema.graphql is stale: run `chronik export-schema > schema.graphql` and commit it"
    )
