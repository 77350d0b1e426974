"""Migrations: applied in order from empty, a no-op when re-run, safe from two processes."""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg

from db.migrate import apply_migrations, load_migrations, pending_migrations


async def test_migrations_apply_from_empty_then_rerun_is_a_no_op(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert len(await pending_migrations(conn)) == len(load_migrations())
        applied = await apply_migrations(conn)
        assert [m.version for m in applied] == [m.version for m in load_migrations()]
        assert await pending_migrations(conn) == []
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {"accounts", "users", "api_tokens", "contacts", "contact_emails"} <= tables

        assert await apply_migrations(conn) == []
        recorded = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert recorded == len(load_migrations())
    finally:
        await conn.close()


async def test_edited_applied_migration_is_refused(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        try:
            await apply_migrations(conn)
        except Exception as exc:
            assert "changed after it was applied" in str(exc)
        else:
            raise AssertionError("an edited migration must not pass silently")
    finally:
        await conn.close()


async def test_two_processes_migrating_at_once_apply_each_migration_once(
    empty_database_url: str, tmp_path: object
) -> None:
    env = {
        **os.environ,
        "CHRONIK_DATABASE_URL": empty_database_url,
        "CHRONIK_DATA_DIR": str(tmp_path),
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.cli",
            "migrate",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [await p.communicate() for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    printed = sorted(out.decode().strip() for out, _ in outputs)
    # One of them did the work, the other waited on the lock and found nothing to do.
    assert printed[1] == "database is up to date", printed
    assert printed[0].startswith("applied: 0001_"), printed

    conn = await asyncpg.connect(empty_database_url)
    try:
        rows = await conn.fetch("SELECT version, count(*) FROM schema_migrations GROUP BY version")
        assert all(row["count"] == 1 for row in rows)
        assert len(rows) == len(load_migrations())
    finally:
        await conn.close()


async def test_0006_clears_the_first_occurrence_alias_of_stored_graph_series_only(
    empty_database_url: str,
) -> None:
    """A database from before 0006 holds Graph series under their first occurrence too; after
    it, a change to that occurrence alone can no longer reach the series. Google rows, whose
    alias is something else, keep theirs."""
    conn = await asyncpg.connect(empty_database_url)
    try:
        await apply_migrations(conn, up_to=5)
        account = await conn.fetchval("INSERT INTO accounts (name) VALUES ('Acme') RETURNING id")
        meetings = {}
        for provider in ("microsoft", "google"):
            user = await conn.fetchval(
                "INSERT INTO users (account_id, email) VALUES ($1, $2) RETURNING id",
                account,
                f"owner@{provider}.test",
            )
            connection = await conn.fetchval(
                "INSERT INTO calendar_connections (account_id, user_id, provider, calendar_email,"
                " status, linked_at) VALUES ($1, $2, $3, $4, 'active', now()) RETURNING id",
                account,
                user,
                provider,
                f"owner@{provider}.test",
            )
            for kind in ("series", "exception"):
                meetings[provider, kind] = await conn.fetchval(
                    "INSERT INTO meetings (account_id, connection_id, source, provider_event_id,"
                    " provider_alt_id, kind, status) VALUES ($1, $2, $3, $4, $5, $6,"
                    " 'confirmed') RETURNING id",
                    account,
                    connection,
                    provider,
                    f"{provider}-{kind}",
                    f"{provider}-{kind}-alias",
                    kind,
                )
        await apply_migrations(conn)
        aliases = {
            key: await conn.fetchval("SELECT provider_alt_id FROM meetings WHERE id = $1", id_)
            for key, id_ in meetings.items()
        }
        assert aliases == {
            ("microsoft", "series"): None,
            ("microsoft", "exception"): "microsoft-exception-alias",
            ("google", "series"): "google-series-alias",
            ("google", "exception"): "google-exception-alias",
        }
    finally:
        await conn.close()


async def test_0008_keeps_the_earliest_of_two_links_of_one_calendar(
    empty_database_url: str,
) -> None:
    """Before 0008 one calendar could be linked in two accounts; after it, the earliest link
    keeps it and the later one is disconnected with a reason its user sees."""
    conn = await asyncpg.connect(empty_database_url)
    try:
        await apply_migrations(conn, up_to=7)
        links = {}
        for name, linked in (("Acme", "2026-01-01"), ("Globex", "2026-02-01")):
            account = await conn.fetchval(
                "INSERT INTO accounts (name) VALUES ($1) RETURNING id", name
            )
            user = await conn.fetchval(
                "INSERT INTO users (account_id, email) VALUES ($1, $2) RETURNING id",
                account,
                f"user@{name.lower()}.test",
            )
            links[name] = await conn.fetchval(
                "INSERT INTO calendar_connections (account_id, user_id, provider, calendar_email,"
                " status, linked_at, token_ciphertext) VALUES ($1, $2, 'google',"
                " 'shared@acme.test', 'active', $3::text::timestamptz, 'x') RETURNING id",
                account,
                user,
                linked,
            )
        await apply_migrations(conn)
        rows = {
            name: await conn.fetchrow(
                "SELECT status, token_ciphertext, last_error FROM calendar_connections"
                " WHERE id = $1",
                id_,
            )
            for name, id_ in links.items()
        }
        assert rows["Acme"]["status"] == "active" and rows["Acme"]["last_error"] is None
        assert rows["Globex"]["status"] == "disconnected"
        assert rows["Globex"]["token_ciphertext"] is None
        assert "linked in another place first" in rows["Globex"]["last_error"]
    finally:
        await conn.close()
