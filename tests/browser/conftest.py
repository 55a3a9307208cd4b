"""Browser fixtures: one real `mqttcloud serve` (HTTPS, temp data dir) and Debian's chromium via Playwright.

The platform, the browser and a running deployment are shared by a module (starting them costs seconds)
and closed at its end: Playwright's sync API runs its own event loop, which must be gone before
pytest-asyncio tests run. Each test signs in afresh on a clean cookie jar. Screenshots go to
`artifacts/screenshots/` (gitignored).
"""

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright
from tests.integration.control.harness import ROOT, ServeProcess, free_port_range, poll, serve_env

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


@contextmanager
def started_platform(data_dir: Path, extra: Mapping[str, str] | None = None) -> Iterator[Platform]:
    """`serve` on `data_dir` with `extra` environment (a module's own platform), stopped at the end."""
    serve = ServeProcess(data_dir, serve_env(None, free_port_range(), extra))
    serve.start()
    try:
        yield Platform(serve)
    finally:
        serve.stop()
        print(f"--- serve log ---\n{serve.stderr()}")  # shown when a test failed


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with started_platform(tmp_path_factory.mktemp("browser") / "data") as started:
        yield started


@pytest.fixture(scope="module")
def key(platform: Platform) -> tuple[str, str]:
    """A Platform API key of the module's platform."""
    return platform.serve.create_key()


def wait_status(
    platform: Platform, key: tuple[str, str], deployment_id: str, wanted: str, *, within: float = 30.0
) -> dict[str, Any]:
    """The deployment's Platform API body once its status is `wanted` (an unwanted `failed` fails at once)."""
    with platform.api() as api:

        def reached() -> dict[str, Any] | None:
            body: dict[str, Any] = api.get(f"/deployments/{deployment_id}", auth=key).json()
            assert body["status"] != "failed" or wanted == "failed", body
            return body if body["status"] == wanted else None

        result: dict[str, Any] = poll(reached, within=within, what=f"{deployment_id} to be {wanted}")
        return result


@pytest.fixture(scope="module")
def deployment(
    request: pytest.FixtureRequest, platform: Platform, key: tuple[str, str]
) -> Iterator[tuple[str, str]]:
    """A running Dedicated deployment named after the module (`test_live.py`: `live`): (id, mqtt address),
    created and deleted through the Platform API."""
    name = request.path.stem.removeprefix("test_")
    with platform.api() as api:
        created = api.post("/deployments", auth=key, json={"projectID": "default", "deploymentName": name})
        assert created.status_code == 201, created.text
        deployment_id: str = created.json()["deploymentID"]
    body = wait_status(platform, key, deployment_id, "running")
    yield deployment_id, body["endpoints"]["mqtt"]
    with platform.api() as api:
        api.delete(f"/deployments/{deployment_id}", auth=key)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as handle:
        yield handle


@contextmanager
def chromium(
    playwright: Playwright, *, locale: str, width: int = 1280, height: int = 800
) -> Iterator[BrowserContext]:
    """Debian's chromium on a fresh profile, with `locale` (its formats and Accept-Language)."""
    with tempfile.TemporaryDirectory(prefix="mqttcloud-chromium-") as profile:
        browser_context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            ignore_https_errors=True,  # the platform's own CA, not in chromium's store
            viewport={"width": width, "height": height},
            locale=locale,
        )
        browser_context.set_default_timeout(TIMEOUT_MS)
        try:
            yield browser_context
        finally:
            browser_context.close()


@pytest.fixture(scope="module")
def context(playwright: Playwright) -> Iterator[BrowserContext]:
    with chromium(playwright, locale="en-US") as browser_context:
        yield browser_context


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


def section(page: Page, platform: Platform, deployment_id: str, name: str) -> None:
    """Open a section of a deployment's page (`users`, `trace`, ...)."""
    page.goto(f"{platform.console}/deployments/{deployment_id}/{name}")


def add_user(page: Page, platform: Platform, deployment_id: str, user: str, password: str) -> None:
    """Add an MQTT user on the deployment's Authentication section (signed in already)."""
    section(page, platform, deployment_id, "users")
    page.get_by_label("User name or client ID").fill(user)
    page.locator("#user_password").fill(password)
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(f"tr[data-user='{user}']")).to_be_visible()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
