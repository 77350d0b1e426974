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
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse
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

from app.legacy_socket import LegacyGraphQLWSHandler
from app.security_headers import GRAPHIQL_POLICY
from resolvers.context import (
    TOKEN_REQUIRED,
    Context,
    bearer_token,
    token_from_connection_params,
)
from resolvers.errors import RateLimited, SubscriptionNeedsWebsocket, Unauthenticated
from resolvers.validation import is_unicode
from schema.root import build_schema
from telemetry.logs import unicode_text

# The longest a RATE_LIMITED answer is held.
RATE_LIMITED_HOLD_SECONDS = 1.0

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


class UnreadableJson(json.JSONDecodeError):
    """A body the JSON parser gave up on without a syntax error: not UTF-8, nested too deep
    for the parser, a number too long to convert."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)


class ChronikGraphQL(GraphQL[Context, None]):
    graphql_ws_handler_class = LegacyGraphQLWSHandler

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
        try:
            return orjson.dumps(data).decode()
        except orjson.JSONEncodeError:
            # Text holding a lone surrogate (a name the caller sent, quoted in an error)
            # has no UTF-8 form: it goes out with U+FFFD in its place.
            return orjson.dumps(_without_surrogates(data)).decode()

    def decode_json(self, data: str | bytes) -> object:
        """The stdlib's parser, which reads a `\\ud800` escape as a lone surrogate: the
        argument checks then refuse it naming the field, where orjson would refuse the body.
        What it raises for a body that is not JSON at all becomes a `JSONDecodeError` too,
        so the view answers 400 (strawberry expects nothing else, and answered 500)."""
        try:
            return json.loads(data)
        except UnicodeDecodeError as exc:
            raise UnreadableJson(f"it is not valid UTF-8 (byte {exc.start})") from None
        except RecursionError:
            raise UnreadableJson("it is nested too deeply") from None
        except json.JSONDecodeError:
            raise
        except ValueError:  # an integer of more than sys.get_int_max_str_digits() digits
            raise UnreadableJson("it holds a number too long to read") from None

    def parse_json(self, data: str | bytes) -> Any:
        """A request body, or the `variables` or `extensions` of a GET request: each a JSON
        object (a body may be a list, which the view refuses as a batch)."""
        try:
            parsed = self.decode_json(data)
        except UnreadableJson as exc:
            raise HTTPException(400, f"Unable to parse request body as JSON: {exc.msg}.") from None
        except json.JSONDecodeError as exc:
            raise HTTPException(
                400,
                f"Unable to parse request body as JSON: {exc.msg} "
                f"(line {exc.lineno}, column {exc.colno}).",
            ) from None
        if not isinstance(parsed, dict | list):
            found = type(parsed).__name__ if parsed is not None else "null"
            raise HTTPException(400, f"Expected a JSON object, found {found}.")
        return parsed

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """strawberry's reading of the request, and an `operationName` that is text: the
        view quotes it in the answer when no operation has that name."""
        parsed = await super().parse_http_body(request)
        for data in parsed if isinstance(parsed, list) else [parsed]:
            name = data.operation_name
            if name is not None and not (isinstance(name, str) and is_unicode(name)):
                raise HTTPException(
                    400, "The GraphQL operation's `operationName` must be a string or null."
                )
        return parsed

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
    ws_max_operations: int = 100,
    ws_init_timeout: float = 60.0,
    allowed_origins: frozenset[str] = frozenset(),
) -> ChronikGraphQL:
    """The endpoint, its schema running `extensions` (the request limits) on every operation.

    Outside production it serves GraphiQL and answers anonymous introspection; production
    hides "Did you mean …?" suggestions from every error. A websocket runs at most
    `ws_max_operations` at once and is closed without `connection_init` within
    `ws_init_timeout` seconds; websockets from pages of `allowed_origins` (besides its own)
    are accepted.
    """
    app = ChronikGraphQL(
        build_schema(extensions, hide_suggestions=production),
        graphql_ide=None if production else "graphiql",
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        keep_alive=True,
        keep_alive_interval=15,
        connection_init_wait_timeout=timedelta(seconds=ws_init_timeout),
        max_subscriptions_per_connection=ws_max_operations,
        allowed_origins=sorted(allowed_origins),
    )
    app.anonymous_introspection = not production
    app.max_tokens = max_tokens
    return app


def _without_surrogates(data: object) -> object:
    if isinstance(data, str):
        return unicode_text(data)
    if isinstance(data, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_without_surrogates(item) for item in data]
    return data
