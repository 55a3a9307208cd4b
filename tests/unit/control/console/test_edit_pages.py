"""Editing in the console: a deployment's name, a project's name and description, a sub-account's role,
projects and password; refusals shown next to their field with the input kept; who may do what."""

import re

from sqlalchemy import select
from tests.unit.control.conftest import ROOT_PASSWORD
from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment

from mqttcloud.control.accounts.models import Account, ConsoleSession, Role
from mqttcloud.control.audit.log import AuditLog
from mqttcloud.control.audit.models import AuditEntry


async def audited(console: Console, route: str) -> list[AuditEntry]:
    """The audit entries of console POSTs to `route` (a route template)."""
    log: AuditLog = console.app.state.audit_log
    await log.flush()
    with console.database.read_session() as session:
        action = AuditEntry.action == f"POST {route}"
        return list(session.scalars(select(AuditEntry).where(action)))


async def test_deployment_is_renamed_and_a_blank_name_keeps_the_input(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    base = f"/console/deployments/{deployment_id}"
    assert f'href="{base}/rename"' in (await root_console.get(base)).text
    renamed = await root_console.submit(base + "/rename", base + "/rename", {"name": "  Line 3 sensors "})
    assert renamed.status_code == 303
    assert 'id="deployment-name-shown">Line 3 sensors<' in (await root_console.get(base)).text
    long_name = "x" * 65
    refused = await root_console.submit(base + "/rename", base + "/rename", {"name": long_name})
    assert refused.status_code == 422
    assert 'id="name-error"' in refused.text
    assert f'value="{long_name}"' in refused.text
    blank = await root_console.submit(base + "/rename", base + "/rename", {"name": "   "})
    assert blank.status_code == 422
    assert 'id="name-error"' in blank.text
    assert 'id="deployment-name-shown">Line 3 sensors<' in (await root_console.get(base)).text
    assert await audited(root_console, "/console/deployments/{deployment_id}/rename")


async def test_auditor_cannot_rename(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    root_console.add_account("audrey", Role.AUDITOR)
    await root_console.client.post("/console/logout")
    root_console.client.cookies.clear()
    assert (await root_console.login("audrey", "password-audrey")).status_code == 303
    base = f"/console/deployments/{deployment_id}"
    assert 'id="rename-link"' not in (await root_console.get(base)).text
    assert (await root_console.get(base + "/rename")).status_code == 403


async def test_project_is_edited_and_errors_name_their_field(root_console: Console) -> None:
    edit = "/console/projects/default/edit"
    assert 'href="/console/projects/default/edit"' in (await root_console.get("/console/projects")).text
    saved = await root_console.submit(edit, edit, {"name": "Plant A", "description": "Press line"})
    assert saved.status_code == 303
    listed = (await root_console.get("/console/projects")).text
    assert "Plant A" in listed
    assert "Press line" in listed
    too_long = await root_console.submit(edit, edit, {"name": "Plant B", "description": "d" * 501})
    assert too_long.status_code == 422
    assert 'id="description-error"' in too_long.text
    assert 'value="Plant B"' in too_long.text
    empty = await root_console.submit(edit, edit, {"name": "", "description": "kept"})
    assert empty.status_code == 422
    assert 'id="name-error"' in empty.text
    assert 'value="kept"' in empty.text
    assert (await root_console.get("/console/projects/nope/edit")).status_code == 404


async def test_project_administrator_edits_only_its_projects(root_console: Console) -> None:
    root_console.add_account("padma", Role.PROJECT_ADMINISTRATOR, ("default",))
    root_console.client.cookies.clear()
    assert (await root_console.login("padma", "password-padma")).status_code == 303
    edit = "/console/projects/default/edit"
    assert (await root_console.submit(edit, edit, {"name": "Mine", "description": ""})).status_code == 303
    root_console.client.cookies.clear()
    await root_console.login("root", ROOT_PASSWORD)
    other = await root_console.submit("/console/projects", "/console/projects", {"name": "Other"})
    assert other.status_code == 303
    other_id = re.findall(r'data-project="(p[0-9a-f]+)"', (await root_console.get("/console/projects")).text)
    root_console.client.cookies.clear()
    await root_console.login("padma", "password-padma")
    assert other_id
    assert (await root_console.get(f"/console/projects/{other_id[0]}/edit")).status_code == 403


async def test_role_and_projects_change_and_the_account_acts_with_them(root_console: Console) -> None:
    erin = root_console.add_account("erin", Role.AUDITOR)
    edit = f"/console/accounts/{erin.id}/edit"
    assert f'href="{edit}"' in (await root_console.get("/console/accounts")).text
    changed = await root_console.submit(edit, edit, {"role": "project_user", "projects": ["default"]})
    assert changed.status_code == 303
    with root_console.database.session() as session:
        row = session.get(Account, erin.id)
        assert row is not None
        assert (row.role, row.project_ids) == (Role.PROJECT_USER, ["default"])
    bad = await root_console.submit(edit, edit, {"role": "root"})
    assert bad.status_code == 422
    assert 'id="role-error"' in bad.text
    assert await audited(root_console, "/console/accounts/{account_id}/edit")


async def test_last_administrator_and_own_role_are_kept(root_console: Console) -> None:
    ada = root_console.add_account("ada", Role.ADMINISTRATOR)
    edit = f"/console/accounts/{ada.id}/edit"
    refused = await root_console.submit(edit, edit, {"role": "auditor"})
    assert refused.status_code == 422
    assert "the last Administrator keeps its role" in refused.text
    assert 'id="role-error"' in refused.text
    assert '<option value="auditor" selected>' in refused.text  # the choice is kept
    bea = root_console.add_account("bea", Role.ADMINISTRATOR)
    root_console.client.cookies.clear()
    assert (await root_console.login("ada", "password-ada")).status_code == 303
    own = await root_console.submit(edit, edit, {"role": "auditor"})
    assert own.status_code == 422
    assert "you cannot change your own role" in own.text
    demoted = await root_console.submit(
        f"/console/accounts/{bea.id}/edit", f"/console/accounts/{bea.id}/edit", {"role": "auditor"}
    )
    assert demoted.status_code == 303  # another Administrator (ada) remains
    with root_console.database.session() as session:
        root_id = session.scalar(select(Account.id).where(Account.role == Role.ROOT))
    assert (await root_console.get(f"/console/accounts/{root_id}/edit")).status_code == 403


async def test_password_reset_signs_the_account_out_and_the_new_one_works(root_console: Console) -> None:
    fay = root_console.add_account("fay", Role.PROJECT_USER, ("default",))
    edit = f"/console/accounts/{fay.id}/edit"
    action = f"/console/accounts/{fay.id}/password"
    differ = await root_console.submit(
        edit, action, {"password": "new-password-1", "confirm_password": "new-password-2"}
    )
    assert differ.status_code == 422
    assert 'id="confirm_password-error"' in differ.text
    short = await root_console.submit(edit, action, {"password": "short", "confirm_password": "short"})
    assert short.status_code == 422
    assert 'id="password-error"' in short.text
    with root_console.database.session() as session:
        session.add(ConsoleSession(id="f" * 64, account_id=fay.id, expires_at=fay.created_at))
        session.commit()
    done = await root_console.submit(
        edit, action, {"password": "fay-new-password", "confirm_password": "fay-new-password"}
    )
    assert done.status_code == 200
    assert "was reset" in done.text
    assert "fay-new-password" not in done.text
    with root_console.database.session() as session:
        assert session.scalars(select(ConsoleSession).where(ConsoleSession.account_id == fay.id)).all() == []
    root_console.client.cookies.clear()
    assert (await root_console.login("fay", "password-fay")).status_code == 401  # the old one
    assert (await root_console.login("fay", "fay-new-password")).status_code == 303


async def test_project_user_cannot_edit_accounts(root_console: Console) -> None:
    gil = root_console.add_account("gil", Role.PROJECT_USER, ("default",))
    root_console.client.cookies.clear()
    await root_console.login("gil", "password-gil")
    assert (await root_console.get(f"/console/accounts/{gil.id}/edit")).status_code == 403
