"""The browser side of linking: `/oauth/{provider}/start` and `/oauth/{provider}/callback`.

`GET /start` is a page asking the browser to prove it belongs to the Chronik user who started
the link (their API token: the one the live page keeps, or pasted); its script POSTs the proof
as JSON from Chronik's own origin, and only then is the attempt bound to this browser and the
browser sent on to the provider. A link URL sent to someone else therefore links nothing.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.security_headers import LINK_START_POLICY
from db import users
from sync.linking import BROWSER_COOKIE, LINK_TTL, LinkError, LinkProblem
from sync.providers import registry
from sync.providers.spec import ProviderSpec

_STYLE = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}"


def _page(title: str, message: str, status: int) -> HTMLResponse:
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} · Chronik</title><style>{_STYLE}</style>
</head><body><h1>{html.escape(title)}</h1><p id="message">{html.escape(message)}</p>
<p><a href="/">Back to Chronik</a></p></body></html>"""
    return HTMLResponse(body, status_code=status)


def _start_page(provider: ProviderSpec, state: str) -> HTMLResponse:
    label = html.escape(provider.label)
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Link your {label} · Chronik</title><style>{_STYLE}
.error{{color:#b00020}} label{{display:block;margin:.5rem 0 .25rem}}</style>
<script type="module" src="/static/link.js"></script>
</head><body>
<h1>Link your {label}</h1>
<p>Chronik links a calendar only for the Chronik user who started the link, in a browser where
that user is signed in.</p>
<p id="link-status" role="status"></p>
<form id="link-start">
  <input type="hidden" name="state" value="{html.escape(state)}">
  <label for="token">Your Chronik API token</label>
  <input id="token" name="token" type="password" autocomplete="off" required>
  <button type="submit">Continue to {label}</button>
</form>
<p id="link-error" class="error" role="alert" hidden></p>
<noscript><p class="error">This page needs JavaScript.</p></noscript>
<p><small>Did someone send you this link? Do not continue: start linking your own calendar
from Chronik instead.</small></p>
</body></html>"""
    # The URL holds the state: neither cached nor sent on as a Referer.
    return HTMLResponse(
        body,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": LINK_START_POLICY,
        },
    )


def _provider(request: Request) -> ProviderSpec | None:
    """The path's provider: registered, configured here, and linking through OAuth."""
    name = request.path_params["provider"]
    app = request.app.state.services.apps.get(name)
    return registry.spec(name) if app is not None and app.oauth is not None else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def start_page(request: Request) -> Response:
    """The page the `authorizationUrl` opens: nothing is bound or used by looking at it."""
    provider = _provider(request)
    state = request.query_params.get("state")
    if provider is None or not state:
        return _page("Calendar not linked", "This link is not valid.", 400)
    try:
        await request.app.state.services.linker.check_open(provider.name, state)
    except LinkError as exc:
        return _page("Calendar not linked", str(exc), 400)
    return _start_page(provider, state)


def _refused(message: str, status: int, *, final: bool) -> JSONResponse:
    return JSONResponse({"error": message, "final": final}, status_code=status)


async def prove_and_continue(request: Request) -> Response:
    """`POST {"state", "token"}` from the start page: the starting user's browser gets the
    binding cookie and the provider's URL; anyone else gets a reason and nothing changes."""
    services = request.app.state.services
    origin = request.headers.get("origin")
    # Browsers always send Origin on a POST; another site's page must never bind a browser.
    if origin is not None and origin.lower() != _origin(str(services.settings.public_url)):
        return _refused("Continue the link from Chronik's own page.", 403, final=True)
    provider = _provider(request)
    try:
        body: Any = await request.json()
    except ValueError:
        body = None
    if provider is None or not isinstance(body, dict):
        return _refused("This link is not valid.", 400, final=True)
    state, token = body.get("state"), body.get("token")
    if not isinstance(state, str) or not state:
        return _refused("This link is not valid.", 400, final=True)
    user = await users.user_for_token(services.pool, token) if isinstance(token, str) else None
    if user is None:
        return _refused("That API token is not valid.", 401, final=False)
    try:
        binding = await services.linker.open_in_browser(provider.name, state, user_id=user.id)
    except LinkError as exc:
        return _refused(str(exc), 403, final=False)
    response = JSONResponse({"providerUrl": binding.provider_url})
    response.set_cookie(
        BROWSER_COOKIE,
        binding.cookie_value,
        max_age=int(LINK_TTL.total_seconds()),
        path="/oauth/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )
    return response


async def callback(request: Request) -> Response:
    services = request.app.state.services
    provider = _provider(request)
    params = request.query_params
    cookie = request.cookies.get(BROWSER_COOKIE)
    if provider is None:
        return _page("Calendar not linked", "Unknown calendar provider.", 404)
    if "error" in params:
        message = (
            "You did not allow Chronik to use your calendar; nothing was linked."
            if params["error"] == "access_denied"
            else f"{provider.label} reported an error: {params['error']}."
        )
        if params.get("state"):
            await services.linker.decline(
                provider.name, state=params["state"], browser_cookie=cookie, message=message
            )
        return _page("Calendar not linked", message, 400)
    if not params.get("state") or not params.get("code"):
        return _page("Calendar not linked", "The provider's answer is incomplete.", 400)
    try:
        connection = await services.linker.complete(
            provider.name, state=params["state"], code=params["code"], browser_cookie=cookie
        )
    except LinkError as exc:
        status = 409 if exc.problem is LinkProblem.CONFLICT else 400
        return _page("Calendar not linked", str(exc), status)
    public_root = str(services.settings.public_url).rstrip("/") + "/"
    target = services.settings.link_success_url or public_root
    separator = "&" if "?" in target else "?"
    query = urlencode({"linked": provider.name, "calendar": connection.calendar_email})
    response = RedirectResponse(f"{target}{separator}{query}", status_code=302)
    response.delete_cookie(BROWSER_COOKIE, path="/oauth/")
    return response


routes = [
    Route("/oauth/{provider}/start", start_page, methods=["GET"]),
    Route("/oauth/{provider}/start", prove_and_continue, methods=["POST"]),
    Route("/oauth/{provider}/callback", callback, methods=["GET"]),
]
