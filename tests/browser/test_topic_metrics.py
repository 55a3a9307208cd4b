"""The topic metrics page in a real browser with real paho clients: a topic registered in the console
counts what paho publishes (in, out to a subscriber, dropped while nobody subscribes) with a rate; a
wildcard is refused next to the field with the input kept; reset zeroes a topic; delete asks first."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, add_user, login
from tests.browser.mqtt_client import connect_when_authorised
from tests.browser.test_integration import shots
from tests.integration.control.harness import poll

pytestmark = pytest.mark.browser


def test_topic_is_registered_counted_reset_and_deleted(
    page: Page, platform: Platform, deployment: tuple[str, str], tmp_path: Path
) -> None:
    deployment_id, address = deployment
    login(page, platform)
    add_user(page, platform, deployment_id, "meter", "meter-password")
    metrics = f"{platform.console}/deployments/{deployment_id}/topic-metrics"
    page.goto(metrics)
    expect(page.locator("#topic-metrics-empty")).to_be_visible()
    page.get_by_label("Topic name").fill("plant/+/state")
    page.get_by_role("button", name="Count this topic").click()
    expect(page.locator("#topic-error")).to_contain_text("Wildcard topic is not supported")
    expect(page.get_by_label("Topic name")).to_have_value("plant/+/state")
    page.get_by_label("Topic name").fill("plant/line1/state")
    page.get_by_role("button", name="Count this topic").click()
    expect(page.locator("p.notice")).to_contain_text("Counting the messages of plant/line1/state.")
    row = page.locator("tr[data-topic='plant/line1/state']")
    expect(row.locator("[data-metric='in']")).to_have_text("0")

    publisher = connect_when_authorised("meter-pub", "meter", "meter-password", address)
    subscriber = connect_when_authorised("meter-sub", "meter", "meter-password", address)
    try:
        for _ in range(2):  # nobody subscribes yet: dropped
            publisher.client.publish("plant/line1/state", b"idle", qos=1).wait_for_publish(10)
        subscriber.subscribe("plant/#", qos=1)
        for _ in range(3):
            publisher.client.publish("plant/line1/state", b"run", qos=1).wait_for_publish(10)
        subscriber.wait_message("plant/line1/state")
    finally:
        publisher.close()
        subscriber.close()

    def counted() -> bool | None:
        page.get_by_role("link", name="Refresh").click()
        cells = {m: row.locator(f"[data-metric='{m}']").inner_text() for m in ("in", "out", "dropped")}
        rate = float(row.locator("[data-metric='in-rate']").inner_text())
        return (cells == {"in": "5", "out": "3", "dropped": "2"} and rate > 0) or None

    poll(counted, within=15.0, what="5 in, 3 out, 2 dropped and a rate")
    shots(page, platform, tmp_path, "topic-metrics")

    row.get_by_role("button", name="Reset").click()
    expect(page.locator("main")).to_contain_text("Reset the metrics of plant/line1/state to zero?")
    page.get_by_role("button", name="Reset").click()
    expect(page.locator("p.notice")).to_contain_text("Reset the metrics of plant/line1/state.")
    expect(row.locator("[data-metric='in']")).to_have_text("0")

    row.get_by_role("link", name="Delete").click()
    expect(page.locator("main")).to_contain_text("Stop counting the messages of plant/line1/state")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("p.notice")).to_contain_text("Stopped counting the messages of plant/line1/state.")
    expect(page.locator("#topic-metrics-empty")).to_be_visible()
