"""Errors the query modules raise instead of leaking asyncpg's."""

from __future__ import annotations


class DuplicateError(Exception):
    """An insert or update hit a unique constraint; `constraint` names it."""

    def __init__(self, constraint: str | None) -> None:
        super().__init__(f"duplicate value violates {constraint}")
        self.constraint = constraint
