"""Security headers on every HTTP response, and a Content-Security-Policy on every HTML page.

Each page sets the policy that fits it (`LIVE_PAGE_POLICY` for `/`, `GRAPHIQL_POLICY` for the
explorer); an HTML response that sets none — the OAuth result pages, any message page — gets
`MESSAGE_PAGE_POLICY`: no scripts, nothing loaded, inline styles only. Every response also
gets `nosniff` (a browser never runs a JSON answer or an upload as a script or a page) and is
refused as a frame (no clickjacking of the live page or the consent flow).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def policy(**directives: str) -> str:
    """A Content-Security-Policy from directives (`default_src="'none'"` → `default-src
    'none'`); framing is always refused and `<base>` always ignored."""
    directives = {**directives, "base_uri": "'none'", "frame_ancestors": "'none'"}
    return "; ".join(f"{name.replace('_', '-')} {value}" for name, value in directives.items())


# The live timeline page: its own script and stylesheet, GraphQL over fetch and a websocket to
# its own origin ('self' covers ws:/wss: of the same host in CSP Level 3 browsers).
LIVE_PAGE_POLICY = policy(
    default_src="'none'",
    script_src="'self'",
    style_src="'self'",
    connect_src="'self'",
    img_src="'self' data:",
    form_action="'self'",
)

# GraphiQL (development only): its bundle, page script and stylesheets from /static, its
# queries to /graphql and its subscriptions over a websocket to /graphql ('self' covers the
# same host's ws:, checked in Chromium: tests/e2e/test_graphiql.py). React and CodeMirror set
# styles through the DOM, which a policy does not restrict, so no 'unsafe-inline' is needed
# (checked in Chromium: tests/e2e/).
GRAPHIQL_POLICY = policy(
    default_src="'none'",
    script_src="'self'",
    style_src="'self'",
    connect_src="'self'",
    img_src="'self' data:",
    font_src="'self' data:",
    form_action="'none'",
)

# The link start page (app/oauth_routes.py): its inline <style>, its script from /static, which
# posts the user's proof to its own origin and then sends the browser on to the provider.
LINK_START_POLICY = policy(
    default_src="'none'",
    script_src="'self'",
    style_src="'unsafe-inline'",
    connect_src="'self'",
    form_action="'self'",
)

# A page made on the server with a message and a link (the OAuth result pages): its one
# inline <style>, nothing else.
MESSAGE_PAGE_POLICY = policy(
    default_src="'none'",
    style_src="'unsafe-inline'",
    form_action="'none'",
)

ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


class SecurityHeaders:
    """ASGI middleware adding `ALWAYS` to every HTTP response, and `MESSAGE_PAGE_POLICY` to an
    HTML response that brought no Content-Security-Policy of its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS:
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", MESSAGE_PAGE_POLICY)
            await send(message)

        await self.app(scope, receive, send_secured)
