"""Queries on OAuth link attempts (`state`): created by startCalendarLink, bound to a browser
the starting user signed in to, used once by that browser, and their outcome."""

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
    OTHER_USER = "other_user"
    OTHER_BROWSER = "other_browser"


@dataclass(frozen=True, slots=True)
class LinkState:
    user_id: int
    account_id: int
    provider: str
    verifier_cipher: bytes


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """A user's link attempt as they may see it."""

    provider: str
    created_at: datetime
    expires_at: datetime
    expired: bool
    proven_at: datetime | None
    outcome: str | None
    problem: str | None
    message: str | None
    calendar_email: str | None


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
    db: Executor, state_hash: bytes, browser_hash: bytes, user_id: int
) -> LinkState | StateProblem:
    """Bind an unused, unexpired attempt to a browser that proved to be `user_id`'s.

    The same user may bind it again (a retry in another tab or browser: the latest wins); for
    anyone else nothing changes.
    """
    record = await db.fetchrow(
        """
        UPDATE oauth_link_states s SET browser_hash = $2, proven_at = now()
        FROM users u
        WHERE s.state_hash = $1 AND u.id = s.user_id AND s.user_id = $3
          AND s.used_at IS NULL AND s.expires_at > now()
        RETURNING s.user_id, u.account_id, s.provider, s.verifier_cipher
        """,
        state_hash,
        browser_hash,
        user_id,
    )
    if record is not None:
        return _state(record)
    problem = await db.fetchrow(
        """
        SELECT user_id, used_at IS NOT NULL AS used, expires_at < now() AS expired
        FROM oauth_link_states WHERE state_hash = $1
        """,
        state_hash,
    )
    if problem is None:
        return StateProblem.UNKNOWN
    if problem["user_id"] != user_id:
        return StateProblem.OTHER_USER
    return StateProblem.USED if problem["used"] else StateProblem.EXPIRED


async def check_state(db: Executor, state_hash: bytes) -> StateProblem | None:
    """Why an attempt cannot be continued any more, or None while it can (reads only)."""
    record = await db.fetchrow(
        """
        SELECT used_at IS NOT NULL AS used, expires_at < now() AS expired
        FROM oauth_link_states WHERE state_hash = $1
        """,
        state_hash,
    )
    if record is None:
        return StateProblem.UNKNOWN
    if record["used"]:
        return StateProblem.USED
    return StateProblem.EXPIRED if record["expired"] else None


async def consume_state(
    conn: asyncpg.Connection, state_hash: bytes, browser_hash: bytes | None
) -> LinkState | StateProblem:
    """Use a state once, from the browser bound to it: the attempt it names, or why not.

    Another browser (no cookie, or someone else's) changes nothing: the real user's browser
    can still finish its attempt.
    """
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
        bound = record["browser_hash"]
        if bound is None or browser_hash is None or bytes(bound) != browser_hash:
            return StateProblem.OTHER_BROWSER
        if record["expired"]:
            return StateProblem.EXPIRED
        await conn.execute(
            "UPDATE oauth_link_states SET used_at = now() WHERE state_hash = $1", state_hash
        )
        return _state(record)


async def record_outcome(
    db: Executor,
    state_hash: bytes,
    *,
    linked: bool,
    problem: str | None = None,
    message: str | None = None,
    calendar_email: str | None = None,
) -> None:
    """Remember how a used attempt ended, for `calendarLinkAttempt`."""
    await db.execute(
        """
        UPDATE oauth_link_states
        SET outcome = $2, problem = $3, message = $4, calendar_email = $5
        WHERE state_hash = $1
        """,
        state_hash,
        "linked" if linked else "failed",
        problem,
        message,
        calendar_email,
    )


async def latest_attempt(db: Executor, user_id: int) -> AttemptRow | None:
    """The user's most recent link attempt."""
    record = await db.fetchrow(
        """
        SELECT provider, created_at, expires_at, expires_at < now() AS expired, proven_at,
               outcome, problem, message, calendar_email
        FROM oauth_link_states WHERE user_id = $1
        ORDER BY created_at DESC LIMIT 1
        """,
        user_id,
    )
    return AttemptRow(**dict(record)) if record else None


def _state(record: asyncpg.Record) -> LinkState:
    return LinkState(
        user_id=record["user_id"],
        account_id=record["account_id"],
        provider=record["provider"],
        verifier_cipher=bytes(record["verifier_cipher"]),
    )
