"""Cross-origin frontends: which other origins may call `/graphql` (`CHRONIK_CORS_ORIGINS`).

HTTP gets CORS from starlette's `CORSMiddleware`, on `/graphql` only (the link pages, the
webhooks and `/metrics` stay same-origin). Credentials are never allowed: Chronik's callers
sign in with an `Authorization` header, never with a cookie, so a listed origin (or `*`) lets
a page send a token it holds, and lends it nothing the browser would add by itself.

Browsers apply no CORS to a websocket handshake, so the websocket endpoints check its `Origin`
against the same list (strawberry's rule: no `Origin` is not a browser; the same host is
always allowed).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.http.websocket_origin import is_same_origin, normalize_origin

GRAPHQL_PATH = "/graphql"
# What the JavaScript clients send: the token, a JSON body, and the answers they accept.
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Accept")
# Browsers may reuse a preflight's answer this long (seconds).
PREFLIGHT_MAX_AGE = 600


def socket_origin_allowed(headers: Mapping[str, str], origins: frozenset[str]) -> bool:
    """Whether a websocket handshake with these (lower-cased) headers may be accepted."""
    origin = headers.get("origin")
    if origin is None or headers.get("sec-fetch-site") == "same-origin":
        return True
    if is_same_origin(origin, headers.get("host")) or "*" in origins:
        return True
    return normalize_origin(origin) in origins


class GraphQLCors:
    """ASGI middleware: CORS on `/graphql` for `origins`, everything else passed through."""

    def __init__(self, app: ASGIApp, origins: frozenset[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=sorted(origins),
            allow_methods=("GET", "POST"),
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=False,
            max_age=PREFLIGHT_MAX_AGE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == GRAPHQL_PATH:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
