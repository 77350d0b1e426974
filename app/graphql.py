"""The `/graphql` endpoint: HTTP, GraphiQL and websockets, with the caller's context."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from app.legacy_socket import LegacyGraphQLWSHandler
from resolvers.context import Context, bearer_token, token_from_connection_params
from resolvers.errors import Unauthenticated
from schema.root import build_schema

GRAPHIQL_PAGE = Path(__file__).parent / "static" / "graphiql.html"


class ChronikGraphQL(GraphQL[Context, None]):
    graphql_ws_handler_class = LegacyGraphQLWSHandler

    def encode_json(self, data: object) -> str:
        """orjson: several times faster than the stdlib on a page of results (22 kB for a
        timeline page of 50). A str, not bytes: websocket messages go out as text frames."""
        return orjson.dumps(data).decode()

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL page: the same explorer, its scripts served by Chronik, not a CDN."""
        return HTMLResponse(GRAPHIQL_PAGE.read_text())

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        services = request.app.state.services
        token = None
        if isinstance(request, Request):
            token = bearer_token(request.headers.get("authorization"))
        return Context(pool=services.pool, token=token, services=services)

    async def on_ws_connect(self, context: Context) -> Any:
        """Authenticate a websocket from its `connection_init` payload; refuse it otherwise."""
        context.token = token_from_connection_params(context.connection_params)
        try:
            await context.viewer()
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"message": exc.message}) from None
        return None


def graphql_app(
    *,
    graphiql: bool,
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
    ws_max_operations: int = 100,
    ws_init_timeout: float = 60.0,
) -> ChronikGraphQL:
    """The endpoint, its schema running `extensions` (the request limits) on every operation;
    a websocket runs at most `ws_max_operations` at once and is closed without
    `connection_init` within `ws_init_timeout` seconds."""
    return ChronikGraphQL(
        build_schema(extensions),
        graphql_ide="graphiql" if graphiql else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        keep_alive=True,
        keep_alive_interval=15,
        connection_init_wait_timeout=timedelta(seconds=ws_init_timeout),
        max_subscriptions_per_connection=ws_max_operations,
    )
