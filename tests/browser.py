"""Headless Debian Chromium for browser tests (Playwright drives it; no browser download)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import BrowserContext, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium(width: int = 1600, height: int = 1000, user_agent: str | None = None) -> Iterator[BrowserContext]:
    """A fresh browser with an empty profile (a new --user-data-dir), closed afterwards.
    `user_agent` replaces headless Chromium's own, which says "HeadlessChrome" (a bot)."""
    profile = tempfile.mkdtemp(prefix="footfall-chromium-")
    try:
        with sync_playwright() as p:
            # The flag too: beacons sent while a page unloads carry the browser-wide agent.
            args = FLAGS + ([f"--user-agent={user_agent}"] if user_agent else [])
            context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM,
                                                           args=args, headless=True,
                                                           viewport={"width": width, "height": height},
                                                           user_agent=user_agent)
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
