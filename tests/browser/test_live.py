"""The console's deployment sections in a real browser: deployment API keys, MQTT users (add, import),
ACL, bans, the live clients table (a real paho client appears and is kicked), publish, and charts."""

import re

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, add_user, login, screenshot, section
from tests.browser.mqtt_client import connect_when_authorised

pytestmark = pytest.mark.browser


def test_deployment_api_key_is_shown_once_and_works(
    page: Page, platform: Platform, deployment: tuple[str, str]
) -> None:
    deployment_id, _address = deployment
    login(page, platform)
    section(page, platform, deployment_id, "keys")
    page.get_by_label("Note (optional)").fill("browser")
    page.get_by_role("button", name="Create deployment API key").click()
    app_id = page.locator("#new-app-id").inner_text()
    secret = page.locator("#new-app-secret").inner_text()
    screenshot(page, "deployment-api-key-created")
    page.reload()
    expect(page.locator("#created-key")).to_have_count(0)
    expect(page.locator(f"tr[data-app-id='{app_id}']")).to_contain_text("browser")
    with platform.api() as api:
        response = api.get(f"{platform.serve.base_url}/api/v5/clients", auth=(app_id, secret))
        assert response.status_code == 200, response.text


def test_user_connects_appears_live_and_is_kicked(
    page: Page, platform: Platform, deployment: tuple[str, str]
) -> None:
    deployment_id, address = deployment
    login(page, platform)
    add_user(page, platform, deployment_id, "sensor-user", "sensor-password")
    screenshot(page, "users")

    section(page, platform, deployment_id, "clients")
    expect(page.locator("#clients-empty")).to_be_visible()
    client = connect_when_authorised("browser-sensor-1", "sensor-user", "sensor-password", address)
    try:
        row = page.locator("tr[data-clientid='browser-sensor-1']")
        expect(row).to_be_visible()  # the table polls clients.json: no reload
        expect(row).to_contain_text("sensor-user")
        screenshot(page, "clients")
        row.get_by_role("link", name="Kick").click()
        expect(page.locator("main")).to_contain_text("Kick browser-sensor-1?")  # a confirmation first
        page.get_by_role("button", name="Kick").click()
        expect(page.locator("p.notice")).to_contain_text("browser-sensor-1")
        assert client.disconnected.wait(10), "the kicked client was not disconnected"
        expect(page.locator("tr[data-clientid='browser-sensor-1']")).to_have_count(0)
    finally:
        client.close()


def test_publish_form_reaches_a_subscriber(
    page: Page, platform: Platform, deployment: tuple[str, str]
) -> None:
    deployment_id, address = deployment
    login(page, platform)
    add_user(page, platform, deployment_id, "listener", "listener-password")
    subscriber = connect_when_authorised("browser-listener", "listener", "listener-password", address)
    try:
        subscriber.subscribe("console/test/#", qos=1)
        section(page, platform, deployment_id, "publish")
        page.get_by_label("Topic", exact=True).fill("console/test/hello")
        page.get_by_label("Payload").fill("hello from the console")
        page.get_by_label("QoS").select_option("1")
        page.get_by_role("button", name="Publish", exact=True).click()
        expect(page.locator("#publish-result")).to_contain_text("delivered to 1 subscriptions")
        _topic, payload, qos, retain = subscriber.wait_message("console/test/hello")
        assert (payload, qos, retain) == (b"hello from the console", 1, False)
        screenshot(page, "publish")

        section(page, platform, deployment_id, "metrics")  # stored history: tests/browser/test_monitoring.py
        expect(page.locator("#charts")).to_have_attribute("data-loaded", re.compile(r"^[1-9]"))
        screenshot(page, "metrics")
    finally:
        subscriber.close()


def test_bulk_import_shows_each_row(page: Page, platform: Platform, deployment: tuple[str, str]) -> None:
    deployment_id, _address = deployment
    login(page, platform)
    section(page, platform, deployment_id, "users")
    csv_file = (
        b"user_id,password,is_superuser\n"
        b"imp-1,pass-1,false\nimp-2,pass-2,true\nimp-1,again,false\n,nopass,false\n"
    )
    page.get_by_label("CSV or JSON file").set_input_files(
        {"name": "users.csv", "mimeType": "text/csv", "buffer": csv_file}
    )
    page.get_by_role("button", name="Import", exact=True).click()
    results = page.locator("#import-results")
    expect(results).to_contain_text("Imported 2 of 4 rows.")
    expect(results.locator("li.ok")).to_have_count(2)
    expect(results.locator("li.fail")).to_have_count(2)
    expect(results.locator("li.fail").first).to_contain_text("already exists")
    expect(page.locator("#import-progress")).to_have_attribute("value", "4")
    screenshot(page, "users-import")


def test_acl_rule_and_ban(page: Page, platform: Platform, deployment: tuple[str, str]) -> None:
    deployment_id, _address = deployment
    login(page, platform)
    section(page, platform, deployment_id, "acl")
    page.get_by_label("Applies to").select_option("username")
    page.get_by_label("User name or client ID").fill("sensor-user")
    page.get_by_label("Topic filter").fill("devices/${username}/#")
    page.get_by_label("Action").select_option("publish")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("table[data-acl='username']")).to_contain_text("devices/${username}/#")
    screenshot(page, "acl")

    section(page, platform, deployment_id, "banned")
    page.get_by_label("Value").fill("bad-client")
    page.get_by_label("Reason").fill("flooding")
    page.get_by_role("button", name="Ban", exact=True).click()
    expect(page.locator("#banned-table")).to_contain_text("bad-client")
    page.get_by_label("Value").fill("")
    page.get_by_role("button", name="Ban", exact=True).click()
    expect(page.locator("#who-error")).to_be_visible()
    screenshot(page, "banned")
