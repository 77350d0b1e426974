"""Opaque global ids: base64url of "Type:number", so clients never build or parse them."""

from __future__ import annotations

import base64
import binascii

import strawberry

from resolvers.errors import NotFound


def encode_id(type_name: str, pk: int) -> strawberry.ID:
    raw = f"{type_name}:{pk}".encode()
    return strawberry.ID(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())


def decode_id(type_name: str, global_id: str) -> int:
    """The number inside a global id of `type_name`; anything else is `NotFound`.

    A malformed id or one of another type cannot name an object, so it answers exactly like
    an id that names nothing: no oracle for probing ids.
    """
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        # validate=True: stray characters make another id, not one the lenient decoder would
        # read as ours after dropping them.
        raw = base64.b64decode(padded.encode(), altchars=b"-_", validate=True)
        kind, _, number = raw.decode().partition(":")
        # Only the digits we write: ASCII, no sign or leading zero, within bigint.
        if kind == type_name and _canonical_number(number):
            return int(number)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise NotFound(f"No {type_name.lower()} with this id.")


def _canonical_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) < 19 and str(int(text)) == text
