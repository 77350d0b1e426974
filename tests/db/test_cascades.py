"""Deletes that the bulk tables' foreign keys used to cascade (migration 0005 dropped them):
the db functions do it in the same transaction, and a sync page racing a contact delete
leaves no orphan behind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from db import accounts, connections, contacts, meetings, users
from db.contacts import ContactFields
from db.meetings import AttendeeWrite, MeetingWrite
from db.orphans import orphaned_rows
from db.provisioning import provision_user

START = datetime(2027, 3, 1, 9, tzinfo=UTC)


def _write(n: int, guests: list[str]) -> MeetingWrite:
    starts = START + timedelta(days=n)
    return MeetingWrite(
        provider_event_id=f"ev{n}",
        provider_alt_id=None,
        ical_uid=None,
        kind="single",
        series_id=None,
        original_start=None,
        title=f"Meeting {n}",
        description=None,
        location=None,
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        time_zone="UTC",
        all_day=False,
        status="confirmed",
        organizer_email="owner@acme.test",
        provider_created_at=None,
        provider_updated_at=None,
        etag=None,
        attendees=[AttendeeWrite(g, None, "needs_action", False) for g in guests],
        contact_ids=frozenset(),
    )


async def _world(db: asyncpg.Connection, name: str = "Acme") -> dict[str, int]:
    """An account with a user, a connection, two contacts and two meetings on both timelines."""
    owner = await provision_user(db, account_name=name, email=f"owner@{name.lower()}.test")
    account_id, user_id = owner.account.id, owner.user.id
    link = await connections.save_link(
        db,
        account_id=account_id,
        user_id=user_id,
        provider="google",
        calendar_email=f"owner@{name.lower()}.test",
        token_ciphertext=b"x",
        token_expires_at=START,
    )
    domain = f"{name.lower()}.com"
    ann = await contacts.create_contact(db, account_id, ContactFields(email=f"ann@{domain}"))
    bob = await contacts.create_contact(db, account_id, ContactFields(email=f"bob@{domain}"))
    async with db.transaction():
        ids = await meetings.upsert_meetings(
            db,
            account_id=account_id,
            connection_id=link.id,
            source="google",
            seen_round=1,
            writes=[_write(1, [ann.email, bob.email]), _write(2, [ann.email, bob.email])],
            created_by_user_id=user_id,
        )
        changes = await meetings.set_timelines(
            db, account_id, [(m, START, frozenset({ann.id, bob.id})) for m in ids]
        )
        await meetings.record_changes(db, account_id, changes)
    return {
        "account": account_id,
        "user": user_id,
        "connection": link.id,
        "ann": ann.id,
        "bob": bob.id,
        "m1": ids[0],
        "m2": ids[1],
    }


async def _count(db: asyncpg.Connection, sql: str, *args: object) -> int:
    return int(await db.fetchval(sql, *args))


async def test_deleting_a_contact_takes_it_off_every_timeline(database_url: str) -> None:
    db = await asyncpg.connect(database_url)
    try:
        w = await _world(db)
        assert await _count(db, "SELECT count(*) FROM timeline_entries") == 4
        assert await contacts.delete_contact(db, w["account"], w["ann"])
        left = await db.fetch("SELECT contact_id FROM timeline_entries")
        assert {r["contact_id"] for r in left} == {w["bob"]}
        assert len(left) == 2
        assert not await contacts.delete_contact(db, w["account"], w["ann"])
        assert await orphaned_rows(db) == {}
    finally:
        await db.close()


async def test_deleting_a_meeting_removes_its_attendees_and_entries(database_url: str) -> None:
    db = await asyncpg.connect(database_url)
    try:
        w = await _world(db)
        assert await meetings.delete_meetings(db, [w["m1"], 999_999]) == [w["m1"]]
        for table in ("meeting_attendees", "timeline_entries"):
            rows = await db.fetch(f"SELECT DISTINCT meeting_id FROM {table}")
            assert [r["meeting_id"] for r in rows] == [w["m2"]]
        assert await orphaned_rows(db) == {}
    finally:
        await db.close()


async def test_deleting_a_user_or_connection_keeps_the_meetings_unlinked(
    database_url: str,
) -> None:
    db = await asyncpg.connect(database_url)
    try:
        w = await _world(db)
        other = await _world(db, "Globex")
        assert await connections.delete_connection(db, other["connection"])
        assert (
            await _count(
                db,
                "SELECT count(*) FROM meetings WHERE account_id = $1 AND connection_id IS NULL",
                other["account"],
            )
            == 2
        )

        assert await users.delete_user(db, w["user"])
        rows = await db.fetch(
            "SELECT connection_id, created_by_user_id FROM meetings WHERE account_id = $1",
            w["account"],
        )
        assert [tuple(r) for r in rows] == [(None, None), (None, None)]
        assert await _count(db, "SELECT count(*) FROM calendar_connections") == 0
        # The meetings stay on the contacts' timelines.
        assert (
            await _count(
                db, "SELECT count(*) FROM timeline_entries WHERE account_id = $1", w["account"]
            )
            == 4
        )
        assert not await users.delete_user(db, w["user"])
        assert await orphaned_rows(db) == {}
    finally:
        await db.close()


async def test_deleting_an_account_removes_everything_it_synced(database_url: str) -> None:
    db = await asyncpg.connect(database_url)
    try:
        w = await _world(db)
        other = await _world(db, "Globex")
        assert await accounts.delete_account(db, w["account"])
        for table in ("meetings", "timeline_entries", "timeline_changes"):
            accounts_left = await db.fetch(f"SELECT DISTINCT account_id FROM {table}")
            assert [r["account_id"] for r in accounts_left] == [other["account"]], table
        attendees = await db.fetch("SELECT DISTINCT meeting_id FROM meeting_attendees")
        assert {r["meeting_id"] for r in attendees} == {other["m1"], other["m2"]}
        assert await orphaned_rows(db) == {}
    finally:
        await db.close()


async def test_a_contact_deleted_while_a_sync_page_writes_it_leaves_no_entry(
    database_url: str,
) -> None:
    db = await asyncpg.connect(database_url)
    sync = await asyncpg.connect(database_url)
    try:
        w = await _world(db)
        # The sync page has written a new entry for Ann and not committed yet …
        tr = sync.transaction()
        await tr.start()
        [m3] = await meetings.upsert_meetings(
            sync,
            account_id=w["account"],
            connection_id=w["connection"],
            source="google",
            seen_round=2,
            writes=[_write(3, [])],
        )
        await meetings.set_timelines(sync, w["account"], [(m3, START, frozenset({w["ann"]}))])
        # … when Ann is deleted: the delete waits for the page, then removes that entry too.
        deleting = asyncio.ensure_future(contacts.delete_contact(db, w["account"], w["ann"]))
        await asyncio.sleep(0.3)
        assert not deleting.done()
        await tr.commit()
        assert await asyncio.wait_for(deleting, 10)
        assert (
            await _count(
                db, "SELECT count(*) FROM timeline_entries WHERE contact_id = $1", w["ann"]
            )
            == 0
        )
        assert await orphaned_rows(db) == {}
    finally:
        await sync.close()
        await db.close()
