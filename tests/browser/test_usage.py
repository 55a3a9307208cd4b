"""Plan usage in a real browser: a real client's connection and stored objects counted against the plan."""

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, login, screenshot
from tests.browser.mqtt_client import connect_when_authorised
from tests.integration.control.harness import poll

pytestmark = pytest.mark.browser


def create(platform: Platform, key: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
    with platform.api() as api:
        created = api.post("/deployments", auth=key, json={"projectID": "default", **body})
        assert created.status_code == 201, created.text
        deployment_id = created.json()["deploymentID"]

        def running() -> dict[str, Any] | None:
            found: dict[str, Any] = api.get(f"/deployments/{deployment_id}", auth=key).json()
            return found if found["status"] == "running" else None

        return poll(running, within=60.0, what=f"{deployment_id} running")


@pytest.fixture(scope="module")
def key(platform: Platform) -> tuple[str, str]:
    return platform.serve.create_key()


@pytest.fixture(scope="module")
def dedicated(platform: Platform, key: tuple[str, str]) -> Iterator[dict[str, Any]]:
    body = create(platform, key, {"deploymentName": "usage", "connections": 5})
    yield body
    with platform.api() as api:
        api.delete(f"/deployments/{body['deploymentID']}", auth=key)


def test_dedicated_usage_shows_a_live_connection_against_the_plan(
    page: Page, platform: Platform, dedicated: dict[str, Any]
) -> None:
    deployment_id = dedicated["deploymentID"]
    login(page, platform)
    page.goto(f"{platform.console}/deployments/{deployment_id}/users")
    page.get_by_label("User name or client ID").fill("usage-user")
    page.locator("#user_password").fill("usage-password")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("tr[data-user='usage-user']")).to_be_visible()
    client = connect_when_authorised(
        "usage-client", "usage-user", "usage-password", dedicated["endpoints"]["mqtt"]
    )
    try:
        page.get_by_role("link", name="Plan usage").click()
        expect(page.locator("#usage-connections")).to_have_attribute("data-used", "1")
        expect(page.locator("#usage-connections")).to_contain_text("20%")  # 1 of the plan's 5
        expect(page.locator("#usage-users")).to_have_attribute("data-used", "1")
        expect(page.locator("#usage-users")).to_have_attribute("data-limit", "10")  # 5 connections x 2
        expect(page.locator("#usage-not-live")).to_have_count(0)
        screenshot(page, "plan-usage")
    finally:
        client.close()


def test_serverless_usage_in_chinese(page: Page, platform: Platform, key: tuple[str, str]) -> None:
    body = create(platform, key, {"deploymentName": "usage-sl", "deploymentType": "serverless"})
    try:
        login(page, platform)
        page.get_by_role("link", name="简体中文").click()
        page.goto(f"{platform.console}/deployments/{body['deploymentID']}/usage")
        expect(page.get_by_role("heading", name="规格用量")).to_be_visible()
        expect(page.locator("#usage-connectors")).to_have_attribute("data-limit", "2")
        expect(page.locator("#usage-connections")).to_have_attribute("data-used", "0")
        expect(page.locator("#usage-shadows")).to_have_count(0)
        screenshot(page, "plan-usage-serverless-zh")
    finally:
        with platform.api() as api:
            api.delete(f"/deployments/{body['deploymentID']}", auth=key)
