"""Queries on users and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

from db import cascade
from db.errors import DuplicateError
from db.types import Executor

# A prefix makes leaked tokens recognisable by secret scanners and people alike.
TOKEN_PREFIX = "chronik_"


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    account_id: int
    email: str
    is_admin: bool


@dataclass(frozen=True, slots=True)
class TokenUser(UserRow):
    """A user as signed in by one API token: which token, so what it opened can be closed when
    that token is revoked (db/listen.py `TOKENS_CHANNEL`)."""

    token_id: int


_COLUMNS = "id, account_id, email, is_admin"


def hash_token(token: str) -> bytes:
    """The stored form of an API token: SHA-256, so a database dump reveals no usable token."""
    return hashlib.sha256(token.encode()).digest()


async def create_user(db: Executor, account_id: int, email: str, *, is_admin: bool) -> UserRow:
    """Insert a user; raises `DuplicateError` when the email is already taken."""
    try:
        record = await db.fetchrow(
            f"INSERT INTO users (account_id, email, is_admin) VALUES ($1, $2, $3) "
            f"RETURNING {_COLUMNS}",
            account_id,
            email,
            is_admin,
        )
    except asyncpg.UniqueViolationError as exc:
        raise DuplicateError(exc.constraint_name) from None
    assert record is not None
    return UserRow(**dict(record))


async def get_user_by_email(db: Executor, email: str) -> UserRow | None:
    record = await db.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE email = $1", email)
    return UserRow(**dict(record)) if record else None


async def count_users(db: Executor, account_id: int) -> int:
    return int(await db.fetchval("SELECT count(*) FROM users WHERE account_id = $1", account_id))


async def create_api_token(db: Executor, user_id: int, label: str | None = None) -> str:
    """Create an API token for the user and return it; only its hash is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await db.execute(
        "INSERT INTO api_tokens (user_id, token_hash, label) VALUES ($1, $2, $3)",
        user_id,
        hash_token(token),
        label,
    )
    return token


async def user_for_token(db: Executor, token: str) -> TokenUser | None:
    """The user an unrevoked API token belongs to, or None; one statement.

    The lookup is by the token's hash, so the comparison never touches the secret itself.
    `last_used_at` is refreshed at most every five minutes, so most requests stay read-only.
    """
    record = await db.fetchrow(
        """
        WITH token AS (
            SELECT id, user_id, last_used_at FROM api_tokens
            WHERE token_hash = $1 AND revoked_at IS NULL
        ), touched AS (
            UPDATE api_tokens SET last_used_at = now()
            FROM token
            WHERE api_tokens.id = token.id
              AND (token.last_used_at IS NULL OR token.last_used_at < now() - interval '5 minutes')
        )
        SELECT u.id, u.account_id, u.email, u.is_admin, token.id AS token_id
        FROM users u JOIN token ON token.user_id = u.id
        """,
        hash_token(token),
    )
    return TokenUser(**dict(record)) if record else None


async def delete_user(db: Executor, user_id: int) -> bool:
    """Delete the user (tokens, link attempts and calendar connection go with it); the meetings
    they synced or scheduled stay with the account, unlinked (db/cascade.py). False when there
    was none."""
    async with cascade.transaction(db) as conn:
        connection_ids = [
            r["id"]
            for r in await conn.fetch(
                "DELETE FROM calendar_connections WHERE user_id = $1 RETURNING id", user_id
            )
        ]
        await cascade.connections_deleted(conn, connection_ids)
        account_id = await conn.fetchval(
            "DELETE FROM users WHERE id = $1 RETURNING account_id", user_id
        )
        if account_id is None:
            return False
        await cascade.user_deleted(conn, account_id, user_id)
    return True
