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
    """The type name and number inside a global id, or None for anything that is not one
    written exactly as `encode_id` writes it."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        # validate=True: stray characters make another id, not one the lenient decoder would
        # read as ours after dropping them.
        raw = base64.b64decode(padded.encode(), altchars=b"-_", validate=True)
        kind, _, number = raw.decode().partition(":")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    # Only the digits we write: ASCII, no sign or leading zero, within bigint.
    if kind and _canonical_number(number):
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


def _canonical_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) < 19 and str(int(text)) == text
