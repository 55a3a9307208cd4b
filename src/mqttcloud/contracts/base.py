"""What every contract module shares: the id types and the strict, frozen model they build on."""

from typing import NewType

from pydantic import BaseModel, ConfigDict

DeploymentId = NewType("DeploymentId", str)
TenantId = NewType("TenantId", str)

ADMIN_PROTOCOL_VERSION = 1


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
