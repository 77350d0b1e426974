"""The browser side of linking: `/oauth/{provider}/start` and `/oauth/{provider}/callback`."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sync.linking import BROWSER_COOKIE, LinkError
from sync.provider import ProviderName


def _page(title: str, message: str, status: int) -> HTMLResponse:
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} · Chronik</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto}}</style>
</head><body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>
<p><a href="/">Back to Chronik</a></p></body></html>"""
    return HTMLResponse(body, status_code=status)


def _provider(request: Request) -> ProviderName | None:
    try:
        provider = ProviderName(request.path_params["provider"])
    except ValueError:
        return None
    return provider if provider in request.app.state.services.apps else None


async def start(request: Request) -> Response:
    provider = _provider(request)
    state = request.query_params.get("state")
    if provider is None or not state:
        return _page("Calendar not linked", "This link is not valid.", 400)
    try:
        binding = await request.app.state.services.linker.open_in_browser(provider, state)
    except LinkError as exc:
        return _page("Calendar not linked", str(exc), 400)
    response = RedirectResponse(binding.provider_url, status_code=302)
    response.set_cookie(
        BROWSER_COOKIE,
        binding.cookie_value,
        max_age=600,
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
    if provider is None:
        return _page("Calendar not linked", "Unknown calendar provider.", 404)
    if "error" in params:
        message = (
            "You did not allow Chronik to use your calendar; nothing was linked."
            if params["error"] == "access_denied"
            else f"{provider.label} reported an error: {params['error']}."
        )
        return _page("Calendar not linked", message, 400)
    if not params.get("state") or not params.get("code"):
        return _page("Calendar not linked", "The provider's answer is incomplete.", 400)
    try:
        connection = await services.linker.complete(
            provider,
            state=params["state"],
            code=params["code"],
            browser_cookie=request.cookies.get(BROWSER_COOKIE),
        )
    except LinkError as exc:
        return _page("Calendar not linked", str(exc), 400)
    public_root = str(services.settings.public_url).rstrip("/") + "/"
    target = services.settings.link_success_url or public_root
    separator = "&" if "?" in target else "?"
    response = RedirectResponse(
        f"{target}{separator}linked={provider.value}&calendar={connection.calendar_email}",
        status_code=302,
    )
    response.delete_cookie(BROWSER_COOKIE, path="/oauth/")
    return response


routes = [
    Route("/oauth/{provider}/start", start, methods=["GET"]),
    Route("/oauth/{provider}/callback", callback, methods=["GET"]),
]
