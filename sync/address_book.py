"""The rules' knowledge of an account, learnt address by address as a sync run meets them.

The rules (sync/rules.py) ask about each guest and organizer: is it a contact's address, a
user's, at one of the account's own domains? An account may hold millions of contacts, so
nothing here loads the account: before a page is decided, the page's addresses not met
before in this run are looked up in one indexed query (db/addresses.py), and the answers are
kept for the rest of the run. A change costs what its page holds, whatever the account's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from db import addresses as addresses_db
from db.types import Executor
from sync.model import ProviderEvent
from sync.rules import AccountContext, participants

# Bounds what a run remembers (a calendar full of strangers must not grow the worker without
# end): past this many addresses the memo starts over, and later pages ask again.
MAX_REMEMBERED = 50_000


def _domain(email: str) -> str:
    return email.rpartition("@")[2]


class AddressBook:
    """Answers for the addresses one run (or one scheduling call) meets, looked up on demand."""

    def __init__(
        self,
        account_id: int,
        *,
        calendar_email: str,
        linked_at: datetime,
        excluded_domains: frozenset[str],
        max_remembered: int = MAX_REMEMBERED,
    ) -> None:
        self._account_id = account_id
        self._calendar_email = calendar_email.lower()
        self._linked_at = linked_at
        self._excluded = excluded_domains
        self._max = max_remembered
        self._auto_create = False
        # Counts the contacts learnt during the run: a decision made before one was learnt
        # may have missed it (sync/apply.py `PagePlan.still_holds`).
        self.version = 0
        self._forget()

    def _forget(self) -> None:
        self._known: set[str] = set()
        self._known_domains: set[str] = set()
        self._contacts: dict[str, int] = {}
        self._members: set[str] = {self._calendar_email}
        self._internal: set[str] = set()

    async def context_for(self, db: Executor, emails: Iterable[str]) -> AccountContext:
        """A rules context that knows every address in `emails` (lower-cased): those not met
        before are looked up in one query; none when all were met."""
        wanted = dict.fromkeys(emails)
        missing = [e for e in wanted if e not in self._known]
        if missing:
            if len(self._known) + len(missing) > self._max:
                self._forget()
                missing = list(wanted)
            domains = {_domain(e) for e in missing} - self._known_domains
            facts = await addresses_db.address_facts(db, self._account_id, missing, domains)
            self._known.update(missing)
            self._known_domains.update(domains)
            self._contacts.update(facts.contact_ids_by_email)
            self._members.update(facts.user_emails)
            self._internal.update(facts.internal_domains)
            self._auto_create = facts.auto_create_contacts
        return self._context()

    async def context_for_events(
        self, db: Executor, events: Iterable[ProviderEvent]
    ) -> AccountContext:
        """`context_for` the guests and organizers of `events`."""
        return await self.context_for(db, (e for event in events for e in participants(event)))

    def learn_contacts(self, contact_ids_by_email: Mapping[str, int]) -> None:
        """Contacts made during the run (auto-created guests) are known from now on."""
        if contact_ids_by_email:
            self.version += 1
        self._contacts.update(contact_ids_by_email)
        self._known.update(contact_ids_by_email)

    def _context(self) -> AccountContext:
        # A fresh context (and verdict memo) per call: the sets it reads grow between pages.
        return AccountContext(
            contact_ids_by_email=self._contacts,
            internal_domains=self._internal,
            member_emails=self._members,
            excluded_domains=self._excluded,
            linked_at=self._linked_at,
            auto_create_contacts=self._auto_create,
        )
