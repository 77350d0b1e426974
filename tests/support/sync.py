"""A linked calendar under test: the user, their sandbox calendar, and sync helpers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg

from tests.conftest import TestUser
from tests.support.calendar import GoogleCalendar, OutlookCalendar, SandboxCalendar
from tests.support.linking import link_calendar, sandbox_url
from tests.support.server import RunningChronik

STATE = """
{ calendarConnection { id status syncState { phase syncing requested lastSyncedAt lastError
  failureCount eventsSeen } } }"""
TIMELINE = """
query($id: ID!) { contact(id: $id) { timeline(first: 100) { edges { node {
  occurredAt meeting { id title status source startsAt endsAt allDay isRecurring
  originalStart cancelledAt
  attendees { email response contact { id } } } } } } } }"""
CREATE_CONTACT = """
mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"""


@dataclass
class LinkedCalendar:
    chronik: RunningChronik
    user: TestUser
    calendar: SandboxCalendar
    db: asyncpg.Connection

    @property
    def provider(self) -> str:
        return self.calendar.provider

    async def contact(self, email: str, *extra: str, name: str = "") -> str:
        result = await self.chronik.graphql(
            CREATE_CONTACT,
            {
                "input": {
                    "email": email,
                    "firstName": name or email.split("@")[0],
                    "extraEmails": list(extra),
                }
            },
            token=self.user.token,
        )
        return str(result.ok()["createContact"]["id"])

    async def state(self) -> dict[str, Any]:
        result = await self.chronik.graphql(STATE, token=self.user.token)
        return dict(result.ok()["calendarConnection"]["syncState"])

    async def sync(self, *, within: float = 30) -> dict[str, Any]:
        """syncCalendarNow, then wait until that sync has run; its final state."""
        before = await self.state()
        (
            await self.chronik.graphql("mutation { syncCalendarNow { id } }", token=self.user.token)
        ).ok()
        return await self.wait_synced(
            after=before["lastSyncedAt"], failures=before["failureCount"], within=within
        )

    async def wait_synced(
        self, *, after: str | None, failures: int = 0, within: float = 30
    ) -> dict[str, Any]:
        """Wait for a successful run after `after`; fail fast when a new failure is recorded."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            state = await self.state()
            done = state["lastSyncedAt"] is not None and state["lastSyncedAt"] != after
            if done and not state["requested"] and not state["syncing"]:
                return state
            if state["failureCount"] > failures:
                raise AssertionError(f"sync failed: {state['lastError']}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no sync finished in {within}s: {state}")
            await asyncio.sleep(0.02)

    async def timeline(self, contact_id: str) -> list[dict[str, Any]]:
        result = await self.chronik.graphql(TIMELINE, {"id": contact_id}, token=self.user.token)
        return [e["node"] for e in result.ok()["contact"]["timeline"]["edges"]]

    async def titles(self, contact_id: str) -> list[str]:
        return sorted(e["meeting"]["title"] for e in await self.timeline(contact_id))


async def linked_calendar(
    chronik: RunningChronik, user: TestUser, db: asyncpg.Connection, provider: str
) -> LinkedCalendar:
    """Install the provider, link `user`'s calendar (owner = the user's address), first sync."""
    await link_calendar(chronik, user.token, provider, user.email)
    driver = GoogleCalendar if provider == "GOOGLE" else OutlookCalendar
    linked = LinkedCalendar(
        chronik, user, driver(chronik.http, sandbox_url(chronik, provider), user.email), db
    )
    await linked.wait_synced(after=None)
    return linked
