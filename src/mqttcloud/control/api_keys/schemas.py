"""Platform key objects for the console and the CLI. The secret appears only in `ApiKeyCreated`."""

import datetime as dt

from pydantic import BaseModel, ConfigDict

from mqttcloud.control.api_keys.models import Scope


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    description: str
    scopes: list[Scope]
    project_ids: list[str]
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class ApiKeyCreated(BaseModel):
    """What `mqttcloud apikey create` prints: shown once, the secret is not stored in clear."""

    key: str
    secret: str
