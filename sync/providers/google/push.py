"""Google push: verify a channel message (`X-Goog-*` headers) and queue a sync.
https://developers.google.com/calendar/api/guides/push"""

from __future__ import annotations

import asyncpg

from sync.providers.spec import WebhookAnswer, WebhookRequest
from sync.webhooks import accept, verify_handshake


async def google_notification(
    pool: asyncpg.Pool, *, channel_id: str | None, token: str | None, state: str | None
) -> int:
    """Handle one Google channel message; the HTTP status to answer."""
    if not channel_id:
        return 400
    if state == "sync":
        # The handshake message of a new channel: nothing changed yet. Still verify it.
        return 200 if await verify_handshake(pool, channel_id, token) else 403
    accepted = await accept(pool, "google", channel_id, token)
    if accepted is None:
        return 404
    return 200 if accepted else 403


async def receive(pool: asyncpg.Pool, request: WebhookRequest) -> WebhookAnswer:
    status = await google_notification(
        pool,
        channel_id=request.headers.get("x-goog-channel-id"),
        token=request.headers.get("x-goog-channel-token"),
        state=request.headers.get("x-goog-resource-state"),
    )
    return WebhookAnswer(status)
