"""Dataloaders, built per request and bound to the caller's account: a resolver never loops
over queries, and nothing from another account can be loaded at all."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from strawberry.dataloader import DataLoader

from db import contacts
from db.contacts import ContactRow


class Loaders:
    def __init__(self, pool: asyncpg.Pool, account_id: int) -> None:
        self._pool = pool
        self._account_id = account_id
        self.contact_by_id: DataLoader[int, ContactRow | None] = DataLoader(self._load_contacts)

    async def _load_contacts(self, ids: Sequence[int]) -> list[ContactRow | None]:
        found = await contacts.contacts_by_ids(self._pool, self._account_id, ids)
        return [found.get(contact_id) for contact_id in ids]
