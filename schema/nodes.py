"""`node(id:)` and `nodes(ids:)`: any object with a global id, fetched again by it (Relay's
Global Object Identification, which Relay's refetchable fragments and the normalized caches of
Apollo Client and urql build on)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import nodes as resolve
from resolvers.context import Context
from resolvers.errors import NotFound
from schema.connections import CalendarConnection
from schema.ids import Node, parse_id
from schema.linked_nodes import Contact, Meeting, TimelineEntry
from schema.permissions import AccountObjects, guarded_by

ChronikInfo = Info[Context, None]

# Each kind of node: how a batch of its numbers is read, and how a row becomes the type.
Loader = Callable[[Context, Sequence[int]], Awaitable[Mapping[int, Any]]]
KINDS: dict[str, tuple[Loader, Callable[[Any], Node]]] = {
    "Contact": (resolve.contacts, Contact.from_row),
    "Meeting": (resolve.meetings, Meeting.from_row),
    "TimelineEntry": (resolve.timeline_entries, TimelineEntry.from_row),
    "CalendarConnection": (resolve.calendar_connections, CalendarConnection.from_row),
}


async def find_nodes(ctx: Context, ids: Sequence[str]) -> list[Node | NotFound]:
    """The node of each id, in order, or `NotFound` for an id naming nothing the caller may
    see (another account's, a deleted one, not an id): one read per kind asked for."""
    wanted: dict[str, set[int]] = defaultdict(set)
    parsed = [parse_id(i) for i in ids]
    for ref in parsed:
        if ref is not None and ref[0] in KINDS:
            wanted[ref[0]].add(ref[1])
    found = {kind: await KINDS[kind][0](ctx, sorted(pks)) for kind, pks in wanted.items()}
    results: list[Node | NotFound] = []
    for ref in parsed:
        row = found.get(ref[0], {}).get(ref[1]) if ref is not None else None
        if ref is None or row is None:
            results.append(NotFound("No object with this id."))
            continue
        results.append(KINDS[ref[0]][1](row))
    return results


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description="The object with this global id; null with NOT_FOUND when there is none.",
        extensions=guarded_by(AccountObjects()),
    )
    async def node(self, info: ChronikInfo, id: strawberry.ID) -> Node | None:
        [found] = await find_nodes(info.context, [id])
        if isinstance(found, NotFound):
            raise found
        return found

    @strawberry.field(
        description="The objects with these global ids (at most 100), in order; an id naming "
        "nothing is null, with a NOT_FOUND error at its index.",
        extensions=guarded_by(AccountObjects()),
        graphql_type=list[Node | None],
    )
    async def nodes(self, info: ChronikInfo, ids: list[strawberry.ID]) -> list[Node | NotFound]:
        resolve.check_count(ids)
        # graphql-core raises an exception found in a list as that item's error, at its path.
        return await find_nodes(info.context, ids)
