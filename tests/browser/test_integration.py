"""The Data Integration page in a real browser against a real platform: a rule written in the SQL editor,
tried on a sample, saved, then run by the broker on real paho clients' messages (reshaped republish,
live counters); a bad SQL keeps the input; an HTTP connector to a closed port shows why it is down."""

import json
import re
import socket
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, add_user, login, screenshot
from tests.browser.mqtt_client import MqttClient, connect_when_authorised

pytestmark = pytest.mark.browser

SQL = 'SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30'


def integration(page: Page, platform: Platform, deployment_id: str) -> None:
    page.goto(f"{platform.console}/deployments/{deployment_id}/integration")


def shots(page: Page, platform: Platform, tmp_path: Path, name: str) -> None:
    """The page at 1366 and 760 px, in English and 中文 (in the test's tmp dir and the artifacts)."""
    url = page.url
    for lang in ("en", "zh-CN"):
        page.goto(f"{platform.console}/lang?to={lang}&next={url.split('://', 1)[1].split('/', 1)[1]}")
        page.goto(url)
        for width in (1366, 760):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(tmp_path / f"{name}-{lang}-{width}.png"), full_page=True)
            screenshot(page, f"{name}-{lang}-{width}")
    page.goto(f"{platform.console}/lang?to=en&next=/console/deployments")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(url)


def test_rule_from_the_editor_republishes_reshaped_messages_and_counts_them(
    page: Page, platform: Platform, deployment: tuple[str, str], tmp_path: Path
) -> None:
    deployment_id, address = deployment
    login(page, platform)
    add_user(page, platform, deployment_id, "rules-user", "rules-password")
    integration(page, platform, deployment_id)
    expect(page.locator("#no-rules")).to_be_visible()
    page.get_by_role("link", name="Create rule").click()

    page.get_by_label("Rule ID (optional)").fill("hot_sensors")
    page.get_by_label("SQL", exact=True).fill(SQL)
    page.get_by_label("Topic", exact=True).fill("sensors/1")
    page.get_by_label("Payload", exact=True).fill('{"temp": 35}')
    page.get_by_role("button", name="Run test").click()
    output = json.loads(page.locator("#test-output").inner_text())
    assert output == {"t": 35, "clientid": "c_emqx"}
    expect(page.get_by_label("SQL", exact=True)).to_have_value(SQL)  # the editor keeps its input

    page.get_by_label("Payload", exact=True).fill('{"temp": 20}')
    page.get_by_role("button", name="Run test").click()
    expect(page.locator("#test-result")).to_contain_text("SQL Not Match")

    page.locator("#republish_topic_0").fill("alerts/${clientid}")
    page.locator("#republish_payload_0").fill('{"hot": ${t}}')
    page.get_by_role("button", name="Create rule").click()
    page.wait_for_url(re.compile(r".*/integration(#rule-hot_sensors)?$"))
    row = page.locator("tr[data-rule='hot_sensors']")
    expect(row).to_contain_text("sensors/#")
    expect(row.locator("[data-metric='matched']")).to_have_text("0")

    subscriber = connect_when_authorised("rules-listener", "rules-user", "rules-password", address)
    publisher = MqttClient("sensor-7", "rules-user", "rules-password").connect(address)
    try:
        subscriber.subscribe("alerts/#", qos=1)
        publisher.client.publish("sensors/7", b'{"temp": 35}', qos=1).wait_for_publish(10)
        publisher.client.publish("sensors/7", b'{"temp": 20}', qos=1).wait_for_publish(10)
        _topic, payload, _qos, _retain = subscriber.wait_message("alerts/sensor-7")
        assert json.loads(payload) == {"hot": 35}
        # The counters refresh without a reload: 2 matched FROM, 1 passed WHERE, 1 republished.
        expect(row.locator("[data-metric='matched']")).to_have_text("2")
        expect(row.locator("[data-metric='passed']")).to_have_text("1")
        expect(row.locator("[data-metric='failed']")).to_have_text("1")
        expect(row.locator("[data-metric='actions.success']")).to_have_text("1")
        shots(page, platform, tmp_path, "integration")

        row.get_by_role("button", name="Disable hot_sensors").click()
        expect(page.locator("tr[data-rule='hot_sensors'] [data-enabled]")).to_have_text("disabled")
        publisher.client.publish("sensors/7", b'{"temp": 40}', qos=1).wait_for_publish(10)
        time.sleep(1.0)  # what a running rule would take to republish it
        assert [m for m in subscriber.messages if m[0] == "alerts/sensor-7"] == [
            ("alerts/sensor-7", b'{"hot": 35}', 0, False)
        ]
    finally:
        publisher.close()
        subscriber.close()

    page.goto(f"{platform.console}/deployments/{deployment_id}/integration/rules/hot_sensors/edit")
    expect(page.get_by_label("SQL", exact=True)).to_have_value(SQL)
    expect(page.locator("#republish_topic_0")).to_have_value("alerts/${clientid}")
    shots(page, platform, tmp_path, "rule-edit")


