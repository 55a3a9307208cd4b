"""Request models of publishing (both API shapes)."""

from typing import Any, Literal

from pydantic import Field

from mqttcloud.control.deployment_api.schemas import In


class PublishIn(In):
    """v5 `POST /publish`."""

    topic: str = Field(min_length=1)
    payload: str = ""
    payload_encoding: Literal["plain", "base64"] = "plain"
    qos: int = Field(default=0, ge=0, le=2)
    retain: bool = False
    clientid: str | None = None
    properties: dict[str, Any] | None = None


class MqttPublishIn(In):
    """v4 `POST /mqtt/publish`: `topic`, or `topics` separated by commas."""

    topic: str | None = None
    topics: str | None = None
    clientid: str | None = None
    payload: str = ""
    encoding: Literal["plain", "base64"] = "plain"
    qos: int = Field(default=0, ge=0, le=2)
    retain: bool = False
