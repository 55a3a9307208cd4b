"""ACL order in a real browser, applied by the real broker: a user's deny on `order/#` written before an
allow on `order/x` refuses a paho SUBSCRIBE to `order/x`; once the allow is moved above the deny in the
console, the same SUBSCRIBE is granted (first match wins)."""

import threading
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, add_user, login
from tests.browser.mqtt_client import MqttClient, connect_when_authorised
from tests.browser.test_integration import shots

pytestmark = pytest.mark.browser


class Suback:
    """The reason codes of each SUBACK a paho client receives."""

    def __init__(self, client: MqttClient) -> None:
        self.codes: list[int] = []
        self.event = threading.Event()
        client.client.on_subscribe = self._on_subscribe

    def _on_subscribe(self, _c: Any, _u: Any, _mid: Any, reasons: Any, _props: Any) -> None:
        self.codes = [int(reason.value) for reason in reasons]
        self.event.set()

    def subscribe(self, client: MqttClient, topic: str) -> int:
        self.event.clear()
        client.client.subscribe(topic, 1)
        assert self.event.wait(10), "no SUBACK"
        return self.codes[0]


def add_rule(page: Page, user: str, topic: str, action: str, permission: str) -> None:
    page.get_by_label("Applies to").select_option("username")
    page.get_by_label("User name or client ID").fill(user)
    page.get_by_label("Topic filter").fill(topic)
    page.get_by_label("Action").select_option(action)
    page.get_by_label("Permission").select_option(permission)
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("table[data-acl='username']")).to_contain_text(topic)


def test_allow_moved_above_a_deny_takes_effect_for_a_subscribe(
    page: Page, platform: Platform, deployment: tuple[str, str], tmp_path: Path
) -> None:
    deployment_id, address = deployment
    login(page, platform)
    add_user(page, platform, deployment_id, "order-user", "order-password")
    page.goto(f"{platform.console}/deployments/{deployment_id}/acl")
    add_rule(page, "order-user", "order/#", "subscribe", "deny")
    add_rule(page, "order-user", "order/x", "subscribe", "allow")
    rows = page.locator("table[data-acl='username'] tbody tr")
    expect(rows.nth(0)).to_contain_text("order/#")

    client = connect_when_authorised("order-1", "order-user", "order-password", address)
    try:
        suback = Suback(client)
        assert suback.subscribe(client, "order/x") == 0x87  # the deny matches first
        allow = page.locator("tr[data-rule='order-user allow subscribe order/x']")
        allow.get_by_role("button", name="Move up: order/x").click()
        expect(rows.nth(0)).to_contain_text("order/x")
        expect(allow.get_by_role("button", name="Move up: order/x")).to_have_count(0)  # first now
        shots(page, platform, tmp_path, "acl-order")
        assert suback.subscribe(client, "order/x") == 1  # granted QoS 1: the allow matches first
        assert suback.subscribe(client, "order/y") == 0x87  # the deny still covers the rest
    finally:
        client.close()
