"""Editing where a new operator expects it, in a real browser against a real platform: rename a
deployment (the Platform API shows the new name), edit a project, change a sub-account's role (it then
sees only its project) and reset its password (the old one stops working, the new one signs in); a
refused change keeps the input next to its error, and every change is in the audit log."""

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import Platform, login, screenshot
from tests.integration.control.harness import poll

pytestmark = pytest.mark.browser


def test_rename_deployment_edit_project_change_role_and_reset_password(
    page: Page, platform: Platform
) -> None:
    key = platform.serve.create_key()
    with platform.api() as api:
        created = api.post(
            "/deployments", auth=key, json={"projectID": "default", "deploymentName": "before"}
        )
        assert created.status_code == 201, created.text
        deployment_id = created.json()["deploymentID"]
    login(page, platform)

    page.goto(f"{platform.console}/deployments/{deployment_id}")
    page.locator("#rename-link").click()
    page.locator("#deployment-name").fill("   ")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#name-error")).to_contain_text("1 to 64 characters")
    page.locator("#deployment-name").fill("Press line 3")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#deployment-name-shown")).to_have_text("Press line 3")
    with platform.api() as api:
        shown = api.get(f"/deployments/{deployment_id}", auth=key).json()
    assert shown["deploymentName"] == "Press line 3"

    page.goto(f"{platform.console}/projects")
    page.locator("tr[data-project='default']").get_by_role("link", name="Edit").click()
    page.locator("#project-name").fill("")
    page.locator("#project-description").fill("Presses and robots")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#name-error")).to_be_visible()
    expect(page.locator("#project-description")).to_have_value("Presses and robots")
    page.locator("#project-name").fill("Plant A")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("tr[data-project='default']")).to_contain_text("Plant A")
    expect(page.locator("tr[data-project='default']")).to_contain_text("Presses and robots")

    page.goto(f"{platform.console}/accounts")
    page.get_by_label("User name").fill("erin")
    page.locator("#password").fill("erin-first-password")
    page.get_by_label("Role").select_option("auditor")
    page.get_by_role("button", name="Add account").click()
    page.locator("tr[data-account='erin']").get_by_role("link", name="Edit").click()
    page.locator("#role").select_option("project_user")
    page.get_by_label("Plant A").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("tr[data-account='erin']")).to_contain_text("Project User")
    page.locator("tr[data-account='erin']").get_by_role("link", name="Edit").click()
    page.locator("#reset-password").fill("erin-second-password")
    page.locator("#reset-confirm").fill("erin-other-password")
    page.get_by_role("button", name="Reset password").click()
    expect(page.locator("#confirm_password-error")).to_be_visible()
    page.locator("#reset-password").fill("erin-second-password")
    page.locator("#reset-confirm").fill("erin-second-password")
    page.get_by_role("button", name="Reset password").click()
    expect(page.locator("p.notice")).to_contain_text("was reset")
    screenshot(page, "account-edit")

    actions = ("/rename", "/projects/{project_id}/edit", "/accounts/{account_id}/edit", "/password")

    def all_audited() -> bool | None:  # the audit log is written in batches: reload until they are in
        page.goto(f"{platform.console}/audit")
        text = page.locator("main").inner_text()
        return all(action in text for action in actions) or None

    poll(all_audited, within=20.0, what="the edits in the audit log")

    page.context.clear_cookies()
    page.goto(f"{platform.console}/login")
    page.get_by_label("User name").fill("erin")
    page.get_by_label("Password").fill("erin-first-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("main")).to_contain_text("Wrong user name or password.")
    login(page, platform, "erin", "erin-second-password")
    expect(page.locator("main")).to_contain_text("Press line 3")  # a Project User of Plant A sees it
    page.goto(f"{platform.console}/deployments/{deployment_id}")
    expect(page.locator("#rename-link")).to_be_visible()  # Project Users may rename (spec §1.9)
