"""Provider push notifications: what every provider's verifier shares (find the channel, check
its token, queue a sync); never sync inline. Each provider's own verifier, registered in its
spec, reads its notification format and calls `accept`.

A notification only says "something changed": the work is queued on the connection
(`sync_state.note_push`), so duplicates, replays and floods cost two small queries each and
collapse: into the queued run, or into one follow-up run of a run already going. Forged
notifications (wrong channel token / clientState) are refused.
"""

from __future__ import annotations

import hmac

import asyncpg

from db import sync_state
from sync.engine import push_token_hash


async def accept(
    pool: asyncpg.Pool,
    provider: str,
    channel_id: str,
    token: str | None,
    lifecycle: str | None = None,
) -> bool | None:
    """True: verified and queued; False: forged; None: unknown channel (or another
    provider's). A Graph lifecycle
    event first updates the channel's state: `subscriptionRemoved` forgets it and
    `reauthorizationRequired` makes it due for renewal, so the queued run registers or renews
    it; `missed` only needs the run, which reads what the lost notifications announced.
    https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events"""
    target = await sync_state.push_target(pool, channel_id)
    if target is None or target.provider != provider or target.token_hash is None:
        return None
    if not token or not hmac.compare_digest(target.token_hash, push_token_hash(token)):
        return False
    if lifecycle == "subscriptionRemoved":
        await sync_state.push_channel_gone(pool, target.connection_id, channel_id)
    elif lifecycle == "reauthorizationRequired":
        await sync_state.push_renewal_due(pool, target.connection_id, channel_id)
    await sync_state.note_push(pool, target.connection_id)
    return True


async def verify_handshake(pool: asyncpg.Pool, channel_id: str, token: str | None) -> bool:
    """A new channel's first message (nothing changed yet): False when its token is forged."""
    target = await sync_state.push_target(pool, channel_id)
    return (
        target is None
        or target.token_hash is None
        or bool(token and hmac.compare_digest(target.token_hash, push_token_hash(token)))
    )
