"""What the sync rules need to know about some addresses of an account, in one indexed query.

Only the addresses asked about are read (contacts' addresses by the (account, email) key, users
by their unique address, internal domains by the (account, domain) key): the cost depends on
how many addresses a page or a meeting holds, never on the size of the account.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from db.types import Executor


@dataclass(frozen=True, slots=True)
class AddressFacts:
    contact_ids_by_email: dict[str, int]  # those of the addresses that are a contact's
    user_emails: frozenset[str]  # those of the addresses that are the account's users
    internal_domains: frozenset[str]  # those of the domains that are the account's own
    auto_create_contacts: bool


_CONTACT, _USER, _DOMAIN, _AUTO = 1, 2, 3, 4


async def address_facts(
    db: Executor, account_id: int, emails: Collection[str], domains: Collection[str]
) -> AddressFacts:
    """Facts about `emails` and `domains` (lower-cased) in the account, in one round trip."""
    rows = await db.fetch(
        """
        SELECT 1 AS kind, email AS key, contact_id FROM contact_emails
        WHERE account_id = $1 AND email = ANY($2::text[])
        UNION ALL
        SELECT 2, email, NULL FROM users WHERE account_id = $1 AND email = ANY($2::text[])
        UNION ALL
        SELECT 3, domain, NULL FROM account_domains
        WHERE account_id = $1 AND domain = ANY($3::text[])
        UNION ALL
        SELECT 4, NULL, NULL FROM accounts WHERE id = $1 AND auto_create_contacts
        """,
        account_id,
        list(emails),
        list(domains),
    )
    contacts: dict[str, int] = {}
    users: set[str] = set()
    internal: set[str] = set()
    auto = False
    for row in rows:
        kind = row["kind"]
        if kind == _CONTACT:
            contacts[row["key"]] = row["contact_id"]
        elif kind == _USER:
            users.add(row["key"])
        elif kind == _DOMAIN:
            internal.add(row["key"])
        elif kind == _AUTO:
            auto = True
    return AddressFacts(contacts, frozenset(users), frozenset(internal), auto)
