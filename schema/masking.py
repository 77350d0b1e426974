"""Masks internal errors: callers see typed errors only, operators see the traceback in logs.

Logging happens in `ChronikSchema.process_errors`, which strawberry calls with the original
errors before any extension runs: an unexpected exception is logged once, as ERROR with its
traceback; a typed error (NOT_FOUND, VALIDATION, a refused query ...) is the caller's answer,
not a fault of ours, and is logged at DEBUG without one (strawberry's default logs every error
with a traceback, which buried real faults under hundreds of lines per test run).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    GraphQLSyntaxError,
    Node,
    ObjectFieldNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.validation.validate import ValidationAbortedError
from strawberry import Schema
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from resolvers.errors import ChronikError, InvalidQuery, QueryTooComplex, UnparsableQuery

log = logging.getLogger("chronik.graphql")

INTERNAL_MESSAGE = "Internal error. It has been logged; please try again later."


def is_internal(error: GraphQLError) -> bool:
    """Whether `error` is a fault of ours (an unexpected exception), not an answer to the caller."""
    original = error.original_error
    return original is not None and not isinstance(original, ChronikError | GraphQLError)


def mask(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, ChronikError):
        return error
    # The request itself refused, before anything ran: safe to show, and typed like every
    # other error so a client can tell "fix your query" from the rest. A parse or validation
    # error has no original; a variable the GraphQL layer could not coerce (`null` for an
    # `ID!`, "tomorrow" for a DateTime) carries the coercion's own GraphQLError, and no path.
    refused_variable = isinstance(original, GraphQLError) and error.path is None
    if original is None or refused_variable:
        if not (error.extensions or {}).get("code"):
            kind: type[ChronikError] = InvalidQuery
            if isinstance(error, GraphQLSyntaxError):
                kind = UnparsableQuery
            elif isinstance(error, ValidationAbortedError):  # too much work to validate
                kind = QueryTooComplex
            error.extensions = {**(error.extensions or {}), "code": kind.code}
        return error
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL"},
    )


_REFUSED_VARIABLE = re.compile(r"^Variable '\$(\w+)'")


class _ArgumentOf(Visitor):
    """Finds the argument (or input field) whose value is `value`, or uses `$variable`."""

    def __init__(self, value: Node | None, variable: str | None) -> None:
        super().__init__()
        self.value, self.variable = value, variable
        self.found: str | None = None

    def _check(self, node: ArgumentNode | ObjectFieldNode) -> None:
        if self.found is not None:
            return
        inner = node.value
        if self.value is not None and inner.loc == self.value.loc:
            self.found = node.name.value
        elif isinstance(inner, VariableNode) and inner.name.value == self.variable:
            self.found = node.name.value

    def enter_argument(self, node: ArgumentNode, *_: object) -> None:
        self._check(node)

    def enter_object_field(self, node: ObjectFieldNode, *_: object) -> None:
        self._check(node)


def name_refused_field(error: GraphQLError, document: DocumentNode | None) -> None:
    """Give a refused value's error `extensions.field`: the argument (or input field) it was
    given for, as every other validation error names its field. A literal carries its own
    node; a variable its name, found where the document uses it (else the variable itself)."""
    extensions = error.extensions or {}
    if extensions.get("code") != InvalidQuery.code or "field" in extensions:
        return
    refused = _REFUSED_VARIABLE.match(error.message)
    variable = refused.group(1) if refused else None
    value = error.nodes[0] if error.nodes and variable is None else None
    if document is None or (variable is None and value is None):
        return
    finder = _ArgumentOf(value, variable)
    visit(document, finder)
    field = finder.found or (f"${variable}" if variable else None)
    if field is not None:
        error.extensions = {**extensions, "field": field}


class MaskInternalErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [mask(error) for error in result.errors]
            for error in result.errors:
                name_refused_field(error, self.execution_context.graphql_document)


def report_and_mask(error: GraphQLError) -> GraphQLError:
    """`mask`, logging an internal error first: for errors that never pass through
    `ChronikSchema.process_errors` (the lean websocket endpoint executes subscription events
    with graphql-core directly)."""
    if is_internal(error):
        log.error("internal error in %s", error.path, exc_info=error.original_error)
    return mask(error)


class ChronikSchema(Schema):
    # Errors never say "Did you mean …?" (set by `build_schema`; production).
    hide_suggestions: bool = False

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if is_internal(error):
                log.error("internal error in %s", error.path, exc_info=error.original_error)
            else:
                code = (error.extensions or {}).get("code") or getattr(
                    error.original_error, "code", None
                )
                log.debug("answered %s: %s", code, error.message)
