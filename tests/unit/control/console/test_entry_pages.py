"""Where a newcomer lands: the platform's root, `/login`, the favicon, the first steps with no deployment."""

from tests.unit.control.console.conftest import Console

from mqttcloud.control.accounts.models import Role


async def test_root_and_login_lead_to_the_console(console: Console) -> None:
    for path in ("/", "/login"):
        response = await console.get(path)
        assert response.status_code == 302, path
        assert response.headers["location"] == "/console/"
    entry = await console.get("/console/")
    assert entry.status_code == 303
    assert entry.headers["location"].startswith("/console/login?next=")


async def test_favicon_is_served_and_linked(root_console: Console) -> None:
    icon = await root_console.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
    page = await root_console.get("/console/deployments")
    assert '<link rel="icon" href="/console/static/favicon.svg"' in page.text
    assert (await root_console.get("/console/static/favicon.svg")).status_code == 200


async def test_root_without_deployments_is_told_the_first_steps(root_console: Console) -> None:
    page = await root_console.get("/console/deployments")
    assert 'id="first-steps"' in page.text
    assert 'href="/console/deployments/new">Create a deployment</a>' in page.text
    assert "add an MQTT user" in page.text
    assert "sub-accounts" in page.text


async def test_first_steps_tell_a_project_user_to_ask(console: Console) -> None:
    console.add_account("viewer", Role.PROJECT_USER, ("default",))
    assert (await console.login("viewer", "password-viewer")).status_code == 303
    page = await console.get("/console/deployments")
    assert 'id="first-steps"' in page.text
    assert "/console/deployments/new" not in page.text
    assert "ask an Administrator" in page.text
    assert "sub-accounts" not in page.text
