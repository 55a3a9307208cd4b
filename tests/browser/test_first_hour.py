"""A new operator's first hour in a real browser against a real platform: the platform's address leads to
the console, the overview's mosquitto commands work as copied, and a failed deployment says why."""

import os
import re
import socket
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, login, screenshot, wait_status
from tests.integration.control.harness import poll

pytestmark = pytest.mark.browser


@pytest.fixture
def deployment(platform: Platform, key: tuple[str, str]) -> Iterator[str]:
    with platform.api() as api:
        created = api.post("/deployments", auth=key, json={"projectID": "default", "deploymentName": "first"})
        assert created.status_code == 201, created.text
        deployment_id: str = created.json()["deploymentID"]
    wait_status(platform, key, deployment_id, "running", within=60.0)
    yield deployment_id
    with platform.api() as api:
        api.delete(f"/deployments/{deployment_id}", auth=key)


def shell(command: str, user: str, password: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MQTT_USER": user, "MQTT_PASSWORD": password}
    return subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_platform_address_leads_to_the_sign_in_and_has_a_favicon(page: Page, platform: Platform) -> None:
    page.goto(platform.serve.base_url + "/")
    page.wait_for_url(re.compile(r".*/console/login\?next=.*"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    icon = page.request.get(platform.serve.base_url + "/favicon.ico")
    assert icon.status == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    login(page, platform)
    expect(page.locator("#first-steps")).to_contain_text("Create a deployment")
    screenshot(page, "first-steps")


def test_overview_mosquitto_commands_work_as_copied(page: Page, platform: Platform, deployment: str) -> None:
    login(page, platform)
    overview = f"{platform.console}/deployments/{deployment}"
    page.goto(overview)
    expect(page.locator("#no-user-warning")).to_contain_text("Create an MQTT user first")
    subscribe = page.locator("#cmd-mosquitto-sub").inner_text()
    publish = page.locator("#cmd-mosquitto-pub").inner_text()
    assert subscribe.startswith("mosquitto_sub -h 127.0.0.1 -p ")

    refused = shell(publish, "nobody", "nothing")
    assert refused.returncode != 0
    assert "not authori" in (refused.stdout + refused.stderr).lower()  # what the warning explains

    page.goto(f"{overview}/users")
    page.get_by_label("User name or client ID").fill("first-user")
    page.locator("#user_password").fill("first-password")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("tr[data-user='first-user']")).to_be_visible()
    page.goto(overview)
    expect(page.locator("#no-user-warning")).to_have_count(0)
    screenshot(page, "getting-started")

    env = {**os.environ, "MQTT_USER": "first-user", "MQTT_PASSWORD": "first-password"}
    # -C 1 -W 30: the copied command, made to exit after one message (or fail after 30 s)
    subscriber = subprocess.Popen(
        ["bash", "-c", subscribe + " -C 1 -W 30"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def delivered() -> bool:
            sent = shell(publish, "first-user", "first-password")
            assert sent.returncode == 0, sent.stderr
            try:
                subscriber.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                return False  # the subscription was not in place yet: publish again
            return True

        poll(delivered, within=30.0, what="mosquitto_sub to receive what mosquitto_pub sent")
        out, err = subscriber.communicate(timeout=5)
        assert subscriber.returncode == 0, err
        assert out.strip() == "test/hello Hello from mosquitto"
    finally:
        subscriber.kill()
        subscriber.wait()


def test_failed_deployment_shows_why(
    page: Page, platform: Platform, key: tuple[str, str], deployment: str
) -> None:
    """Its port is taken while it is stopped: the broker cannot bind, fails, and the open overview says so."""
    with platform.api() as api:
        port = int(
            api.get(f"/deployments/{deployment}", auth=key).json()["endpoints"]["mqtt"].rsplit(":", 1)[1]
        )
        assert api.post(f"/deployments/{deployment}/stop", auth=key).status_code == 201
        wait_status(platform, key, deployment, "stopped", within=60.0)
        with socket.socket() as squatter:
            # as the broker binds: an earlier test's connections may hold the (reused) port in TIME_WAIT
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            login(page, platform)
            page.goto(f"{platform.console}/deployments/{deployment}")
            expect(page.locator("#status-message")).to_be_hidden()
            assert api.post(f"/deployments/{deployment}/start", auth=key).status_code == 201
            body = wait_status(platform, key, deployment, "failed", within=60.0)
            assert "address already in use" in body["statusReason"].lower(), body
            message = page.locator("#status-message")
            expect(message).to_be_visible(timeout=30_000)  # the overview's poll, no reload
            expect(message).to_contain_text(re.compile("address already in use", re.IGNORECASE))
            screenshot(page, "deployment-failed")
