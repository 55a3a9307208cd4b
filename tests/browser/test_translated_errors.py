# ruff: noqa: RUF001  (the expected Chinese texts use full-width punctuation)
"""Service errors in a 中文 console: each is shown next to its field in Chinese, none stays English."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, login, screenshot
from tests.certs import Issued, make_leaf, make_root_ca, private_key
from tests.integration.control.harness import poll

pytestmark = pytest.mark.browser

ENGLISH_WORDS = re.compile(r"[A-Za-z]{3,} [A-Za-z]{2,} [A-Za-z]{2,}")  # three English words in a row


@pytest.fixture(scope="module")
def deployment(platform: Platform) -> Iterator[str]:
    key = platform.serve.create_key()
    with platform.api() as api:
        created = api.post(
            "/deployments", auth=key, json={"projectID": "default", "deploymentName": "zh-errors"}
        )
        assert created.status_code == 201, created.text
        deployment_id: str = created.json()["deploymentID"]

        def running() -> bool | None:
            body: dict[str, Any] = api.get(f"/deployments/{deployment_id}", auth=key).json()
            return True if body["status"] == "running" else None

        poll(running, within=60.0, what=f"{deployment_id} running")
    yield deployment_id
    with platform.api() as api:
        api.delete(f"/deployments/{deployment_id}", auth=key)


def in_chinese(page: Page, platform: Platform) -> None:
    login(page, platform)
    page.get_by_role("link", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def no_english_error(page: Page) -> None:
    """Every error shown on the page is Chinese: no three English words in a row."""
    for text in page.locator(".error:visible").all_inner_texts():
        assert not ENGLISH_WORDS.search(text), text


def test_chinese_pages_show_service_errors_in_chinese(
    page: Page, platform: Platform, deployment: str
) -> None:
    in_chinese(page, platform)
    base = f"{platform.console}/deployments/{deployment}"

    page.goto(f"{base}/users")
    for _ in range(2):
        page.locator("#user_id").fill("twice")
        page.locator("#user_password").fill("twice-password")
        page.locator("#user_id").press("Enter")
    expect(page.locator("#user_id-error")).to_have_text("用户已存在")
    no_english_error(page)
    screenshot(page, "error-zh-user-exists")

    page.goto(f"{base}/publish")
    page.locator("#topic").fill("sensors/+")
    page.locator("#topic").press("Enter")
    expect(page.locator("#topic-error")).to_have_text("主题名中不能包含通配符")
    no_english_error(page)

    page.goto(f"{base}/tls")
    page.locator("#key").fill("x")
    page.locator("form[action$='/tls'] button[type=submit]").click()
    expect(page.locator("#cert-error")).to_have_text("cert：至少需要 1 个字符")
    no_english_error(page)

    root = make_root_ca("zh errors CA")
    leaf = make_leaf(root, "broker.zh.test", hosts=("broker.zh.test",))
    page.locator("#cert").fill(leaf.cert_pem)
    page.locator("#key").fill(Issued(leaf.cert, private_key("ec256", 1)).key_pem)
    page.locator("form[action$='/tls'] button[type=submit]").click()
    expect(page.locator("#key-error")).to_have_text(
        "证书被拒绝 [key-mismatch]：私钥与第一个证书 CN=broker.zh.test 不匹配"
    )
    no_english_error(page)
    screenshot(page, "error-zh-key-mismatch")
