"""Page sizes and one page of rows, shared by every paginated list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from resolvers.errors import ValidationFailed

Row = TypeVar("Row")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    rows: list[Row]
    has_next_page: bool


def page_size(first: int | None) -> int:
    """`first` checked against the cap; raises `ValidationFailed` outside 1..MAX_PAGE_SIZE."""
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"first: must be between 1 and {MAX_PAGE_SIZE}", field="first")
    return size


def split_page(rows: list[Row], size: int) -> Page[Row]:
    """Rows fetched with `size + 1` as limit: the extra row only says another page exists."""
    return Page(rows[:size], len(rows) > size)
