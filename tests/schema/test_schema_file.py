"""The checked-in schema.graphql is the contract frontends read: it must match the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_checked_in_schema_is_current() -> None:
    # Exported by a process of its own: the tests' schema also holds their dummy provider
    # (tests/support/dummy_provider.py), which the product's does not.
    exported = subprocess.run(
        [sys.executable, "-m", "app.cli", "export-schema"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert SCHEMA_FILE.read_text() == exported, (
        "schema.graphql is stale: run `chronik export-schema > schema.graphql` and commit it"
    )
