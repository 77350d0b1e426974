"""Masks internal errors: callers see typed errors only, operators see the traceback in logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from resolvers.errors import ChronikError

log = logging.getLogger("chronik.graphql")

INTERNAL_MESSAGE = "Internal error. It has been logged; please try again later."


def mask(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    # No original error: a parse or validation error of the request itself, safe to show.
    if original is None or isinstance(original, ChronikError):
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
