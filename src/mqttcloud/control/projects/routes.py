"""`GET /public_api/v1/projects` (spec §2.1.3): a bare JSON array of the projects the key may see."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends

from mqttcloud.control.api_keys.models import Scope
from mqttcloud.control.auth import Principal, platform_access
from mqttcloud.control.db import SessionDep
from mqttcloud.control.errors import error_responses
from mqttcloud.control.projects import service
from mqttcloud.control.projects.schemas import ProjectOut

router = APIRouter(tags=["projects"])

ProjectsKey = Annotated[Principal, Depends(platform_access(Scope.PROJECTS, "projects.list"))]


@router.get("/projects", responses=error_responses(401, 403, 429, 500))
async def list_projects(principal: ProjectsKey, session: SessionDep) -> list[ProjectOut]:
    """List projects (limit 60/60 min with the `emqx` rate-limit profile)."""
    rows = await asyncio.to_thread(service.list_projects, session, visible=principal.visible_projects)
    return [service.to_schema(row) for row in rows]
