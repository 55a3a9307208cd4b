"""Platform API key pages: secret shown once, the key works on the Platform API, role rules, edit, delete."""

import re

from tests.unit.control.console.conftest import Console

from mqttcloud.control.accounts.models import Role

ALL = {"scopes": ["tls", "deployments", "projects"], "projects": ["*"]}


async def create_key(console: Console, description: str = "ci key") -> tuple[str, str]:
    response = await console.submit(
        "/console/api-keys", "/console/api-keys", {"description": description, **ALL}
    )
    assert response.status_code == 303
    page = await console.get("/console/api-keys")
    key = re.search(r'id="new-key">([^<]+)<', page.text)
    secret = re.search(r'id="new-secret">([^<]+)<', page.text)
    assert key is not None
    assert secret is not None
    return key.group(1), secret.group(1)


async def test_secret_is_shown_once_and_the_key_works(root_console: Console) -> None:
    key, secret = await create_key(root_console)
    again = await root_console.get("/console/api-keys")
    assert secret not in again.text
    assert key in again.text
    assert "ci key" in again.text
    api = await root_console.client.get("/public_api/v1/projects", auth=(key, secret))
    assert api.status_code == 200
    assert api.json()[0]["projectID"] == "default"


async def test_key_without_scope_shows_the_error_next_to_the_scope_field(root_console: Console) -> None:
    response = await root_console.submit(
        "/console/api-keys", "/console/api-keys", {"description": "x", "projects": ["*"]}
    )
    assert response.status_code == 422
    assert 'id="scopes-error"' in response.text
    assert "at least one functionality scope" in response.text


async def test_project_user_gets_403_page(console: Console) -> None:
    console.add_account("pu", Role.PROJECT_USER, ("default",))
    assert (await console.login("pu", "password-pu")).status_code == 303
    response = await console.get("/console/api-keys")
    assert response.status_code == 403
    assert "only the root account or an Administrator" in response.text
    assert "/console/api-keys" not in (await console.get("/console/projects")).text


async def test_administrator_manages_keys(console: Console) -> None:
    console.add_account("admin", Role.ADMINISTRATOR)
    await console.login("admin", "password-admin")
    key, _secret = await create_key(console, "by admin")
    assert key in (await console.get("/console/api-keys")).text


async def test_edit_changes_description_and_scopes(root_console: Console) -> None:
    key, secret = await create_key(root_console)
    listing = await root_console.get("/console/api-keys")
    match = re.search(r'href="/console/api-keys/(\d+)/edit"', listing.text)
    assert match is not None
    edit = f"/console/api-keys/{match.group(1)}/edit"
    response = await root_console.submit(
        edit, edit, {"description": "renamed", "scopes": ["tls"], "projects": ["*"]}
    )
    assert response.status_code == 303
    assert "renamed" in (await root_console.get("/console/api-keys")).text
    api = await root_console.client.get("/public_api/v1/projects", auth=(key, secret))
    assert api.status_code == 403


async def test_delete_asks_then_revokes(root_console: Console) -> None:
    key, secret = await create_key(root_console)
    listing = await root_console.get("/console/api-keys")
    match = re.search(r'href="/console/api-keys/(\d+)/delete"', listing.text)
    assert match is not None
    path = f"/console/api-keys/{match.group(1)}/delete"
    confirm = await root_console.get(path)
    assert key in confirm.text
    response = await root_console.submit(path, path, {})
    assert response.status_code == 303
    assert key not in (await root_console.get("/console/api-keys")).text
    assert (await root_console.client.get("/public_api/v1/projects", auth=(key, secret))).status_code == 401
