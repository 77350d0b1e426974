"""Limits on what one request may ask of the server.

At the HTTP layer, `RequestLimits` refuses bodies over a size (413) and bodies of a content
type Chronik does not read (415) before any route sees them. At the GraphQL layer,
`graphql_limits` returns the extensions that refuse, with the typed `QUERY_TOO_COMPLEX`:
a document over the token limit (before it is parsed past the limit), an operation deeper
or more aliased than allowed (a validation rule, linear in the document's size: see
`app/query_shape.py`), and, before execution, an operation that may return more nodes than
allowed; then charge the caller's account its cost (`RATE_LIMITED` when spent, see
`app/query_budget.py`). Who may send a document at all is decided before (`app/graphql.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

from graphql import (
    SKIP,
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    TokenKind,
    ValidationContext,
    VisitorAction,
    get_operation_ast,
)
from graphql.language import Lexer, Source
from graphql.validation.rules import overlapping_fields_can_be_merged
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.types.graphql import OperationType

from app.query_budget import AccountBudgets, retry_after_seconds
from app.query_shape import ShapeAnalysis
from app.settings import Settings
from resolvers.context import Context
from resolvers.errors import ChronikError, QueryTooComplex, RateLimited

ExtensionFactory = Callable[[], SchemaExtension]

# Every body Chronik reads is JSON (GraphQL requests, Graph notifications); provider pushes and
# Graph's validation handshake come without a body. `application/graphql` (a bare document) is
# refused too: the GraphQL-over-HTTP spec's request media type is `application/json` alone
# (graphql.org no longer recommends the old one), and the endpoint would answer it with a 400.
ACCEPTED_CONTENT_TYPES = frozenset({"application/json"})


class BodyTooLarge(Exception):
    """Raised inside `receive` once a streamed body passes the limit."""


class RequestLimits:
    """ASGI middleware: 413 for bodies over `max_body_bytes`, 415 for unknown content types."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "")
        chunked = "transfer-encoding" in headers
        has_body = chunked or (length not in ("", "0"))
        if has_body and media_type(headers.get("content-type", "")) not in ACCEPTED_CONTENT_TYPES:
            await refuse(send, 415, "unsupported content type: send application/json")
            return
        if length.isdigit() and int(length) > self.max_body_bytes:
            await refuse(send, 413, "request body too large")
            return
        # A chunked body (or a lying Content-Length) is counted as it arrives.
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await refuse(send, 413, "request body too large")


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


async def refuse(send: Send, status: int, reason: str) -> None:
    body = reason.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def query_shape_rule(*, max_depth: int, max_aliases: int) -> type[ASTValidationRule]:
    """A validation rule refusing operations deeper or more aliased than allowed, in one pass
    over the document with each fragment analysed once."""

    class QueryShapeRule(ASTValidationRule):
        def enter_document(self, node: DocumentNode, *_args: object) -> VisitorAction:
            context = self.context
            assert isinstance(context, ValidationContext)  # executable documents only
            analysis = ShapeAnalysis(context.schema, node)
            for definition in node.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                shape = analysis.operation(definition)
                name = definition.name.value if definition.name else "anonymous"
                if shape.depth > max_depth:
                    self.report_error(
                        QueryTooComplex(
                            f"'{name}' exceeds maximum operation depth of {max_depth}",
                            depth=shape.depth,
                            maxDepth=max_depth,
                        )
                    )
                if shape.aliases > max_aliases:
                    self.report_error(
                        QueryTooComplex(
                            f"'{name}' has {shape.aliases} aliased fields; at most "
                            f"{max_aliases} are allowed",
                            aliases=shape.aliases,
                            maxAliases=max_aliases,
                        )
                    )
            return SKIP

    return QueryShapeRule


class TypedMaxTokensLimiter(MaxTokensLimiter):
    """strawberry's token limit; a document over it answers `QUERY_TOO_COMPLEX`."""

    def on_parse(self) -> Iterator[None]:
        yield
        errors = self.execution_context.pre_execution_errors or []
        query = self.execution_context.query
        if errors and query is not None and too_many_tokens(query, self.max_token_count):
            for error in errors:
                if isinstance(error, GraphQLSyntaxError):
                    # The parser's error object is the one answered; type it in place.
                    error.extensions = {**(error.extensions or {}), "code": QueryTooComplex.code}


