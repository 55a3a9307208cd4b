"""The console in a real browser against a real platform: keys, roles, deployments, TLS certificates."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, login, screenshot
from tests.certs import make_leaf, make_root_ca

pytestmark = pytest.mark.browser


def create_deployment(page: Page, platform: Platform, name: str) -> str:
    page.goto(f"{platform.console}/deployments/new")
    page.get_by_label("Deployment name").fill(name)
    page.get_by_label("Dedicated", exact=False).first.check()
    screenshot(page, "deployment-new")
    page.get_by_role("button", name="Create deployment").click()
    page.wait_for_url(re.compile(r".*/console/deployments/[a-z0-9]{8}$"))
    return page.url.rsplit("/", 1)[1]


def test_platform_key_secret_is_shown_once_and_works(page: Page, platform: Platform) -> None:
    login(page, platform)
    screenshot(page, "deployments-empty")
    page.get_by_role("link", name="Platform API keys").click()
    page.get_by_label("API key description").fill("browser test key")
    page.get_by_role("button", name="Create platform API key").click()
    once = page.locator("#created-key")
    expect(once).to_be_visible()
    expect(once).to_contain_text("shown only once")
    key = page.locator("#new-key").inner_text()
    secret = page.locator("#new-secret").inner_text()
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    assert len(secret) >= 32
    screenshot(page, "api-key-created")

    page.reload()
    expect(page.locator("#created-key")).to_have_count(0)
    expect(page.locator(f"tr[data-key='{key}']")).to_contain_text("browser test key")
    assert secret not in page.content()
    screenshot(page, "api-keys")

    with platform.api() as api:
        response = api.get("/projects", auth=(key, secret))
        assert response.status_code == 200
        assert response.json()[0]["projectID"] == "default"


def test_project_user_cannot_reach_the_key_page(page: Page, platform: Platform) -> None:
    login(page, platform)
    page.get_by_role("link", name="Accounts").click()
    page.get_by_label("User name").fill("viewer")
    page.get_by_label("Password").fill("viewer-password")
    page.get_by_label("Role").select_option("project_user")
    page.get_by_label("Default Project").check()
    page.get_by_role("button", name="Add account").click()
    expect(page.locator("table")).to_contain_text("viewer")
    screenshot(page, "accounts")
    page.get_by_role("button", name="Sign out").click()

    login(page, platform, "viewer", "viewer-password")
    expect(page.get_by_role("link", name="Platform API keys")).to_have_count(0)
    response = page.goto(f"{platform.console}/api-keys")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    screenshot(page, "forbidden")


def test_dedicated_deployment_starts_stops_and_runs_again(page: Page, platform: Platform) -> None:
    login(page, platform)
    deployment_id = create_deployment(page, platform, "browser-dedicated")
    status = page.locator("#deployment-status")
    expect(status).to_have_text("running", timeout=30_000)
    expect(page.locator("#addr-mqtt")).to_have_text(re.compile(r"127\.0\.0\.1:\d+"))
    screenshot(page, "deployment-overview")

    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("heading", name="Stop deployment")).to_be_visible()
    screenshot(page, "deployment-stop-confirm")
    page.get_by_role("button", name="Stop").click()
    page.wait_for_url(f"{platform.console}/deployments/{deployment_id}")
    expect(status).to_have_text("stopped", timeout=30_000)
    expect(page.get_by_role("button", name="Start")).to_be_enabled()
    page.get_by_role("button", name="Start").click()
    expect(status).to_have_text("running", timeout=30_000)
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()

    page.goto(f"{platform.console}/deployments")
    expect(page.locator(f"[data-status-of='{deployment_id}']")).to_have_text("running")
    screenshot(page, "deployments")


def test_certificate_upload_shows_status_and_opens_tls(page: Page, platform: Platform) -> None:
    login(page, platform)
    deployment_id = create_deployment(page, platform, "browser-tls")
    expect(page.locator("#deployment-status")).to_have_text("running", timeout=30_000)
    page.get_by_role("link", name="TLS certificate").click()
    root = make_root_ca("browser test CA")
    leaf = make_leaf(root, "broker.browser.test", hosts=("broker.browser.test", "127.0.0.1"))
    page.get_by_label("Certificate (PEM)").fill("not a certificate")
    page.get_by_label("Private key (PEM)").fill(leaf.key_pem)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#cert-error")).to_be_visible()
    expect(page.get_by_label("Certificate (PEM)")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "tls-error")

    page.get_by_label("Certificate (PEM)").fill(leaf.cert_pem + root.cert_pem)
    page.get_by_label("Private key (PEM)").fill(leaf.key_pem)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#tls-info")).to_contain_text("broker.browser.test")
    expect(page.locator("#tls-status")).to_have_text("running", timeout=30_000)  # the page polls it
    screenshot(page, "tls")
    page.goto(f"{platform.console}/deployments/{deployment_id}")
    expect(page.locator("#addr-mqtts")).to_have_text(re.compile(r"127\.0\.0\.1:\d+"))


def test_language_switches_to_chinese_and_back(page: Page, platform: Platform) -> None:
    login(page, platform)
    page.get_by_role("link", name="简体中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("部署")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    screenshot(page, "deployments-zh")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Deployments")


def test_serverless_overview_offers_sni_address_and_ca(page: Page, platform: Platform) -> None:
    login(page, platform)
    page.goto(f"{platform.console}/deployments/new")
    page.get_by_label("Deployment name").fill("browser-serverless")
    page.get_by_role("radio", name=re.compile("Serverless")).check()
    page.get_by_role("button", name="Create deployment").click()
    page.wait_for_url(re.compile(r".*/console/deployments/[a-z0-9]{8}$"))
    deployment_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#deployment-status")).to_have_text("running", timeout=30_000)
    expect(page.locator("#addr-mqtts")).to_have_text(re.compile(rf"^{deployment_id}\.[^:]+:\d+$"))
    expect(page.locator("#addr-mqtt")).to_have_count(0)
    expect(page.get_by_role("link", name="TLS certificate")).to_have_count(0)
    screenshot(page, "deployment-serverless")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CA certificate").click()
    download = download_info.value
    assert download.suggested_filename == "emqxsl-ca.crt"
    pem = Path(download.path()).read_text()
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    ca = (platform.serve.data_dir / "pki" / "ca.pem").read_text()
    assert pem.strip() == ca.strip()
