"""Queries on OAuth link attempts (`state`): created by startCalendarLink, used once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import asyncpg

from db.types import Executor


class StateProblem(StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class LinkState:
    user_id: int
    account_id: int
    provider: str
    browser_hash: bytes | None
    verifier_cipher: bytes


async def create_state(
    db: Executor,
    *,
    state_hash: bytes,
    user_id: int,
    provider: str,
    verifier_cipher: bytes,
    expires_at: datetime,
) -> None:
    await db.execute(
        """
        INSERT INTO oauth_link_states (state_hash, user_id, provider, verifier_cipher, expires_at)
        VALUES ($1, $2, $3, $4, $5)
        """,
        state_hash,
        user_id,
        provider,
        verifier_cipher,
        expires_at,
    )
    # Housekeeping while we are here: attempts nobody finished are useless after expiry.
    await db.execute("DELETE FROM oauth_link_states WHERE expires_at < now() - interval '1 day'")


async def bind_browser(
    db: Executor, state_hash: bytes, browser_hash: bytes
) -> LinkState | StateProblem:
    """Bind an attempt to the browser opening it; only the first browser, before expiry."""
    record = await db.fetchrow(
        """
        UPDATE oauth_link_states s SET browser_hash = $2
        FROM users u
        WHERE s.state_hash = $1 AND u.id = s.user_id
          AND s.browser_hash IS NULL AND s.used_at IS NULL AND s.expires_at > now()
        RETURNING s.user_id, u.account_id, s.provider, s.browser_hash, s.verifier_cipher
        """,
        state_hash,
        browser_hash,
    )
    if record is not None:
        return LinkState(**{k: record[k] for k in record.keys()})
    problem = await db.fetchrow(
        """
        SELECT used_at IS NOT NULL OR browser_hash IS NOT NULL AS used,
               expires_at < now() AS expired
        FROM oauth_link_states WHERE state_hash = $1
        """,
        state_hash,
    )
    if problem is None:
        return StateProblem.UNKNOWN
    return StateProblem.USED if problem["used"] else StateProblem.EXPIRED


async def consume_state(conn: asyncpg.Connection, state_hash: bytes) -> LinkState | StateProblem:
    """Use a state once: the attempt it names, or why it cannot be used."""
    async with conn.transaction():
        record = await conn.fetchrow(
            """
            SELECT s.user_id, u.account_id, s.provider, s.browser_hash, s.verifier_cipher,
                   s.used_at, s.expires_at < now() AS expired
            FROM oauth_link_states s JOIN users u ON u.id = s.user_id
            WHERE s.state_hash = $1 FOR UPDATE OF s
            """,
            state_hash,
        )
        if record is None:
            return StateProblem.UNKNOWN
        if record["used_at"] is not None:
            return StateProblem.USED
        await conn.execute(
            "UPDATE oauth_link_states SET used_at = now() WHERE state_hash = $1", state_hash
        )
        if record["expired"]:
            return StateProblem.EXPIRED
        return LinkState(
            user_id=record["user_id"],
            account_id=record["account_id"],
            provider=record["provider"],
            browser_hash=bytes(record["browser_hash"]) if record["browser_hash"] else None,
            verifier_cipher=bytes(record["verifier_cipher"]),
        )
