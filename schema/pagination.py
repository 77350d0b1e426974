"""Relay-style connections: edges with opaque cursors, and pageInfo."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import orjson
import strawberry

from resolvers.errors import ValidationFailed

Node = TypeVar("Node")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[Node]):
    cursor: str
    node: Node


@strawberry.type
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    page_info: PageInfo
    # The count, or (count, whether it is exact) for lists counted up to a cap.
    count_all: strawberry.Private[Callable[[], Awaitable[int | tuple[int, bool]]]]
    _counted: strawberry.Private[tuple[int, bool] | None] = None

    async def _count(self) -> tuple[int, bool]:
        if self._counted is None:  # one query, however many of the count fields are asked
            counted = await self.count_all()
            self._counted = counted if isinstance(counted, tuple) else (counted, True)
        return self._counted

    @strawberry.field(
        description=(
            "How many items the whole list holds (costs one query). Lists that can be huge "
            "count up to a cap: contacts up to 10,000. Past the cap this is the cap and "
            "`totalCountIsExact` is false."
        )
    )
    async def total_count(self) -> int:
        return (await self._count())[0]

    @strawberry.field(
        description=(
            "False when `totalCount` stopped at the list's cap (the list holds more); "
            "asking for both costs one query."
        )
    )
    async def total_count_is_exact(self) -> bool:
        return (await self._count())[1]


def encode_cursor(key: list[object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode()


def decode_cursor(cursor: str, *, field: str = "after") -> list[object]:
    """The keyset inside a cursor; a cursor not made by us is a `ValidationFailed`."""
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        key = None
    if not isinstance(key, list):
        raise ValidationFailed(f"{field}: not a cursor from this list", field=field)
    return key
