"""The retained-messages page in a real browser with real paho clients: a retained message published by
paho is listed (filter by topic), its payload is shown as text and hex, it is deleted after a
confirmation, and a new subscriber then gets nothing; a bad filter is shown next to the field."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, add_user, login
from tests.browser.mqtt_client import connect_when_authorised
from tests.browser.test_integration import shots
from tests.integration.control.harness import poll

pytestmark = pytest.mark.browser


def test_retained_message_is_browsed_viewed_and_deleted(
    page: Page, platform: Platform, deployment: tuple[str, str], tmp_path: Path
) -> None:
    deployment_id, address = deployment
    login(page, platform)
    add_user(page, platform, deployment_id, "keeper", "keeper-password")
    publisher = connect_when_authorised("keeper-pub", "keeper", "keeper-password", address)
    try:
        publisher.client.publish(
            "plant/line1/state", b'{"running": true}', qos=1, retain=True
        ).wait_for_publish(10)
        publisher.client.publish("plant/line2/state", b"\x00\x01\xfe", qos=0, retain=True).wait_for_publish(
            10
        )
        publisher.client.publish("other/topic", b"kept", qos=0, retain=True).wait_for_publish(10)
    finally:
        publisher.close()

    retained = f"{platform.console}/deployments/{deployment_id}/retained"

    def listed() -> bool | None:
        page.goto(retained)
        return page.locator("#retained-count").inner_text() == "3" or None

    poll(listed, within=15.0, what="three retained messages listed")
    page.get_by_label("Topic filter").fill("plant/+/state")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#retained-table tbody tr")).to_have_count(2)
    row = page.locator("tr[data-topic='plant/line1/state']")
    expect(row).to_contain_text("keeper-pub")
    shots(page, platform, tmp_path, "retained")

    row.get_by_role("link", name="View").click()
    expect(page.locator("#payload-text")).to_have_text('{"running": true}')
    expect(page.locator("#payload-hex")).to_contain_text("7b 22 72")
    page.goto(f"{retained}/message?topic=plant%2Fline2%2Fstate")
    expect(page.locator("#payload-text")).to_have_count(0)  # not UTF-8: hex only
    expect(page.locator("#payload-hex")).to_have_text("00 01 fe")

    page.goto(f"{retained}/message?topic=plant%2Fline1%2Fstate")
    page.locator("#delete-link").click()
    expect(page.locator("main")).to_contain_text("Delete the retained message on plant/line1/state?")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("p.notice")).to_contain_text("Deleted the retained message on plant/line1/state.")
    expect(page.locator("tr[data-topic='plant/line1/state']")).to_have_count(0)
    expect(page.locator("#retained-count")).to_have_text("2")

    subscriber = connect_when_authorised("keeper-sub", "keeper", "keeper-password", address)
    try:
        subscriber.subscribe("plant/#", qos=1)
        assert subscriber.wait_message("plant/line2/state")[3] is True  # the one left, as retained
        with pytest.raises(AssertionError):
            subscriber.wait_message("plant/line1/state", timeout=1.0)  # the deleted one never comes
    finally:
        subscriber.close()

    page.goto(f"{retained}?topic=plant/%23/x")
    expect(page.locator("#topic-error")).to_contain_text("misplaced '#'")
    expect(page.get_by_label("Topic filter")).to_have_value("plant/#/x")


def test_clear_all_asks_first_then_deletes_every_retained_message(
    page: Page, platform: Platform, deployment: tuple[str, str]
) -> None:
    deployment_id, address = deployment
    login(page, platform)
    add_user(page, platform, deployment_id, "sweeper", "sweeper-password")
    publisher = connect_when_authorised("sweeper-pub", "sweeper", "sweeper-password", address)
    try:
        for topic in ("sweep/a", "sweep/b"):
            publisher.client.publish(topic, b"old", qos=1, retain=True).wait_for_publish(10)
    finally:
        publisher.close()
    retained = f"{platform.console}/deployments/{deployment_id}/retained"

    def listed() -> bool | None:
        page.goto(f"{retained}?topic=sweep/%23")
        return page.locator("#retained-count").inner_text() == "2" or None

    poll(listed, within=15.0, what="two retained messages listed")
    page.locator("#retained-clear").click()
    expect(page.locator("main")).to_contain_text("Delete every retained message of this deployment?")
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("#retained-table")).to_be_visible()  # nothing deleted
    page.locator("#retained-clear").click()
    page.get_by_role("button", name="Clear all").click()
    expect(page.locator("p.notice")).to_contain_text("Deleted every retained message")
    expect(page.locator("#retained-count")).to_have_text("0")
    expect(page.locator("#retained-clear")).to_have_count(0)
