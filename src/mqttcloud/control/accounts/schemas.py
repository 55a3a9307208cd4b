"""Account objects as the console and tooling see them (never the password hash)."""

import datetime as dt

from pydantic import BaseModel, ConfigDict

from mqttcloud.control.accounts.models import Role


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: Role
    project_ids: list[str]
    created_at: dt.datetime
