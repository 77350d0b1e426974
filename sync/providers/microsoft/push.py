"""Microsoft Graph push: verify change and lifecycle notifications (their `clientState`) and
queue a sync; answer the subscription's validation handshake.
https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
import orjson

from sync.providers.spec import WebhookAnswer, WebhookRequest
from sync.webhooks import accept


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
        accepted = await accept(
            pool,
            "microsoft",
            subscription,
            state if isinstance(state, str) else None,
            event if isinstance(event, str) else None,
        )
        if accepted:
            genuine += 1
        elif accepted is False:
            forged += 1
    return 403 if forged and not genuine else 202


async def receive(pool: asyncpg.Pool, request: WebhookRequest) -> WebhookAnswer:
    validation = request.query.get("validationToken")
    if validation is not None:
        # Graph's subscription handshake: echo the token as plain text within 10 seconds.
        return WebhookAnswer(200, validation)
    try:
        payload = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return WebhookAnswer(400)
    items = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return WebhookAnswer(400)
    return WebhookAnswer(await graph_notifications(pool, items))
