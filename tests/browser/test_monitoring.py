"""Stored monitoring in a real browser: history the platform recorded while no page was open is on the
charts as soon as the page opens, a stopped deployment is a gap (no line across it), and the page is
legible at 760 px in English and 简体中文 (screenshots in artifacts/screenshots/)."""

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import (
    Platform,
    add_user,
    login,
    screenshot,
    section,
    started_platform,
    wait_status,
)
from tests.browser.mqtt_client import connect_when_authorised

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """`serve` sampling every second (MQTTCLOUD_MONITOR_INTERVAL=1), so history builds up in seconds."""
    data = tmp_path_factory.mktemp("monitoring") / "data"
    with started_platform(data, {"MQTTCLOUD_MONITOR_INTERVAL": "1"}) as started:
        yield started


def points_of(page: Page, chart: str) -> int:
    return int(page.locator(f"#{chart} svg.chart").get_attribute("data-points") or "0")


def test_history_recorded_with_no_page_open_is_charted_when_the_page_opens(
    page: Page, platform: Platform, deployment: tuple[str, str]
) -> None:
    deployment_id, address = deployment
    login(page, platform)
    add_user(page, platform, deployment_id, "meter", "meter-password")
    page.goto(f"{platform.console}/deployments")  # no chart page is open from here on
    client = connect_when_authorised("meter-1", "meter", "meter-password", address)
    try:
        client.subscribe("meter/#")
        for n in range(40):
            client.client.publish("meter/x", b"%d" % n, qos=1)
            time.sleep(0.1)
        time.sleep(3.0)
        opened_at = time.time()
        section(page, platform, deployment_id, "metrics")
        expect(page.locator("#charts")).to_have_attribute("data-loaded", loaded())
        # The first load already holds the seconds sampled before the page opened.
        assert points_of(page, "chart-connections") >= 2 * 5, "history from before the page opened"
        assert points_of(page, "chart-messages") >= 3
        expect(page.locator("[data-stat='connections']")).to_have_text("1")
        assert time.time() - opened_at < 5.0
        expect(page.locator("#chart-messages polyline[data-series='received']").first).to_be_visible()
        screenshot(page, "charts-1366")
        page.set_viewport_size({"width": 760, "height": 900})
        page.wait_for_timeout(300)  # the resize redraw
        assert_no_overlap(page)
        screenshot(page, "charts-760")
        page.goto(f"{platform.console}/lang?to=zh-CN&next=/console/deployments/{deployment_id}/metrics")
        expect(page.locator("h2", has_text="每秒消息数")).to_be_visible()
        expect(page.locator("#charts")).to_have_attribute("data-loaded", loaded())
        assert_no_overlap(page)
        screenshot(page, "charts-760-zh")
        page.goto(f"{platform.console}/lang?to=en&next=/console/deployments")
        page.set_viewport_size({"width": 1280, "height": 800})
    finally:
        client.close()


def test_a_stopped_deployment_is_a_gap_in_the_lines(
    page: Page, platform: Platform, key: tuple[str, str], deployment: tuple[str, str]
) -> None:
    deployment_id, _address = deployment
    with platform.api() as api:
        assert api.post(f"/deployments/{deployment_id}/stop", auth=key).status_code in {200, 201}
    wait_status(platform, key, deployment_id, "stopped")
    time.sleep(4.0)
    with platform.api() as api:
        assert api.post(f"/deployments/{deployment_id}/start", auth=key).status_code in {200, 201}
    wait_status(platform, key, deployment_id, "running")
    time.sleep(4.0)
    login(page, platform)
    section(page, platform, deployment_id, "metrics")
    expect(page.locator("#charts")).to_have_attribute("data-loaded", loaded())
    lines = page.locator("#chart-connections [data-series='sessions']")
    assert lines.count() >= 2, "one line before the stop, one after: none across it"
    page.get_by_role("link", name="24 hours").click()
    expect(page.get_by_role("link", name="24 hours")).to_have_attribute("aria-current", "true")
    expect(page.locator("#charts")).to_have_attribute("data-loaded", loaded())
    screenshot(page, "charts-gap")


def test_byte_and_count_axes_have_whole_ticks_in_humane_units(
    page: Page, platform: Platform, deployment: tuple[str, str]
) -> None:
    """No "0.5B" nor "0.5" connections: bytes in B/KiB/MiB..., counts whole (k, M for thousands)."""
    deployment_id, _address = deployment
    login(page, platform)
    section(page, platform, deployment_id, "metrics")
    expect(page.locator("#charts")).to_have_attribute("data-loaded", loaded())
    for chart, unit in [
        ("chart-bytes", r"(B|KiB|MiB|GiB|TiB)"),
        ("chart-connections", r"[kMGT]?"),
        ("chart-subscriptions", r"[kMGT]?"),
    ]:
        texts: list[str] = page.locator(f"#{chart} svg.chart text:not(.empty)").evaluate_all(
            "texts => texts.map((t) => t.textContent)"
        )
        labels = [t for t in texts if ":" not in t]  # the time axis' labels have a colon
        assert len(labels) == 3, (chart, labels)  # 0, the middle and the top gridline
        assert labels[0] == "0", (chart, labels)
        assert all(re.fullmatch(r"[1-9]\d*" + unit, label) for label in labels[1:]), (chart, labels)
    screenshot(page, "charts-axes")


def loaded() -> re.Pattern[str]:
    """`data-loaded`: how many points the last fetch returned (at least one)."""
    return re.compile(r"^[1-9]\d*$")


def assert_no_overlap(page: Page) -> None:
    """No chart text box overlaps another, and every chart fits its card (nothing squashed or cut)."""
    boxes: list[dict[str, float]] = page.evaluate(
        """() => Array.from(document.querySelectorAll('svg.chart')).flatMap((svg) => {
             const texts = Array.from(svg.querySelectorAll('text')).map((t) => t.getBoundingClientRect());
             const out = [];
             for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
               const a = texts[i], b = texts[j];
               const apart = a.right - 1 <= b.left || b.right - 1 <= a.left
                 || a.bottom - 1 <= b.top || b.bottom - 1 <= a.top;
               if (!apart) out.push({i, j});
             }
             const card = svg.closest('.card').getBoundingClientRect(), own = svg.getBoundingClientRect();
             if (own.right > card.right + 1 || own.left < card.left - 1) out.push({card: 1});
             return out; })"""
    )
    assert boxes == []
