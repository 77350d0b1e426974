"""Masks internal errors: callers see typed errors only, operators see the traceback in logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from resolvers.errors import ChronikError, InvalidQuery, UnparsableQuery

log = logging.getLogger("chronik.graphql")

INTERNAL_MESSAGE = "Internal error. It has been logged; please try again later."


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
            kind = UnparsableQuery if isinstance(error, GraphQLSyntaxError) else InvalidQuery
            error.extensions = {**(error.extensions or {}), "code": kind.code}
        return error
    log.error("internal error in %s", error.path, exc_info=original)
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL"},
    )


class MaskInternalErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [mask(error) for error in result.errors]
