"""Operating a deployment in a real browser: a log trace started in the console records a paho client's
packets (and nobody else's), shown, downloaded and stopped; an alarm (an expiring certificate) puts a
banner on every page until it clears, in English and Chinese."""

import datetime as dt
import io
import zipfile
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, add_user, login, screenshot, section, started_platform
from tests.browser.mqtt_client import connect_when_authorised
from tests.certs import make_self_signed
from tests.integration.control.harness import ServeProcess, poll

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """`serve` with an alarm checker that runs twice a second (its default is every 30 s)."""
    data = tmp_path_factory.mktemp("browser-ops") / "data"
    with started_platform(data, {"MQTTCLOUD_ALARM_INTERVAL": "0.5"}) as started:
        yield started


def test_a_trace_started_in_the_console_shows_the_clients_packets(
    page: Page, platform: Platform, deployment: tuple[str, str]
) -> None:
    deployment_id, address = deployment
    login(page, platform)
    add_user(page, platform, deployment_id, "tracer", "tracer-password")
    section(page, platform, deployment_id, "trace")
    page.get_by_label("Name", exact=True).fill("watch-one")
    page.get_by_label("Traced by").select_option("clientid")
    page.get_by_label("Client ID, topic filter or IP address").fill("traced-client")
    page.get_by_label("Duration (minutes)").fill("5")
    page.get_by_role("button", name="Start trace").click()
    row = page.locator("tr[data-trace='watch-one']")
    expect(row.locator("[data-trace-status]")).to_have_text("running")

    traced = connect_when_authorised("traced-client", "tracer", "tracer-password", address)
    other = connect_when_authorised("untraced-client", "tracer", "tracer-password", address)
    try:
        traced.client.publish("ops/trace", b"hello-from-the-traced-client", qos=1).wait_for_publish(10)
        other.client.publish("ops/trace", b"from-someone-else", qos=1).wait_for_publish(10)
        row.get_by_role("link", name="View log").click()
        log = page.locator("#trace-log")

        def shows_publish() -> bool:
            page.reload()
            return log.count() == 1 and "hello-from-the-traced-client" in log.inner_text()

        poll(shows_publish, within=20.0, interval=0.5, what="the PUBLISH in the trace log")
        text = log.inner_text()
        assert "traced-client@" in text
        assert "PUBLISH(" in text
        assert "from-someone-else" not in text
        assert "untraced-client" not in text
        screenshot(page, "trace-log")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download").click()
        path = download.value.path()
        with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
            (name,) = archive.namelist()
            assert "hello-from-the-traced-client" in archive.read(name).decode()
    finally:
        traced.close()
        other.close()

    section(page, platform, deployment_id, "trace")
    assert int(row.locator("[data-trace-size]").inner_text()) > 0
    row.get_by_role("button", name="Stop").click()
    expect(page.locator("main")).to_contain_text("The log recorded so far is kept.")  # asks first
    page.get_by_role("button", name="Stop").click()
    expect(row.locator("[data-trace-status]")).to_have_text("stopped")
    page.get_by_role("link", name="简体中文").click()
    expect(page.get_by_role("link", name="日志追踪")).to_have_attribute("aria-current", "page")
    expect(row.locator("[data-trace-status]")).to_have_text("已停止")
    page.get_by_role("link", name="English").click()


def _upload_certificate(serve: ServeProcess, deployment_id: str, days: int, *, replace: bool) -> None:
    now = dt.datetime.now(dt.UTC)
    issued = make_self_signed(not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=days))
    body = {"tlsType": "one-way", "cert": issued.cert_pem, "key": issued.key_pem}
    key = serve.create_key()
    with serve.client() as api:
        url = f"/deployments/{deployment_id}/tls"
        response = api.put(url, json=body, auth=key) if replace else api.post(url, json=body, auth=key)
        assert response.status_code == 200, response.text


def test_an_expiring_certificate_puts_a_banner_on_every_page_until_it_is_replaced(
    page: Page, platform: Platform, deployment: tuple[str, str]
) -> None:
    deployment_id, _address = deployment
    login(page, platform)
    banner = page.locator("#alarm-banner")
    expect(banner).to_have_count(0)
    _upload_certificate(platform.serve, deployment_id, 10, replace=False)

    def banner_shown() -> bool:
        page.reload()
        return banner.count() == 1

    poll(banner_shown, within=20.0, interval=0.5, what="the alarm banner")
    expect(banner).to_contain_text("Active alarms: 1")
    expect(banner).to_contain_text("certificate_expiring")
    section(page, platform, deployment_id, "users")
    expect(banner).to_be_visible()
    page.get_by_role("link", name="View alarms").click()
    active = page.locator("#active-alarms")
    expect(active.locator(f"tr[data-deployment='{deployment_id}']")).to_contain_text(
        "TLS certificate expires in"
    )
    screenshot(page, "alarms")
    page.get_by_role("link", name="简体中文").click()
    expect(banner).to_contain_text("活动告警：1")  # noqa: RUF001  (Chinese punctuation)
    expect(page.get_by_role("heading", name="告警", exact=True)).to_be_visible()
    page.get_by_role("link", name="English").click()

    _upload_certificate(platform.serve, deployment_id, 365, replace=True)

    def banner_gone() -> bool:
        page.reload()
        return banner.count() == 0

    poll(banner_gone, within=20.0, interval=0.5, what="the alarm banner to go")
    section(page, platform, deployment_id, "alarms")
    expect(page.locator("#no-active-alarms")).to_be_visible()
    expect(page.locator("#cleared-alarms tr[data-alarm='certificate_expiring']")).to_have_count(1)
