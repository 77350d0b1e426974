"""The live timeline page: `/` serves it, `/static/...` its script and stylesheet.

Plain files from `app/static` (no build step), shipped in the package as package data.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app.security_headers import LIVE_PAGE_POLICY

STATIC_DIR = Path(__file__).parent / "static"


async def index(request: Request) -> FileResponse:
    """The page itself; `no-cache` so a deploy's new script is picked up on the next load."""
    return FileResponse(
        STATIC_DIR / "index.html",
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": LIVE_PAGE_POLICY},
    )


async def graphiql_script(request: Request) -> FileResponse:
    """GraphiQL's 3.4 MB bundle, stored gzip-compressed and sent as is (every browser takes
    gzip): the explorer is served by Chronik itself, no CDN needed."""
    return FileResponse(
        STATIC_DIR / "graphiql" / "graphiql.min.js.gz",
        media_type="application/javascript",
        headers={"Content-Encoding": "gzip", "Cache-Control": "public, max-age=86400"},
    )


routes = [
    Route("/", index),
    Route("/static/graphiql/graphiql.min.js", graphiql_script),
    Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
]
