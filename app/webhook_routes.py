"""`/webhooks/google` and `/webhooks/microsoft`: where providers POST change notifications."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sync.webhooks import google_notification, graph_notifications

# Notifications are tiny; anything bigger is not from a provider.
MAX_BODY = 256 * 1024


async def google(request: Request) -> Response:
    status = await google_notification(
        request.app.state.services.pool,
        channel_id=request.headers.get("x-goog-channel-id"),
        token=request.headers.get("x-goog-channel-token"),
        state=request.headers.get("x-goog-resource-state"),
    )
    return Response(status_code=status)


async def microsoft(request: Request) -> Response:
    validation = request.query_params.get("validationToken")
    if validation is not None:
        # Graph's subscription handshake: echo the token as plain text within 10 seconds.
        return PlainTextResponse(validation)
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(status_code=413)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return Response(status_code=400)
    items = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return Response(status_code=400)
    status = await graph_notifications(request.app.state.services.pool, items)
    return Response(status_code=status)


routes = [
    Route("/webhooks/google", google, methods=["POST"]),
    Route("/webhooks/microsoft", microsoft, methods=["POST"]),
]
