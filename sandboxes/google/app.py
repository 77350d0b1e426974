"""The Google sandbox aiohttp application factory (Calendar API v3 + Google OAuth 2.0)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from sandboxes.google import api, batch, control, errors, oauth_routes
from sandboxes.google.api import GOOGLE_SANDBOX
from sandboxes.google.sandbox import GoogleSandbox

__all__ = ["GOOGLE_SANDBOX", "GoogleSandbox", "create_google_sandbox"]


def create_google_sandbox(
    *, seed: int = 0, access_token_ttl: int = 3600, clock: Callable[[], float] | None = None
) -> web.Application:
    """A fresh in-memory Google sandbox; its state is ``app[GOOGLE_SANDBOX]``.

    Middlewares, outermost first: fault injection (never on ``/_sandbox/``), Google error
    rendering, control-API error rendering, bearer-token check on ``/calendar/v3``.
    """
    sandbox = GoogleSandbox(seed=seed, access_token_ttl=access_token_ttl, clock=clock)
    app = web.Application(
        middlewares=[
            sandbox.faults.middleware(errors.render_error),
            api.google_errors,
            control.control_errors,
            api.require_bearer,
            api.partial_response,
        ],
        client_max_size=64 * 1024 * 1024,
    )
    app[GOOGLE_SANDBOX] = sandbox
    api.add_routes(app)
    batch.add_routes(app)
    oauth_routes.add_routes(app)
    control.add_routes(app)

    async def close_push(_: web.Application) -> None:
        await sandbox.push.close()

    app.on_cleanup.append(close_push)
    return app
