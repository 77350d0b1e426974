"""The `/graphql` endpoint: HTTP, GraphiQL and websockets, with the caller's context.

The whole API requires a token, so the caller is authenticated before any GraphQL work: an
HTTP request without a valid token is answered `UNAUTHENTICATED` before its document is
parsed or validated (a websocket is refused at `connection_init`). The one exception,
outside production only: a document asking for nothing but introspection (`__schema`,
`__type`, `__typename`) is served anonymously, so GraphiQL can load the schema before its
Headers pane holds a token. Production has no GraphiQL and no introspection.

A `RATE_LIMITED` answer is held for up to a second (never longer than the `retryAfter` it
carries, so a client that waits as told loses nothing): a client retrying at once, over and
over, then costs the server one sleeping coroutine a second instead of a busy core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult

from resolvers.context import (
    TOKEN_REQUIRED,
    Context,
    bearer_token,
    token_from_connection_params,
)
from resolvers.errors import RateLimited, Unauthenticated
from schema.root import build_schema

# The longest a RATE_LIMITED answer is held.
RATE_LIMITED_HOLD_SECONDS = 1.0

GRAPHIQL_PAGE = Path(__file__).parent / "static" / "graphiql.html"


class ChronikGraphQL(GraphQL[Context, None]):
    # Outside production: anonymous introspection-only documents (for GraphiQL).
    anonymous_introspection = False
    # The token limit, for parsing an anonymous document.
    max_tokens: int | None = None

    async def execute_operation(
        self,
        request: Request,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        """Refuse a caller without a valid token before any GraphQL work (see above)."""
        if not await context.is_authenticated():
            batch = request_data if isinstance(request_data, list) else [request_data]
            if not (
                self.anonymous_introspection
                and all(introspection_only(data.query, self.max_tokens) for data in batch)
            ):
                refused = ExecutionResult(data=None, errors=[Unauthenticated(TOKEN_REQUIRED)])
                return [refused for _ in batch] if isinstance(request_data, list) else refused
        result = await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )
        hold = rate_limited_hold(result)
        if hold:
            await asyncio.sleep(hold)
        return result

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


def rate_limited_hold(result: Any) -> float:
    """How long to hold an answer refused as `RATE_LIMITED` (0 for any other)."""
    hold = 0.0
    for one in result if isinstance(result, list) else [result]:
        for error in getattr(one, "errors", None) or ():
            extensions = error.extensions or {}
            if extensions.get("code") == RateLimited.code:
                retry_after = float(extensions.get("retryAfter", RATE_LIMITED_HOLD_SECONDS))
                hold = max(hold, min(RATE_LIMITED_HOLD_SECONDS, retry_after))
    return hold


def introspection_only(query: str | None, max_tokens: int | None) -> bool:
    """Whether `query` parses (within `max_tokens`) and its operations select nothing but
    introspection fields."""
    if not query:
        return False
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return False
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            for selection in definition.selection_set.selections:
                if not (isinstance(selection, FieldNode) and selection.name.value.startswith("__")):
                    return False
    return True


def graphql_app(
    *,
    production: bool,
    max_tokens: int | None = None,
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
) -> ChronikGraphQL:
    """The endpoint, its schema running `extensions` (the request limits) on every operation.

    Outside production it serves GraphiQL and answers anonymous introspection; production
    hides "Did you mean …?" suggestions from every error.
    """
    app = ChronikGraphQL(
        build_schema(extensions, hide_suggestions=production),
        graphql_ide=None if production else "graphiql",
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        keep_alive=True,
        keep_alive_interval=15,
    )
    app.anonymous_introspection = not production
    app.max_tokens = max_tokens
    return app
