"""Opaque global ids: base64url of "Type:number", so clients never build or parse them; and
`Node`, the interface of every object that has one (Relay's Global Object Identification)."""

from __future__ import annotations

import base64
import binascii

import strawberry

from resolvers.errors import NotFound


@strawberry.interface(
    description="An object with a global id: `node(id:)` and `nodes(ids:)` fetch it again "
    "(Relay's Global Object Identification)."
)
class Node:
    id: strawberry.ID


def encode_id(type_name: str, pk: int) -> strawberry.ID:
    raw = f"{type_name}:{pk}".encode()
    return strawberry.ID(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())


def parse_id(global_id: str) -> tuple[str, int] | None:
    """The type name and number inside a global id, or None for anything that is not one."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        kind, _, number = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if kind and number.isdigit() and len(number) < 19:
        return kind, int(number)
    return None


def decode_id(type_name: str, global_id: str) -> int:
    """The number inside a global id of `type_name`; anything else is `NotFound`.

    A malformed id or one of another type cannot name an object, so it answers exactly like
    an id that names nothing: no oracle for probing ids.
    """
    parsed = parse_id(global_id)
    if parsed is not None and parsed[0] == type_name:
        return parsed[1]
    raise NotFound(f"No {type_name.lower()} with this id.")
