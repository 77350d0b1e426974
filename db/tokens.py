"""Queries on API tokens beyond authentication: listing and revoking them.

Creating a token and finding a token's user are in db/users.py (they are how users sign in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from db.types import Executor


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token as an operator may see it: never its secret (only a hash is stored anyway)."""

    id: int
    user_id: int
    label: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None


async def list_tokens(db: Executor, user_id: int) -> list[TokenRow]:
    """The user's unrevoked tokens, oldest first."""
    rows = await db.fetch(
        "SELECT id, user_id, label, created_at, last_used_at FROM api_tokens "
        "WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id",
        user_id,
    )
    return [TokenRow(**dict(row)) for row in rows]


async def revoke_token(db: Executor, token_id: int) -> bool:
    """Revoke one token; False when there is no such unrevoked token."""
    revoked = await db.fetchval(
        "UPDATE api_tokens SET revoked_at = now() "
        "WHERE id = $1 AND revoked_at IS NULL RETURNING id",
        token_id,
    )
    return revoked is not None


async def revoke_user_tokens(db: Executor, user_id: int) -> int:
    """Revoke every unrevoked token of the user; returns how many were."""
    rows = await db.fetch(
        "UPDATE api_tokens SET revoked_at = now() "
        "WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
        user_id,
    )
    return len(rows)


async def unrevoked_token_ids(db: Executor, token_ids: Sequence[int]) -> set[int]:
    """Which of these tokens still work (neither revoked nor deleted)."""
    rows = await db.fetch(
        "SELECT id FROM api_tokens WHERE id = ANY($1::bigint[]) AND revoked_at IS NULL",
        list(token_ids),
    )
    return {row["id"] for row in rows}
