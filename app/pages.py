"""The live timeline page: `/` serves it, `/static/...` its script and stylesheet.

Plain files from `app/static` (no build step), shipped in the package as package data.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


async def index(request: Request) -> FileResponse:
    """The page itself; `no-cache` so a deploy's new script is picked up on the next load."""
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


routes = [
    Route("/", index),
    Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
]
