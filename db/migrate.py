"""Plain SQL migrations from `db/migrations/NNNN_name.sql`, applied in order, once each."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant works: it only has to be the same in every Chronik process.
_MIGRATION_LOCK_KEY = 0x43484E4B  # "CHNK"


class MigrationError(Exception):
    """A migration file is malformed, or an applied one was edited after the fact."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files, sorted by their number; raises `MigrationError` on a bad name."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        if not number.isdigit() or not name:
            raise MigrationError(f"{path.name}: expected NNNN_name.sql")
        migrations.append(Migration(int(number), name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migrations share a number")
    return migrations


async def apply_migrations(
    conn: asyncpg.Connection, *, up_to: int | None = None
) -> list[Migration]:
    """Apply every pending migration (up to version `up_to`, for tests of a data fix-up), each
    in its own transaction; return those applied.

    A session-level advisory lock serialises concurrent callers: a second process waits for
    the first, then finds nothing left to do. An applied migration whose file changed since
    raises `MigrationError` instead of silently diverging.
    """
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    int PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        applied = {row["version"]: row["checksum"] for row in rows}
        done = []
        for migration in load_migrations():
            if up_to is not None and migration.version > up_to:
                break
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version}_{migration.name} was changed after "
                        "it was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)


async def pending_migrations(conn: asyncpg.Connection) -> list[Migration]:
    """The migrations not yet applied (all of them on an empty database)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied: set[int] = set()
    if exists:
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    return [m for m in load_migrations() if m.version not in applied]
