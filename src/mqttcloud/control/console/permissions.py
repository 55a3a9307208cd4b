"""Who may see or change what in the console (spec §1.9), for the rules no service checks itself.

Platform keys and sub-accounts are guarded by their services (`api_keys.service`, `accounts.service`
raise `Forbidden`), so the console calls them and shows their 403. Deployments have no account-aware
service (the Platform API is key-based), so the console applies the role properties of
`accounts.models.Role` here, in one place:

- visibility: roles that see all projects see every deployment; the others only their projects';
- create / start / stop / delete deployments: `Role.may_start_stop`;
- TLS, deployment API keys, users, ACL, bans, kick, publish: `Role.may_edit_deployments`;
- creating projects and listing accounts: managers (root, Administrator); the Auditor reads accounts;
- editing a project: managers, and Project Administrators for their own projects.
"""

from collections.abc import Collection

from mqttcloud.control.accounts.models import Account, Role
from mqttcloud.control.console.pages import PageError
from mqttcloud.control.deployments.models import Deployment


def visible_projects(account: Account) -> Collection[str] | None:
    """Project ids the account may see, or None for all."""
    return None if account.role.sees_all_projects else list(account.project_ids)


def can_see(account: Account, deployment: Deployment) -> bool:
    allowed = visible_projects(account)
    return allowed is None or deployment.project_id in allowed


def require_visible(account: Account, deployment: Deployment) -> None:
    """Raises: PageError 404 (an invisible deployment is reported like a missing one, as the API does)."""
    if not can_see(account, deployment):
        raise PageError(404, f"Deployment {deployment.id} not found")


def require_lifecycle(account: Account) -> None:
    if not account.role.may_start_stop:
        raise PageError(403, "Your role cannot create, start, stop or delete deployments")


def require_edit(account: Account) -> None:
    if not account.role.may_edit_deployments:
        raise PageError(403, "Your role can only view this deployment")


def may_manage(account: Account) -> bool:
    """Root and Administrators: platform keys, sub-accounts, projects (the key rule of spec §1.3)."""
    return account.role.may_manage_platform_keys


def may_edit_project(account: Account, project_id: str) -> bool:
    """Managers edit every project; a Project Administrator the projects assigned to it (spec §1.9)."""
    if may_manage(account):
        return True
    return account.role is Role.PROJECT_ADMINISTRATOR and project_id in account.project_ids


def may_read_accounts(account: Account) -> bool:
    return may_manage(account) or account.role is Role.AUDITOR
