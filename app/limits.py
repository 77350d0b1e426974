"""Limits on what one request may ask of the server.

At the HTTP layer, `RequestLimits` refuses bodies over a size (413) and bodies of a content
type Chronik does not read (415) before any route sees them. At the GraphQL layer,
`graphql_limits` returns strawberry's own depth, token and alias limiters, made to answer
with the typed `QUERY_TOO_COMPLEX` error instead of an untyped one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from graphql import (
    ASTValidationRule,
    GraphQLError,
    GraphQLSyntaxError,
    TokenKind,
    ValidationContext,
)
from graphql.language import Lexer, Source
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from app.settings import Settings
from resolvers.errors import QueryTooComplex

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


class _TypedReports:
    """A validation context whose reported errors become `QueryTooComplex`."""

    def __init__(self, context: ValidationContext) -> None:
        self._context = context

    def report_error(self, error: GraphQLError) -> None:
        self._context.report_error(QueryTooComplex(error.message))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def typed_rules(limiter: AddValidationRules) -> list[type[ASTValidationRule]]:
    """`limiter`'s validation rules, reporting `QueryTooComplex` instead of plain errors."""
    typed: list[type[ASTValidationRule]] = []
    for rule in limiter.validation_rules:

        class TypedRule(rule):  # type: ignore[valid-type, misc]
            def __init__(self, context: ValidationContext) -> None:
                super().__init__(_TypedReports(context))

        typed.append(TypedRule)
    return typed


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


def graphql_limits(settings: Settings) -> list[ExtensionFactory]:
    """Factories of the extensions enforcing `settings`' limits (a fresh set per operation).

    Production also refuses introspection.
    """
    rules = [
        *typed_rules(QueryDepthLimiter(max_depth=settings.graphql_max_depth)),
        *typed_rules(MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases)),
    ]
    factories: list[ExtensionFactory] = [
        partial(TypedMaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(AddValidationRules, rules),
    ]
    if settings.is_production:
        factories.append(DisableIntrospection)
    return factories
