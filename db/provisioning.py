"""Creating users from the command line: account, domains, user and API token in one step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from db import accounts, users
from db.accounts import AccountRow
from db.users import UserRow


@dataclass(frozen=True)
class ProvisionedUser:
    account: AccountRow
    account_created: bool
    user: UserRow
    token: str


async def provision_user(
    conn: asyncpg.Connection,
    *,
    account_name: str,
    email: str,
    domains: Sequence[str] = (),
    admin: bool | None = None,
) -> ProvisionedUser:
    """Create the account if needed, add `domains`, create the user and a fresh API token.

    All in one transaction: a duplicate email (`DuplicateError`) leaves nothing behind. The
    first user of an account is its admin unless `admin` says otherwise.
    """
    async with conn.transaction():
        account, created = await accounts.get_or_create_account(conn, account_name)
        for domain in domains:
            await accounts.add_domain(conn, account.id, domain)
        if admin is None:
            admin = await users.count_users(conn, account.id) == 0
        user = await users.create_user(conn, account.id, email, is_admin=admin)
        token = await users.create_api_token(conn, user.id, label="chronik user create")
    return ProvisionedUser(account, created, user, token)
