"""Request models of publishing (both API shapes)."""

from typing import Any, Literal

from pydantic import Field

from mqttcloud.contracts import PublishArgs, TenantId
from mqttcloud.control.deployment_api.publish.service import message_args
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

    def args(self, tenant: TenantId) -> PublishArgs:
        """The admin `publish` request. Raises: BadRequest naming the field (`message_args`)."""
        return message_args(
            tenant,
            topic=self.topic,
            payload=self.payload,
            encoding=self.payload_encoding,
            qos=self.qos,
            retain=self.retain,
            clientid=self.clientid,
            properties=self.properties,
        )


class MqttPublishIn(In):
    """v4 `POST /mqtt/publish`: `topic`, or `topics` separated by commas."""

    topic: str | None = None
    topics: str | None = None
    clientid: str | None = None
    payload: str = ""
    encoding: Literal["plain", "base64"] = "plain"
    qos: int = Field(default=0, ge=0, le=2)
    retain: bool = False
