"""Project objects exactly as spec §2.1.3 names their fields."""

from pydantic import BaseModel, ConfigDict, Field


class ProjectOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    project_id: str = Field(alias="projectID")
    project_name: str = Field(alias="projectName")
    description: str
