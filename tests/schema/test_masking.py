"""Internal errors never reach the caller: no message, no SQL, no traceback."""

from __future__ import annotations

from graphql import GraphQLError

from resolvers.errors import Conflict
from schema.masking import INTERNAL_MESSAGE, mask


def test_unexpected_exception_is_masked_and_typed() -> None:
    leaked = GraphQLError(
        "relation secret_table does not exist",
        path=["contacts"],
        original_error=RuntimeError('SELECT * FROM secret_table WHERE token = "abc"'),
    )
    masked = mask(leaked)
    assert masked.message == INTERNAL_MESSAGE
    assert masked.extensions == {"code": "INTERNAL"}
    assert "secret" not in str(masked.formatted)


def test_typed_errors_pass_unchanged() -> None:
    typed = Conflict("Another contact of this account already has this email address.")
    located = GraphQLError(typed.message, path=["createContact"], original_error=typed)
    assert mask(located) is located
    assert located.extensions == {"code": "CONFLICT"}