def test_bad_sql_is_refused_next_to_the_editor_with_the_input_kept(
    page: Page, platform: Platform, deployment: tuple[str, str]
) -> None:
    deployment_id, _address = deployment
    login(page, platform)
    page.goto(f"{platform.console}/deployments/{deployment_id}/integration/rules/new")
    page.get_by_label("SQL", exact=True).fill('SELECT * FRM "t/#"')
    page.locator("#republish_topic_0").fill("out/t")
    page.get_by_role("button", name="Create rule").click()
    expect(page.locator("#sql-error")).to_contain_text("SQL error at line 1")
    expect(page.get_by_label("SQL", exact=True)).to_have_value('SELECT * FRM "t/#"')
    expect(page.locator("#republish_topic_0")).to_have_value("out/t")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_http_connector_to_a_closed_port_shows_disconnected_with_the_reason(
    page: Page, platform: Platform, deployment: tuple[str, str], tmp_path: Path
) -> None:
    deployment_id, address = deployment
    login(page, platform)
    integration(page, platform, deployment_id)
    page.get_by_label("Connector name").fill("down_hook")
    page.get_by_label("Server URL").fill(f"http://127.0.0.1:{_closed_port()}/hook")
    page.get_by_role("button", name="Add connector").click()
    expect(page.locator("tr[data-connector='http:down_hook']")).to_be_visible()
    page.get_by_label("Action name").fill("to_down_hook")
    page.get_by_role("button", name="Add action").click()
    expect(page.locator("tr[data-action='http:to_down_hook']")).to_be_visible()

    page.get_by_role("link", name="Create rule").click()
    page.get_by_label("Rule ID (optional)").fill("to_hook")
    page.get_by_label("SQL", exact=True).fill('SELECT * FROM "hook/#"')
    page.get_by_label("http:to_down_hook").check()
    page.get_by_role("button", name="Create rule").click()
    expect(page.locator("tr[data-rule='to_hook']")).to_be_visible()

    publisher = connect_when_authorised("hook-sender", "rules-user", "rules-password", address)
    try:
        publisher.client.publish("hook/1", b"{}", qos=1).wait_for_publish(10)
        connector = page.locator("tr[data-connector='http:down_hook']")
        expect(connector.locator("[data-status-label]")).to_have_text("disconnected")
        expect(connector.locator("[data-status-reason]")).to_have_text(
            "Cannot reach the target: ConnectionRefusedError: [Errno 111] Connection refused"
        )
        expect(page.locator("tr[data-rule='to_hook'] [data-metric='matched']")).to_have_text("1")
        screenshot(page, "integration-connector-down")
        page.screenshot(path=str(tmp_path / "integration-connector-down.png"), full_page=True)
        # In 中文 the status and our sentence are translated; the target's own error stays whole in it.
        url = page.url.split("://", 1)[1].split("/", 1)[1]
        page.goto(f"{platform.console}/lang?to=zh-CN&next=/{url}")
        expect(connector.locator("[data-status-label]")).to_have_text("未连接")
        expect(connector.locator("[data-status-reason]")).to_have_text(
            "无法连接目标：ConnectionRefusedError: [Errno 111] Connection refused"  # noqa: RUF001  (Chinese punctuation)
        )
        page.wait_for_timeout(2500)  # one refresh of the statuses: the same text
        expect(connector.locator("[data-status-reason]")).to_have_text(re.compile("^无法连接目标："))  # noqa: RUF001
        screenshot(page, "integration-connector-down-zh")
        page.set_viewport_size({"width": 760, "height": 900})
        screenshot(page, "integration-connector-down-zh-760")
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(f"{platform.console}/lang?to=en&next=/{url}")
    finally:
        publisher.close()

    # The connector is used: deleting it is refused with the reason, after a confirmation.
    page.locator("tr[data-connector='http:down_hook']").get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("main")).to_contain_text("used by")
