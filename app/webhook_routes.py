"""`/webhooks/{provider}`: where providers POST change notifications, each verified by its
provider's spec (`push`); a provider without push, or an unknown one, has no such address."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sync.providers import registry
from sync.providers.registry import UnknownProvider
from sync.providers.spec import WebhookRequest

# Notifications are tiny; anything bigger is not from a provider.
MAX_BODY = 256 * 1024


async def notification(request: Request) -> Response:
    try:
        spec = registry.spec(request.path_params["provider"])
    except UnknownProvider:
        return Response(status_code=404)
    if spec.push is None:
        return Response(status_code=404)
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(status_code=413)
    answer = await spec.push(
        request.app.state.services.pool,
        WebhookRequest(
            headers={name.lower(): value for name, value in request.headers.items()},
            query=dict(request.query_params),
            body=body,
        ),
    )
    if answer.text is not None:
        return PlainTextResponse(answer.text, status_code=answer.status)
    return Response(status_code=answer.status)


routes = [Route("/webhooks/{provider}", notification, methods=["POST"])]
