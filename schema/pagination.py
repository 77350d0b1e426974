"""Relay-style connections: edges with opaque cursors, and pageInfo."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Generic, TypeVar

import orjson
import strawberry

from resolvers.errors import ValidationFailed
from resolvers.validation import BIGINT_MAX, BIGINT_MIN, calendar_time, plain_text

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


def page_info(edges: list[Edge[Node]], has_next: bool, after: str | None) -> PageInfo:
    """The page info of a page of `edges`, read after the cursor `after`."""
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


def encode_cursor(key: list[object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode()


def decode_cursor(cursor: str, *, field: str = "after") -> list[object]:
    """The keyset inside a cursor; a cursor not made by us is a `ValidationFailed`.

    Our cursors hold strings and integers only; anything else, an integer outside bigint
    or text PostgreSQL cannot store is refused here rather than failing in SQL.
    """
    try:
        # validate=True: a cursor with stray characters is not ours (the lenient decoder
        # would drop them and read a different cursor).
        raw = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True)
        key = orjson.loads(raw)
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        key = None
    if not isinstance(key, list) or not all(_keyset_part(part, field) for part in key):
        raise ValidationFailed(f"{field}: not a cursor from this list", field=field)
    return key


def _keyset_part(part: object, field: str) -> bool:
    if isinstance(part, str):
        plain_text(part, field=field)
        return True
    # bool is an int to Python, never part of our cursors.
    return type(part) is int and BIGINT_MIN <= part <= BIGINT_MAX


def name_keyset(after: str | None) -> tuple[str, int] | None:
    """(sort name, id) of a cursor of a list ordered by name."""
    if after is None:
        return None
    key = decode_cursor(after)
    if len(key) == 2 and isinstance(key[0], str) and isinstance(key[1], int):
        return key[0], key[1]
    raise ValidationFailed("after: not a cursor from this list", field="after")


def time_keyset(after: str | None) -> tuple[datetime, int] | None:
    """(instant, id) of a cursor of a list ordered by time; the instant is held to the range
    of calendar times, so a forged one cannot overflow in the database."""
    if after is None:
        return None
    key = decode_cursor(after)
    if len(key) == 2 and isinstance(key[0], str) and isinstance(key[1], int):
        try:
            moment = datetime.fromisoformat(key[0])
        except ValueError:
            moment = None
        if moment is not None and moment.utcoffset() is not None:
            return calendar_time(moment, field="after"), key[1]
    raise ValidationFailed("after: not a cursor from this list", field="after")
