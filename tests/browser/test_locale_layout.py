# ruff: noqa: RUF001  (the expected Chinese texts use full-width punctuation)
"""What depends on the browser's locale and width, in a real browser: the deployment tabs at 760 px take
at most two lines (here one line that scrolls, the current tab in view) in English and 中文, and the time
fields read and send ISO `YYYY-MM-DD HH:MM`, so a zh-CN and an en-US browser send the same instant."""

from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect
from tests.browser.conftest import Platform, chromium, login, screenshot, section

pytestmark = pytest.mark.browser

WIDTH = 760


@pytest.fixture(scope="module")
def zh_context(playwright: Playwright) -> Iterator[BrowserContext]:
    """A second browser whose locale (and Accept-Language) is zh-CN, at 760 px."""
    with chromium(playwright, locale="zh-CN", width=WIDTH, height=900) as browser_context:
        yield browser_context


def tab_layout(page: Page) -> dict[str, object]:
    """How the deployment tabs lie: lines, whether the current tab shows whole, the smallest font."""
    layout: dict[str, object] = page.evaluate(
        """() => {
             const list = document.querySelector('nav.tabs ul'), box = list.getBoundingClientRect();
             const items = Array.from(list.querySelectorAll('li'));
             const current = list.querySelector("a[aria-current='page']").getBoundingClientRect();
             return {
               lines: new Set(items.map((li) => Math.round(li.getBoundingClientRect().top))).size,
               currentShown: current.left >= box.left - 1 && current.right <= box.right + 1,
               smallestFont: Math.min(
                 ...items.map((li) => parseFloat(getComputedStyle(li.firstElementChild).fontSize))),
               pageOverflows: document.documentElement.scrollWidth > document.documentElement.clientWidth,
               wraps: items.some((li) => li.firstElementChild.getClientRects().length > 1),
             }; }"""
    )
    return layout


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_deployment_tabs_fit_in_two_lines_at_760_px(
    page: Page, platform: Platform, deployment: tuple[str, str], lang: str
) -> None:
    deployment_id, _address = deployment
    page.set_viewport_size({"width": WIDTH, "height": 900})
    login(page, platform)
    page.goto(f"{platform.console}/lang?to={lang}&next=/console/deployments/{deployment_id}")
    for tab in ("", "topic-metrics", "events", "alarms"):
        section(page, platform, deployment_id, tab)
        layout = tab_layout(page)
        assert layout == {
            "lines": layout["lines"],
            "currentShown": True,
            "smallestFont": layout["smallestFont"],
            "pageOverflows": False,
            "wraps": False,
        }, (tab, layout)
        assert 1 <= int(str(layout["lines"])) <= 2, (tab, layout)
        assert float(str(layout["smallestFont"])) >= 14, (tab, layout)
    # A page opened wide, then narrowed to 760 px, scrolls its current tab into view too.
    page.set_viewport_size({"width": 1280, "height": 900})
    section(page, platform, deployment_id, "alarms")
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.wait_for_timeout(200)  # the resize handler
    assert tab_layout(page)["currentShown"] is True
    # Every tab can be reached from the line: the first one, scrolled back into view, opens its section.
    page.locator("nav.tabs li").first.locator("a").click()
    page.wait_for_url(f"{platform.console}/deployments/{deployment_id}")
    screenshot(page, f"tabs-{lang}-{WIDTH}")
    page.goto(f"{platform.console}/lang?to=en&next=/console/deployments")
    page.set_viewport_size({"width": 1280, "height": 800})


def start_trace(page: Page, platform: Platform, deployment_id: str, name: str, typed: str) -> str:
    """Start a trace from the console's form with the start typed key by key; the start_at it posted."""
    section(page, platform, deployment_id, "trace")
    page.locator("#trace-name").fill(name)
    page.locator("#trace-value").fill(f"{name}-client")
    start = page.locator("#trace-start")
    start.click()
    start.press_sequentially(typed)
    expect(start).to_have_value(typed)  # what the user sees is what they typed, in either language
    expect(start).to_have_attribute("placeholder", "YYYY-MM-DD HH:MM")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/trace")) as posted:
        page.locator("form[action$='/trace'] button[type='submit']").click()
    body = parse_qs(posted.value.post_data or "")
    return body["start_at"][0]


def test_a_zh_cn_and_an_en_us_browser_send_the_same_trace_start(
    page: Page, zh_context: BrowserContext, platform: Platform, deployment: tuple[str, str]
) -> None:
    deployment_id, _address = deployment
    typed = "2031-02-03 04:05"
    login(page, platform)
    sent_en = start_trace(page, platform, deployment_id, "from-en", typed)
    expect(page.locator("tr[data-trace='from-en']")).to_contain_text("2031-02-03 04:05:00 UTC")

    zh_page = zh_context.new_page()
    try:
        login_zh(zh_page, platform)
        sent_zh = start_trace(zh_page, platform, deployment_id, "from-zh", typed)
        expect(zh_page.locator("tr[data-trace='from-zh']")).to_contain_text("2031-02-03 04:05:00 UTC")
        expect(zh_page.get_by_text("开始时间（UTC，YYYY-MM-DD HH:MM；留空即现在）")).to_be_visible()
        screenshot(zh_page, f"trace-zh-{WIDTH}")
    finally:
        zh_page.close()
    assert sent_en == sent_zh == typed


def login_zh(page: Page, platform: Platform) -> None:
    """Sign in from a zh-CN browser: the console answers in 中文 from its Accept-Language."""
    page.goto(f"{platform.console}/login")
    page.get_by_label("用户名").fill("root")
    page.get_by_label("密码").fill("integration-root-password")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{platform.console}/deployments")


@pytest.mark.parametrize("locale_page", ["en", "zh"])
def test_audit_days_are_typed_as_iso_in_either_locale(
    page: Page, zh_context: BrowserContext, platform: Platform, locale_page: str
) -> None:
    tab = page if locale_page == "en" else zh_context.new_page()
    try:
        if locale_page == "en":
            login(tab, platform)
        else:
            login_zh(tab, platform)
        tab.goto(f"{platform.console}/audit")
        for field, typed in (("#since", "2026-01-02"), ("#until", "2026-01-03")):
            box = tab.locator(field)
            box.click()
            box.press_sequentially(typed)
            expect(box).to_have_value(typed)
            expect(box).to_have_attribute("placeholder", "YYYY-MM-DD")
        with tab.expect_request(lambda r: "/audit?" in r.url) as sent:
            tab.locator("#until").press("Enter")
        query = parse_qs(sent.value.url.split("?", 1)[1])
        assert (query["since"], query["until"]) == (["2026-01-02"], ["2026-01-03"])
    finally:
        if tab is not page:
            tab.close()
