"""Debian's Chromium for the browser tests: one browser per test module.

Playwright cannot download its own browser here, so it drives /usr/bin/chromium (the
Debian package). Without it a test is skipped, unless MARQUE_REQUIRE_BROWSER=1 (CI), which
turns the missing browser into a failure. A plugin of the suite (tests/conftest.py), so
every test may ask for ``browser``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("MARQUE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MARQUE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


__all__ = ["CHROMIUM", "DESKTOP", "PHONE", "SCREENSHOTS", "browser"]
