"""Dataloaders, built per request and bound to the caller's account: a resolver never loops
over queries, and nothing from another account can be loaded at all."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import asyncpg
from strawberry.dataloader import DataLoader

from db import companies, contacts, timeline
from db.companies import CompanyRow
from db.contacts import ContactRow
from db.timeline import AttendeeRow, MeetingRow


class Loaders:
    def __init__(self, pool: asyncpg.Pool, account_id: int) -> None:
        self._pool = pool
        self._account_id = account_id
        self.contact_by_id: DataLoader[int, ContactRow | None] = DataLoader(self._load_contacts)
        self.contact_id_by_email: DataLoader[str, int | None] = DataLoader(
            self._load_contact_ids_by_email
        )
        self.meeting_by_id: DataLoader[int, MeetingRow | None] = DataLoader(self._load_meetings)
        self.attendees_by_meeting: DataLoader[int, list[AttendeeRow]] = DataLoader(
            self._load_attendees
        )
        self.contact_ids_by_company: DataLoader[int, list[int]] = DataLoader(
            self._load_company_contacts
        )
        self.companies_by_contact: DataLoader[int, list[CompanyRow]] = DataLoader(
            self._load_contact_companies
        )

    def forget_meeting(self, meeting_id: int) -> None:
        """Drop a meeting this request changed, so it is read again as stored."""
        for loader in (self.meeting_by_id, self.attendees_by_meeting):
            with contextlib.suppress(KeyError):  # never loaded: nothing to forget
                loader.clear(meeting_id)

    async def _load_contacts(self, ids: Sequence[int]) -> list[ContactRow | None]:
        found = await contacts.contacts_by_ids(self._pool, self._account_id, ids)
        return [found.get(contact_id) for contact_id in ids]

    async def _load_contact_ids_by_email(self, emails: Sequence[str]) -> list[int | None]:
        found = await timeline.contact_ids_by_emails(self._pool, self._account_id, emails)
        return [found.get(email) for email in emails]

    async def _load_meetings(self, ids: Sequence[int]) -> list[MeetingRow | None]:
        found = await timeline.meetings_by_ids(self._pool, self._account_id, ids)
        return [found.get(meeting_id) for meeting_id in ids]

    async def _load_attendees(self, meeting_ids: Sequence[int]) -> list[list[AttendeeRow]]:
        # Callers only pass ids of meetings they loaded through this account's loaders.
        found = await timeline.attendees_for_meetings(self._pool, meeting_ids)
        return [found.get(meeting_id, []) for meeting_id in meeting_ids]

    async def _load_company_contacts(self, company_ids: Sequence[int]) -> list[list[int]]:
        found = await companies.contact_ids_of_companies(self._pool, self._account_id, company_ids)
        return [found.get(company_id, []) for company_id in company_ids]

    async def _load_contact_companies(self, contact_ids: Sequence[int]) -> list[list[CompanyRow]]:
        ids = await companies.company_ids_of_contacts(self._pool, self._account_id, contact_ids)
        wanted = sorted({c for found in ids.values() for c in found})
        rows = await companies.companies_by_ids(self._pool, self._account_id, wanted)
        return [[rows[c] for c in ids.get(contact, []) if c in rows] for contact in contact_ids]
