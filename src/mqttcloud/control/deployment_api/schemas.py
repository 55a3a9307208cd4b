"""Request bodies of the Deployment API (both shapes). Unknown fields are ignored, as EMQX does."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# ------------------------------------------------------------------ v5


class SubscribeIn(_In):
    topic: str = Field(min_length=1)
    qos: int = Field(default=0, ge=0, le=2)
    nl: int = Field(default=0, ge=0, le=1)
    rap: int = Field(default=0, ge=0, le=1)
    rh: int = Field(default=0, ge=0, le=2)


class TopicIn(_In):
    topic: str = Field(min_length=1)


class PublishIn(_In):
    topic: str = Field(min_length=1)
    payload: str = ""
    payload_encoding: Literal["plain", "base64"] = "plain"
    qos: int = Field(default=0, ge=0, le=2)
    retain: bool = False
    clientid: str | None = None
    properties: dict[str, Any] | None = None


class UserIn(_In):
    user_id: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1)
    is_superuser: bool = False


class UserUpdate(_In):
    password: str | None = Field(default=None, min_length=1)
    is_superuser: bool | None = None


class ImportUser(_In):
    user_id: str = Field(min_length=1, max_length=255)
    password: str | None = None
    password_hash: str | None = None
    salt: str = ""
    is_superuser: bool = False


class RuleIn(_In):
    topic: str = Field(min_length=1)
    action: str = "all"
    permission: str


class ClientRulesIn(_In):
    clientid: str = Field(min_length=1, max_length=255)
    rules: list[RuleIn]


class UserRulesIn(_In):
    username: str = Field(min_length=1, max_length=255)
    rules: list[RuleIn]


class AllRulesIn(_In):
    rules: list[RuleIn]


class BanIn(_In):
    as_: str = Field(alias="as")
    who: str = Field(min_length=1)
    by: str = "user"
    reason: str = ""
    at: int | float | str | None = None
    until: int | float | str | None = None


# ------------------------------------------------------------------ v4


class UsernameIn(_In):
    username: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1)


class ClientidIn(_In):
    clientid: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1)


class PasswordIn(_In):
    password: str = Field(min_length=1)


class AclIn(_In):
    clientid: str | None = None
    username: str | None = None
    topic: str = Field(min_length=1)
    action: str
    access: str


class MqttSubscribeIn(_In):
    clientid: str = Field(min_length=1)
    topic: str | None = None
    topics: str | None = None
    qos: int = Field(default=0, ge=0, le=2)


class MqttPublishIn(_In):
    topic: str | None = None
    topics: str | None = None
    clientid: str | None = None
    payload: str = ""
    encoding: Literal["plain", "base64"] = "plain"
    qos: int = Field(default=0, ge=0, le=2)
    retain: bool = False
