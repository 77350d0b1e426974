"""The `/graphql` endpoint: HTTP, GraphiQL and websockets, with the caller's context."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.security_headers import GRAPHIQL_POLICY
from resolvers.context import Context, bearer_token, token_from_connection_params
from resolvers.errors import SubscriptionNeedsWebsocket, Unauthenticated
from schema.root import build_schema

GRAPHIQL_PAGE = Path(__file__).parent / "static" / "graphiql.html"

# What each HTTP method may run. Subscriptions are not among them: every client Chronik
# supports (graphql-ws, Apollo Client's GraphQLWsLink, Relay, GraphiQL) subscribes over the
# websocket, and a subscription run as an HTTP request would only fail (`Cannot return null
# for non-nullable field Subscription.…`, an INTERNAL error); it is refused with a typed error
# naming the websocket instead.
HTTP_OPERATIONS = {
    "GET": {OperationType.QUERY},
    "POST": {OperationType.QUERY, OperationType.MUTATION},
}


class ChronikGraphQL(GraphQL[Context, None]):
    def encode_json(self, data: object) -> str:
        """orjson: several times faster than the stdlib on a page of results (22 kB for a
        timeline page of 50). A str, not bytes: websocket messages go out as text frames."""
        return orjson.dumps(data).decode()

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL page: the same explorer, its scripts served by Chronik, not a CDN."""
        return HTMLResponse(
            GRAPHIQL_PAGE.read_text(), headers={"Content-Security-Policy": GRAPHIQL_POLICY}
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Strawberry's, with subscriptions refused by `SubscriptionNeedsWebsocket`."""
        method = request_adapter.method
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=HTTP_OPERATIONS[method],
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                refusal = SubscriptionNeedsWebsocket(websocket_url(request))
                return ExecutionResult(data=None, errors=[refusal])
            raise HTTPException(400, exc.as_http_error_reason(method)) from exc
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc

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


def websocket_url(request: Request) -> str:
    """The websocket endpoint at Chronik's public URL (`/graphql`, wss: behind https:)."""
    settings = request.app.state.services.settings
    public = str(settings.public_url).rstrip("/")
    scheme, _, rest = public.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/graphql"


def graphql_app(
    *,
    graphiql: bool,
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
    allowed_origins: frozenset[str] = frozenset(),
) -> ChronikGraphQL:
    """The endpoint, its schema running `extensions` (the request limits) on every operation;
    websockets from pages of `allowed_origins` (besides its own) are accepted."""
    return ChronikGraphQL(
        build_schema(extensions),
        graphql_ide="graphiql" if graphiql else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        keep_alive=True,
        keep_alive_interval=15,
        allowed_origins=sorted(allowed_origins),
    )
