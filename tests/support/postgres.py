"""Test databases: one server per test session, a migrated template, a fresh clone per test."""

from __future__ import annotations

import itertools
import os
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from db.migrate import apply_migrations

_counter = itertools.count()


def with_database(dsn: str, name: str) -> str:
    """`dsn` pointed at database `name` (works for TCP URLs and pgserver's socket URLs)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


def unique_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_counter)}"


async def create_template(admin_dsn: str) -> str:
    """Create and migrate a template database; return its name."""
    name = unique_name("chronik_tpl")
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(with_database(admin_dsn, name))
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    return name


async def clone_database(admin_dsn: str, template: str | None) -> str:
    """A new database, copied from `template` (fast: a file copy) or empty; return its name."""
    name = unique_name("chronik_test")
    admin = await asyncpg.connect(admin_dsn)
    try:
        clause = f' TEMPLATE "{template}"' if template else " TEMPLATE template0"
        await admin.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await admin.close()
    return name


async def drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
