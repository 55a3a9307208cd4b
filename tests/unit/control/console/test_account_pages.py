"""Sub-account and project pages: create with roles, errors next to fields, delete."""

import re

from tests.unit.control.console.conftest import Console


async def test_root_adds_a_project_user_who_can_sign_in(root_console: Console) -> None:
    response = await root_console.submit(
        "/console/accounts",
        "/console/accounts",
        {"username": "alice", "password": "alice-password", "role": "project_user", "projects": ["default"]},
    )
    assert response.status_code == 303
    page = await root_console.get("/console/accounts")
    assert "alice" in page.text
    assert "Project User" in page.text
    await root_console.submit("/console/projects", "/console/logout", {})
    assert (await root_console.login("alice", "alice-password")).status_code == 303


async def test_short_password_error_is_next_to_the_password(root_console: Console) -> None:
    response = await root_console.submit(
        "/console/accounts", "/console/accounts", {"username": "bob", "password": "short", "role": "auditor"}
    )
    assert response.status_code == 422
    assert 'id="password-error"' in response.text
    assert "at least 8 characters" in response.text


async def test_duplicate_user_name_error_is_next_to_the_user_name(root_console: Console) -> None:
    data = {"username": "carol", "password": "carol-password", "role": "auditor"}
    await root_console.submit("/console/accounts", "/console/accounts", data)
    response = await root_console.submit("/console/accounts", "/console/accounts", data)
    assert response.status_code == 422
    assert 'id="username-error"' in response.text


async def test_delete_sub_account(root_console: Console) -> None:
    await root_console.submit(
        "/console/accounts",
        "/console/accounts",
        {"username": "dave", "password": "dave-password", "role": "auditor"},
    )
    page = await root_console.get("/console/accounts")
    match = re.search(r'href="(/console/accounts/\d+/delete)"', page.text)
    assert match is not None
    response = await root_console.submit(match.group(1), match.group(1), {})
    assert response.status_code == 303
    assert "dave" not in (await root_console.get("/console/accounts")).text


async def test_deleting_the_last_administrator_is_refused_with_its_reason(root_console: Console) -> None:
    await root_console.submit(
        "/console/accounts",
        "/console/accounts",
        {"username": "erin", "password": "erin-password", "role": "administrator"},
    )
    page = await root_console.get("/console/accounts")
    match = re.search(r'href="(/console/accounts/\d+/delete)"', page.text)
    assert match is not None
    response = await root_console.submit(match.group(1), match.group(1), {})
    assert response.status_code == 409
    assert "the last Administrator cannot be deleted" in response.text
    assert "erin" in (await root_console.get("/console/accounts")).text


async def test_create_project_and_empty_name_error(root_console: Console) -> None:
    ok = await root_console.submit("/console/projects", "/console/projects", {"name": "Factory A"})
    assert ok.status_code == 303
    assert "Factory A" in (await root_console.get("/console/projects")).text
    bad = await root_console.submit("/console/projects", "/console/projects", {"name": ""})
    assert bad.status_code == 422
    assert 'id="name-error"' in bad.text
