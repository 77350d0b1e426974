"""The typed errors a caller sees, each with its code in `extensions.code`.

Anything else a resolver raises is an internal error: it is logged and masked.
"""

from __future__ import annotations

from graphql import GraphQLError


class ChronikError(GraphQLError):
    code = "INTERNAL"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message, extensions={"code": self.code, **details})


class NotFound(ChronikError):
    """The object does not exist, or belongs to another account (which is not revealed)."""

    code = "NOT_FOUND"


class ValidationFailed(ChronikError):
    """Input is malformed; `field` names the offending input field."""

    code = "VALIDATION"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, **({"field": field} if field else {}))


class Conflict(ChronikError):
    code = "CONFLICT"


class Unauthenticated(ChronikError):
    code = "UNAUTHENTICATED"


class Forbidden(ChronikError):
    code = "FORBIDDEN"


class PreconditionFailed(ChronikError):
    code = "PRECONDITION_FAILED"


class ProviderFailed(ChronikError):
    """The calendar provider could not do it (after retries); nothing was changed in Chronik."""

    code = "PROVIDER_UNAVAILABLE"


class QueryTooComplex(ChronikError):
    """The query is deeper, longer, more aliased or may return more nodes than the server's
    limits allow."""

    code = "QUERY_TOO_COMPLEX"


class InvalidQuery(ChronikError):
    """The request's GraphQL document does not fit the schema (an unknown field, a missing
    argument, a value of the wrong type); it was refused before anything ran."""

    code = "GRAPHQL_VALIDATION_FAILED"


class SubscriptionNeedsWebsocket(ChronikError):
    """A subscription sent over HTTP: it is served on the websocket `url` only."""

    code = "SUBSCRIPTION_NEEDS_WEBSOCKET"

    def __init__(self, url: str) -> None:
        super().__init__(
            f"Subscriptions are served over the websocket {url} (graphql-transport-ws, the "
            "protocol of the graphql-ws client); send the Authorization value in the "
            "connection_init payload. Queries and mutations work on both.",
            websocket=url,
            protocol="graphql-transport-ws",
        )


class UnparsableQuery(ChronikError):
    """The request's GraphQL document is not GraphQL; refused before anything ran."""

    code = "GRAPHQL_PARSE_FAILED"


class TooManyOperations(ChronikError):
    """A websocket already runs as many operations as one socket may (`limit`); the operation
    was refused, the others go on."""

    code = "TOO_MANY_OPERATIONS"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This socket already runs {limit} operations, as many as one socket may: "
            "complete one first",
            limit=limit,
        )


class RateLimited(ChronikError):
    """The account has spent its budget of query cost for now; `retryAfter` says how many
    seconds until this query would fit."""

    code = "RATE_LIMITED"
