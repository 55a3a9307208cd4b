"""The online MQTT client in a real browser: MQTT.js over WebSocket exchanges messages with a paho client."""

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, login, screenshot
from tests.browser.mqtt_client import connect_when_authorised
from tests.integration.control.harness import poll

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def deployment(platform: Platform) -> Iterator[tuple[str, dict[str, str]]]:
    """A running Dedicated deployment: (id, endpoints), created and deleted through the Platform API."""
    key = platform.serve.create_key()
    with platform.api() as api:
        body = {"projectID": "default", "deploymentName": "online-client"}
        created = api.post("/deployments", auth=key, json=body)
        assert created.status_code == 201, created.text
        deployment_id = created.json()["deploymentID"]

        def running() -> dict[str, Any] | None:
            found: dict[str, Any] = api.get(f"/deployments/{deployment_id}", auth=key).json()
            return found if found["status"] == "running" else None

        endpoints = poll(running, within=60.0, what="the deployment to run")["endpoints"]
        yield deployment_id, endpoints
        api.delete(f"/deployments/{deployment_id}", auth=key)


def add_user(page: Page, platform: Platform, deployment_id: str, user: str, password: str) -> None:
    page.goto(f"{platform.console}/deployments/{deployment_id}/users")
    page.get_by_label("User name or client ID").fill(user)
    page.locator("#user_password").fill(password)
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(f"tr[data-user='{user}']")).to_be_visible()


def test_online_client_exchanges_messages_with_paho_both_ways(
    page: Page, platform: Platform, deployment: tuple[str, dict[str, str]]
) -> None:
    deployment_id, endpoints = deployment
    login(page, platform)
    add_user(page, platform, deployment_id, "web-user", "web-password")
    paho = connect_when_authorised("paho-peer", "web-user", "web-password", endpoints["mqtt"])
    try:
        paho.subscribe("from-browser/#", qos=1)

        response = page.goto(f"{platform.console}/deployments/{deployment_id}/mqtt-client")
        assert response is not None
        policy = response.headers["content-security-policy"]
        assert f"connect-src 'self' ws://{endpoints['ws']}" in policy
        expect(page.get_by_role("link", name="Online test")).to_have_attribute("aria-current", "page")
        expect(page.locator("#mc-url")).to_have_value(f"ws://{endpoints['ws']}/mqtt")
        expect(page.locator("#mc-username")).to_have_value("web-user")  # pre-filled: its first MQTT user
        expect(page.locator("#mc-publish")).to_be_disabled()

        page.locator("#mc-password").fill("web-password")
        page.get_by_role("button", name="Connect", exact=True).click()
        expect(page.locator("#mc-state")).to_have_text("connected")

        page.locator("#mc-sub-topic").fill("to-browser/#")
        page.get_by_role("button", name="Subscribe").click()
        expect(page.locator("#mc-subscriptions li[data-topic='to-browser/#']")).to_be_visible()
        paho.client.publish("to-browser/greeting", "hello from paho", qos=1)
        received = page.locator("#mc-messages tbody tr[data-direction='received']")
        expect(received.first).to_contain_text("to-browser/greeting")
        expect(received.first).to_contain_text("hello from paho")

        page.locator("#mc-pub-topic").fill("from-browser/reply")
        page.locator("#mc-pub-payload").fill("hello from MQTT.js")
        page.locator("#mc-pub-qos").select_option("1")
        page.get_by_role("button", name="Publish", exact=True).click()
        expect(page.locator("#mc-messages tbody tr[data-direction='sent']").first).to_contain_text(
            "from-browser/reply"
        )
        _topic, payload, qos, _retain = paho.wait_message("from-browser/reply")
        assert (payload, qos) == (b"hello from MQTT.js", 1)
        screenshot(page, "mqtt-client")

        page.get_by_role("button", name="Disconnect").click()
        expect(page.locator("#mc-state")).to_have_text("disconnected")
    finally:
        paho.close()


def test_online_client_shows_a_refused_connection(
    page: Page, platform: Platform, deployment: tuple[str, dict[str, str]]
) -> None:
    deployment_id, _endpoints = deployment
    login(page, platform)
    page.goto(f"{platform.console}/deployments/{deployment_id}/mqtt-client")
    page.locator("#mc-username").fill("nobody")
    page.locator("#mc-password").fill("wrong")
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(page.locator("#mc-error")).to_be_visible()
    expect(page.locator("#mc-state")).to_have_text("disconnected")
