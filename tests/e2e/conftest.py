"""A real headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright.

Nothing is installed at run time: without /usr/bin/chromium or the `playwright` package the
tests skip, saying which is missing.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

CHROMIUM = Path("/usr/bin/chromium")

# Quiet and self-contained: no sync, no updates, no first-run dialogs, nothing fetched in the
# background that could slow a test down or reach for the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """A headless Chromium with a fresh profile of its own (nothing carried between tests)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    async_api = pytest.importorskip(
        "playwright.async_api",
        reason="the playwright package is not installed (pip install playwright; no "
        "`playwright install` needed: these tests drive Debian's chromium)",
    )
    async with async_api.async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            user_data_dir=tmp_path / "chromium-profile",
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 860},
            locale="en-GB",
            timezone_id="Europe/Berlin",
        )
        try:
            yield context
        finally:
            await context.close()
