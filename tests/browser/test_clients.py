"""Client detail and subscriptions pages in a real browser with real paho clients: a client's
connection, session and subscriptions, unsubscribe, the subscriptions filters, and kick after a
confirmation (from the detail page and from the clients list)."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, add_user, login
from tests.browser.mqtt_client import MqttClient, connect_when_authorised
from tests.browser.test_integration import shots

pytestmark = pytest.mark.browser


@pytest.fixture
def user(page: Page, platform: Platform, deployment: tuple[str, str]) -> str:
    """Signed in as root, with the MQTT user `detail-user` on the deployment."""
    login(page, platform)
    add_user(page, platform, deployment[0], "detail-user", "detail-password")
    return "detail-user"


def test_client_detail_shows_the_session_and_unsubscribes(
    page: Page, platform: Platform, deployment: tuple[str, str], user: str, tmp_path: Path
) -> None:
    deployment_id, address = deployment
    client = connect_when_authorised("detail/1", user, "detail-password", address)
    try:
        client.subscribe("detail/a", qos=1)
        client.subscribed.clear()
        client.subscribe("detail/b", qos=0)
        page.goto(f"{platform.console}/deployments/{deployment_id}/clients")
        page.locator("tr[data-clientid='detail/1']").get_by_role("link", name="detail/1").click()
        expect(page.locator("#client-title")).to_contain_text("detail/1")
        connection = page.locator("dl[data-section='connection']")
        expect(connection).to_contain_text("127.0.0.1")
        expect(connection).to_contain_text("MQTT 5.0")
        expect(connection).to_contain_text("connected")
        expect(page.locator("dl[data-section='session']")).to_contain_text("2 /")  # subscriptions
        table = page.locator("#client-subscriptions")
        expect(table.locator("tr[data-topic]")).to_have_count(2)
        shots(page, platform, tmp_path, "client-detail")

        table.locator("tr[data-topic='detail/b']").get_by_role("button", name="Unsubscribe").click()
        expect(page.locator("main")).to_contain_text("Unsubscribe detail/1 from detail/b?")  # asks first
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.locator("p.notice")).to_contain_text("Unsubscribed from detail/b.")
        expect(page.locator("#client-subscriptions tr[data-topic]")).to_have_count(1)

        subs = f"{platform.console}/deployments/{deployment_id}/subscriptions"
        page.goto(f"{subs}?clientid=detail/1")
        expect(page.locator("#subscriptions-table tbody tr")).to_have_count(1)
        expect(page.locator("#subscriptions-table")).to_contain_text("detail/a")
        page.get_by_label("QoS").select_option("0")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("#subs-empty")).to_be_visible()
        page.goto(f"{subs}?match_topic=detail/a")
        expect(page.locator("tr[data-clientid='detail/1']")).to_have_count(1)
        shots(page, platform, tmp_path, "subscriptions")
        response = page.goto(f"{subs}?qos=7")
        assert response is not None
        assert response.status == 400
        expect(page.locator("#qos-error")).to_contain_text("qos")

        page.goto(f"{platform.console}/deployments/{deployment_id}/client?clientid=detail%2F1")
        page.locator("#kick-link").click()
        expect(page.locator("main")).to_contain_text("Kick detail/1?")
        assert not client.disconnected.is_set()  # asking kicks nothing
        page.get_by_role("button", name="Kick").click()
        expect(page.locator("p.notice")).to_contain_text("Kicked detail/1.")
        assert client.disconnected.wait(10), "the kicked client was not disconnected"
    finally:
        client.close()


def test_mqtt_user_password_is_changed_in_the_console_and_audited(
    page: Page, platform: Platform, deployment: tuple[str, str], user: str, tmp_path: Path
) -> None:
    _deployment_id, address = deployment
    page.locator(f"tr[data-user='{user}']").get_by_role("link", name="Edit").click()
    page.get_by_label("New password (leave empty to keep it)").fill("new-detail-password")
    page.get_by_label("New password again").fill("not-the-same")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#confirm_password-error")).to_contain_text("differ")
    expect(page.get_by_label("New password (leave empty to keep it)")).to_have_value("")  # never echoed
    shots(page, platform, tmp_path, "user-edit")
    page.get_by_label("New password (leave empty to keep it)").fill("new-detail-password")
    page.get_by_label("New password again").fill("new-detail-password")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(f"tr[data-user='{user}']")).to_be_visible()

    with pytest.raises(AssertionError):  # the old password is refused from now on
        MqttClient("edited-old", user, "detail-password").connect(address)
    client = connect_when_authorised("edited-new", user, "new-detail-password", address)
    client.close()

    page.goto(f"{platform.console}/audit")
    expect(page.locator("main")).to_contain_text(
        "POST /console/deployments/{deployment_id}/users/{kind}/{user_id}/edit"
    )
