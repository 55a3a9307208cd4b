"""Deployment objects with the exact field names of spec §2.1.2 (camelCase, `createAt`, `deploymentID`).

`endpoints`, `projectID`, `statusReason` (why a `failed` deployment failed; null otherwise) and `nodes`
(how many broker processes run a Dedicated deployment, `MAX_NODES` at most) are extensions: EMQX clients
ignore unknown fields.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mqttcloud.control.deployments.models import DeploymentStatus, DeploymentType

MAX_NODES = 16  # nodes of one Dedicated deployment

Platform = Literal["aws", "gcp", "azure", "aliyun", "tencent", "huawei", "local"]

PLATFORM_DISPLAY_NAMES: dict[str, str] = {
    "aws": "AWS",
    "gcp": "Google Cloud",
    "azure": "Azure",
    "aliyun": "Alibaba Cloud",
    "tencent": "Tencent Cloud",
    "huawei": "Huawei Cloud",
    "local": "Self-hosted",
}


class DeploymentCreate(BaseModel):
    """The body EMQX's Terraform provider sends; everything but `projectID` is optional here."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    project_id: str = Field(alias="projectID", min_length=1, max_length=32)
    platform: Platform = "local"
    region: str = Field(default="local", min_length=1, max_length=64)
    connections: int = Field(default=1000, gt=0, le=10_000_000)
    tps: int = Field(default=1000, gt=0, le=10_000_000)
    deployment_name: str | None = Field(default=None, alias="deploymentName", min_length=1, max_length=64)
    deployment_type: DeploymentType = Field(default=DeploymentType.DEDICATED, alias="deploymentType")
    deployment_version: Literal["v5", "v6"] = Field(default="v5", alias="deploymentVersion")
    free_trial: bool = Field(default=False, alias="freeTrial")
    allow_anonymous: bool = Field(default=False, alias="allowAnonymous")  # extension
    nodes: int = Field(default=1, ge=1, le=MAX_NODES)  # extension: Dedicated only (1 for Serverless)


class DeploymentUpdate(BaseModel):
    """`PUT /deployments/{id}` (an extension: EMQX documents no update of a deployment): a new name
    (`deploymentName`, as in the create body) and/or `nodes`; a field left out keeps its value."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    deployment_name: str | None = Field(default=None, alias="deploymentName", min_length=1, max_length=64)
    nodes: int | None = Field(default=None, ge=1, le=MAX_NODES)

    @model_validator(mode="after")
    def _something_to_change(self) -> "DeploymentUpdate":
        if self.deployment_name is None and self.nodes is None:
            raise ValueError("give deploymentName, nodes or both")
        return self


class Endpoints(BaseModel):
    """Where each listener of the deployment accepts MQTT clients ("host:port"); null while closed."""

    mqtt: str | None = None
    ws: str | None = None
    mqtts: str | None = None
    wss: str | None = None


class DeploymentOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    connections: int
    tps: int
    create_at: str = Field(alias="createAt", description="UTC, YYYY-MM-DD HH:MM")
    deployment_id: str = Field(alias="deploymentID")
    deployment_name: str = Field(alias="deploymentName")
    deployment_type: DeploymentType = Field(alias="deploymentType")
    platform: str
    region: str
    status: DeploymentStatus
    status_reason: str | None = Field(default=None, alias="statusReason")
    project_id: str = Field(alias="projectID")
    project_name: str = Field(alias="projectName")
    version: str
    endpoints: Endpoints
    nodes: int


class DeploymentOperation(BaseModel):
    """Answer of start/stop: exactly these three fields (spec §4 item 8)."""

    model_config = ConfigDict(populate_by_name=True)

    deployment_id: str = Field(alias="deploymentID")
    deployment_name: str = Field(alias="deploymentName")
    operation: Literal["starting", "stopping"]
