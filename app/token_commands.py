"""`chronik token create|list|revoke`: replace a lost API token, see and revoke a user's tokens."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from app.settings import Settings

T = TypeVar("T")


class UnknownUser(Exception):
    """No user has the email given on the command line."""


def add_token_commands(commands: Any) -> None:
    """Register `token create`, `token list` and `token revoke` on the `chronik` parser."""
    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="make a new API token for a user and print it")
    create.add_argument("--email", required=True, help="the user's email")
    create.add_argument("--label", help="a note to tell tokens apart (shown by `token list`)")
    create.set_defaults(run=_create)

    listing = token.add_parser("list", help="a user's API tokens (ids and dates, no secrets)")
    listing.add_argument("--email", required=True, help="the user's email")
    listing.set_defaults(run=_list)

    revoke = token.add_parser("revoke", help="revoke one token by id, or all of a user's")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="the token's id (from `chronik token list`)")
    which.add_argument("--email", help="revoke every token of this user (needs --all)")
    revoke.add_argument("--all", action="store_true", help="confirm revoking all of --email's")
    revoke.set_defaults(run=_revoke)


def _with_database(settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    from app.database import open_pool
    from db.migrate import apply_migrations

    async def run() -> T:
        pool = await open_pool(settings)
        try:
            async with pool.acquire() as conn:
                await apply_migrations(conn)
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(run())


async def _user_id(pool: asyncpg.Pool, email: str) -> int:
    from db.users import get_user_by_email

    user = await get_user_by_email(pool, email.strip().lower())
    if user is None:
        raise UnknownUser(email)
    return user.id


def _create(settings: Settings, args: argparse.Namespace) -> int:
    from db.users import create_api_token

    async def work(pool: asyncpg.Pool) -> str:
        return await create_api_token(pool, await _user_id(pool, args.email), args.label)

    try:
        token = _with_database(settings, work)
    except UnknownUser:
        return _no_such_user(args.email)
    print(
        f"API token for {args.email} (shown once; send it as 'Authorization: Bearer <token>'):",
        file=sys.stderr,
    )
    print(token)
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from db.tokens import TokenRow, list_tokens

    async def work(pool: asyncpg.Pool) -> list[TokenRow]:
        return await list_tokens(pool, await _user_id(pool, args.email))

    try:
        tokens = _with_database(settings, work)
    except UnknownUser:
        return _no_such_user(args.email)
    print("id\tcreated_at\tlast_used_at\tlabel")
    for row in tokens:
        used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never"
        created = row.created_at.isoformat(timespec="seconds")
        print(f"{row.id}\t{created}\t{used}\t{row.label or ''}")
    return 0


def _revoke(settings: Settings, args: argparse.Namespace) -> int:
    from db.tokens import revoke_token, revoke_user_tokens

    if args.email is not None and not args.all:
        print("chronik: add --all to revoke every token of " + args.email, file=sys.stderr)
        return 2
    if args.id is not None and args.all:
        print("chronik: --all goes with --email, not --id", file=sys.stderr)
        return 2

    async def work(pool: asyncpg.Pool) -> int:
        if args.id is not None:
            return 1 if await revoke_token(pool, args.id) else 0
        return await revoke_user_tokens(pool, await _user_id(pool, args.email))

    try:
        revoked = _with_database(settings, work)
    except UnknownUser:
        return _no_such_user(args.email)
    if args.id is not None and not revoked:
        print(f"chronik: no unrevoked token has id {args.id}", file=sys.stderr)
        return 1
    print(f"revoked {revoked} token{'' if revoked == 1 else 's'}", file=sys.stderr)
    return 0


def _no_such_user(email: str) -> int:
    print(f"chronik: no user has email {email}", file=sys.stderr)
    return 1