def too_many_tokens(query: str, limit: int) -> bool:
    """Whether `query` holds more than `limit` tokens (lexing stops right after the limit)."""
    lexer = Lexer(Source(query))
    count = 0
    try:
        while lexer.advance().kind is not TokenKind.EOF:
            count += 1
            if count > limit:
                return True
    except GraphQLSyntaxError:
        return False
    return False


class CostGate:
    """Refuses an operation that may return more than `max_nodes` nodes, or whose cost the
    caller's account cannot pay from its budget right now; otherwise charges it."""

    def __init__(self, *, max_nodes: int, budgets: AccountBudgets) -> None:
        self.max_nodes = max_nodes
        self.budgets = budgets

    def refusal(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        account_id: int | None,
    ) -> ChronikError | None:
        """Why the operation may not run, or None (after charging `account_id` its cost)."""
        return self.check(schema, document, operation_name, variables, account_id)[0]

    def check(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        account_id: int | None,
    ) -> tuple[ChronikError | None, int]:
        """`refusal`, and the operation's estimated nodes."""
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return None, 0  # execution answers that the operation is unknown
        nodes = ShapeAnalysis(schema, document, variables).operation(operation).nodes
        return self._refusal(nodes, account_id), nodes

    def _refusal(self, nodes: int, account_id: int | None) -> ChronikError | None:
        if nodes > self.max_nodes:
            return QueryTooComplex(
                f"This query may return up to {nodes} nodes; at most {self.max_nodes} are "
                "allowed. Ask for smaller pages (first) or fewer nested lists.",
                nodes=nodes,
                maxNodes=self.max_nodes,
            )
        if account_id is None:
            return None
        wait = self.budgets.charge(account_id, max(1, nodes))
        if wait is None:
            return None
        retry_after = retry_after_seconds(wait)
        return RateLimited(
            f"This account has used its query budget for now (this query costs {max(1, nodes)} "
            f"points); retry in {retry_after} s.",
            retryAfter=retry_after,
            cost=max(1, nodes),
        )


class QueryCost(SchemaExtension):
    """Runs the `CostGate` after validation, with the request's variables: a refused
    operation is answered with its error and never executes. (The lean websocket endpoint
    runs the gate itself for the subscriptions it starts.)"""

    def __init__(self, *, gate: CostGate) -> None:
        super().__init__()
        self.gate = gate

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        if execution.result is None and execution.graphql_document is not None:
            context = execution.context
            viewer = context.known_viewer if isinstance(context, Context) else None
            refusal, nodes = self.gate.check(
                execution.schema._schema,
                execution.graphql_document,
                execution.operation_name,
                execution.variables,
                viewer.account_id if viewer else None,
            )
            if refusal is None and nodes > EXPENSIVE_NODES and isinstance(context, Context):
                context.one_statement_at_a_time()
            if refusal is not None:
                if execution.operation_type is OperationType.SUBSCRIPTION:
                    # strawberry's subscribe ignores a result set here; it answers an error
                    # raised by this hook (the legacy graphql-ws handler's subscriptions).
                    raise refusal
                execution.result = ExecutionResult(data=None, errors=[refusal])
        yield


# An operation estimated above this many nodes runs its per-item statements one at a time
# (a timeline page with attendees and their contacts estimates ~5,200).
EXPENSIVE_NODES = 10_000

# graphql-core's check that fields can be merged compares fields pairwise: 600 repeats of one
# field in 8 KiB cost it ~1 s before its default budget (500,000) aborts it. Real queries
# spend a few hundred units (GraphiQL's introspection query ~1,000); past this budget the
# document is refused ("Validation aborted.", typed QUERY_TOO_COMPLEX) within milliseconds.
FIELD_MERGE_BUDGET = 1_000


def graphql_limits(settings: Settings) -> list[ExtensionFactory]:
    """Factories of the extensions enforcing `settings`' limits (a fresh set per operation).

    Production also refuses introspection.
    """
    # A module attribute graphql-core reads at the start of every validation (this process).
    overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = FIELD_MERGE_BUDGET
    shape = query_shape_rule(
        max_depth=settings.graphql_max_depth, max_aliases=settings.graphql_max_aliases
    )
    gate = CostGate(
        max_nodes=settings.graphql_max_nodes,
        budgets=AccountBudgets(
            settings.graphql_budget_points, settings.graphql_budget_window_seconds
        ),
    )
    factories: list[ExtensionFactory] = [
        partial(TypedMaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(AddValidationRules, [shape]),
        partial(QueryCost, gate=gate),
    ]
    if settings.is_production:
        factories.append(DisableIntrospection)
    return factories
