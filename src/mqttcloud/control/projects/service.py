"""Project use cases: list, create, rename and describe. Other domains check project existence through
`get_project`; a project's id never changes (keys and accounts name it)."""

import secrets
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from mqttcloud.control.errors import Invalid, NotFound
from mqttcloud.control.projects.models import (
    DEFAULT_PROJECT_DESCRIPTION,
    DEFAULT_PROJECT_ID,
    DEFAULT_PROJECT_NAME,
    Project,
)
from mqttcloud.control.projects.schemas import ProjectOut

MAX_DESCRIPTION = 500  # characters of a project's description


def to_schema(project: Project) -> ProjectOut:
    return ProjectOut(project_id=project.id, project_name=project.name, description=project.description)


def list_projects(session: Session, *, visible: Collection[str] | None = None) -> list[Project]:
    """All projects, or only those whose ids are in `visible` (a key's project scope)."""
    query = select(Project).order_by(Project.created_at, Project.id)
    if visible is not None:
        query = query.where(Project.id.in_(list(visible)))
    return list(session.scalars(query))


def get_project(session: Session, *, project_id: str) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"Project {project_id} not found", code="PROJECT_NOT_FOUND")
    return project


def ensure_default_project(session: Session) -> Project:
    project = session.get(Project, DEFAULT_PROJECT_ID)
    if project is None:
        project = Project(
            id=DEFAULT_PROJECT_ID, name=DEFAULT_PROJECT_NAME, description=DEFAULT_PROJECT_DESCRIPTION
        )
        session.add(project)
        session.commit()
    return project


def _checked(name: str, description: str) -> tuple[str, str]:
    """The name and description as stored (trimmed). Raises: Invalid naming the field at fault."""
    name, description = name.strip(), description.strip()
    if not 1 <= len(name) <= 64:
        raise Invalid("project name must be 1-64 characters", field="name")
    if len(description) > MAX_DESCRIPTION:
        raise Invalid(f"description must be at most {MAX_DESCRIPTION} characters", field="description")
    return name, description


def create_project(session: Session, *, name: str, description: str = "") -> Project:
    name, description = _checked(name, description)
    project = Project(id="p" + secrets.token_hex(4)[:7], name=name, description=description)
    session.add(project)
    session.commit()
    return project


def update_project(session: Session, *, project_id: str, name: str, description: str) -> Project:
    """Rename a project and replace its description (its id, used by keys and accounts, stays).

    Raises:
        NotFound: no such project (`PROJECT_NOT_FOUND`).
        Invalid: a name outside 1-64 characters (field `name`), a description too long (`description`).
    """
    project = get_project(session, project_id=project_id)
    project.name, project.description = _checked(name, description)
    session.commit()
    return project
