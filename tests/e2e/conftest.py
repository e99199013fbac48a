"""Playwright (sync API) with Debian's Chromium: one browser per session, a context per test.

No `playwright install` and no downloads: the browser is /usr/bin/chromium. When it is missing
the browser tests skip, unless E2E_REQUIRED=1 (CI), where they fail.
"""

import asyncio
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
MISSING = f"Chromium not found at {CHROMIUM}: apt-get install -y chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 5_000


def _unavailable(reason: str):
    if os.environ.get("E2E_REQUIRED") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@contextmanager
def _playwright_turn(loop):
    """Let Playwright drive this thread for a while, then hand the thread back to Django.

    Playwright's sync API keeps its event loop marked as running in the test thread between
    calls. While a loop runs, Django keeps database connections per async context instead of
    per thread, so the ORM silently gets a second connection: pytest-django's
    serialized_rollback then restores nothing (its data sits on the first connection) and,
    on PostgreSQL, the extra connection stays open. So the loop is marked running only while
    a browser test runs, and the connections opened meanwhile are closed after it.
    """
    asyncio._set_running_loop(loop)
    try:
        yield
    finally:
        connections.close_all()
        asyncio._set_running_loop(None)


@pytest.fixture(scope="session")
def _playwright():
    """(browser, loop): Chromium for the whole session, and Playwright's event loop."""
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(MISSING)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        loop = asyncio.get_running_loop()  # Playwright's, marked running by the call above
        asyncio._set_running_loop(None)
        yield browser, loop
        asyncio._set_running_loop(loop)
        browser.close()


@pytest.fixture(scope="session")
def browser(_playwright):
    """The session's Chromium. Use it through `page` / `new_page`, which lend it the thread."""
    return _playwright[0]


@pytest.fixture
def new_page(_playwright, live_server):
    """new_page(**context_options): a page in a fresh context (cookies, storage) per call."""
    browser, loop = _playwright
    contexts = []

    def make(**context_options):
        context = browser.new_context(base_url=live_server.url, **context_options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    with _playwright_turn(loop):
        yield make
        for context in contexts:
            context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def screenshot(request):
    """screenshot(page) saves it as test-results/e2e/<test name>.png and returns the path."""

    def take(page) -> Path:
        folder = request.config.rootpath / "test-results" / "e2e"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{request.node.name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
