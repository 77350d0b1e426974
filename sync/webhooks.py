"""Provider push notifications: verify them and queue a sync; never sync inline.

A notification only says "something changed": the work is queued on the connection
(`sync_state.note_push`), so duplicates, replays and floods cost two small queries each and
collapse: into the queued run, or into one follow-up run of a run already going. Forged
notifications (wrong channel token / clientState) are refused.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

import asyncpg

from db import sync_state
from sync.engine import push_token_hash
from sync.provider import ProviderName


async def _accept(
    pool: asyncpg.Pool,
    provider: ProviderName,
    channel_id: str,
    token: str | None,
    lifecycle: str | None = None,
) -> bool | None:
    """True: verified and queued; False: forged; None: unknown channel. A Graph lifecycle
    event first updates the channel's state: `subscriptionRemoved` forgets it and
    `reauthorizationRequired` makes it due for renewal, so the queued run registers or renews
    it; `missed` only needs the run, which reads what the lost notifications announced.
    https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events"""
    target = await sync_state.push_target(pool, channel_id)
    if target is None or target.provider != provider.value or target.token_hash is None:
        return None
    if not token or not hmac.compare_digest(target.token_hash, push_token_hash(token)):
        return False
    if lifecycle == "subscriptionRemoved":
        await sync_state.push_channel_gone(pool, target.connection_id, channel_id)
    elif lifecycle == "reauthorizationRequired":
        await sync_state.push_renewal_due(pool, target.connection_id, channel_id)
    await sync_state.note_push(pool, target.connection_id)
    return True


async def google_notification(
    pool: asyncpg.Pool, *, channel_id: str | None, token: str | None, state: str | None
) -> int:
    """Handle one Google channel message; the HTTP status to answer."""
    if not channel_id:
        return 400
    if state == "sync":
        # The handshake message of a new channel: nothing changed yet. Still verify it.
        target = await sync_state.push_target(pool, channel_id)
        if (
            target is not None
            and target.token_hash is not None
            and not (token and hmac.compare_digest(target.token_hash, push_token_hash(token)))
        ):
            return 403
        return 200
    accepted = await _accept(pool, ProviderName.GOOGLE, channel_id, token)
    if accepted is None:
        return 404
    return 200 if accepted else 403


async def graph_notifications(pool: asyncpg.Pool, notifications: Iterable[object]) -> int:
    """Handle a Graph notification batch (change notifications, and lifecycle notifications,
    which carry `lifecycleEvent` and come to the same URL); 202 when any was genuine, 403 when
    all were forged."""
    genuine = forged = 0
    for item in notifications:
        if not isinstance(item, dict):
            continue
        subscription = item.get("subscriptionId")
        if not isinstance(subscription, str):
            continue
        state = item.get("clientState")
        event = item.get("lifecycleEvent")
        accepted = await _accept(
            pool,
            ProviderName.MICROSOFT,
            subscription,
            state if isinstance(state, str) else None,
            event if isinstance(event, str) else None,
        )
        if accepted:
            genuine += 1
        elif accepted is False:
            forged += 1
    return 403 if forged and not genuine else 202
