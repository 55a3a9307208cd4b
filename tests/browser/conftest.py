"""Browser fixtures: one real `mqttcloud serve` (HTTPS, temp data dir) and Debian's chromium via Playwright.

The platform and the browser are shared by a module (starting them costs seconds) and closed at its end:
Playwright's sync API runs its own event loop, which must be gone before pytest-asyncio tests run. Each
test signs in afresh on a clean cookie jar. Screenshots go to `artifacts/screenshots/` (gitignored).
"""

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright
from tests.integration.control.harness import ROOT, ServeProcess, free_port_range, serve_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT_PASSWORD = "integration-root-password"  # what serve_env puts in MQTTCLOUD_ROOT_PASSWORD
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
TIMEOUT_MS = 20_000  # actions and assertions; generous because the 2-core machine is often busy

# `expect(...)` polls with its own default (5 s), shorter than the live pages' refresh under load.
expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class Platform:
    serve: ServeProcess

    @property
    def console(self) -> str:
        return f"{self.serve.base_url}/console"

    def api(self) -> httpx.Client:
        return self.serve.client()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    serve = ServeProcess(tmp_path_factory.mktemp("browser") / "data", serve_env(None, free_port_range()))
    serve.start()
    try:
        yield Platform(serve)
    finally:
        serve.stop()
        print(f"--- serve log ---\n{serve.stderr()}")  # shown when a test failed


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as handle:
        yield handle


@pytest.fixture(scope="module")
def context(playwright: Playwright) -> Iterator[BrowserContext]:
    with tempfile.TemporaryDirectory(prefix="mqttcloud-chromium-") as profile:
        browser_context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            ignore_https_errors=True,  # the platform's own CA, not in chromium's store
            viewport={"width": 1280, "height": 800},
            locale="en-US",
        )
        browser_context.set_default_timeout(TIMEOUT_MS)
        try:
            yield browser_context
        finally:
            browser_context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A fresh tab on a clean cookie jar; the test fails if a script error or CSP violation happened."""
    context.clear_cookies()
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "Failed to load resource" not in message.text
            else None
        ),
    )
    try:
        yield tab
    finally:
        tab.close()
    assert problems == []


def login(page: Page, platform: Platform, username: str = "root", password: str = ROOT_PASSWORD) -> None:
    page.goto(f"{platform.console}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{platform.console}/deployments")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
