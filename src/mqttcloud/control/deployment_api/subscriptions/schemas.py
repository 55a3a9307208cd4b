"""Request models of subscribing on a client's behalf (both API shapes)."""

from pydantic import Field

from mqttcloud.control.deployment_api.schemas import In


class SubscribeIn(In):
    """v5 `POST /clients/{clientid}/subscribe`."""

    topic: str = Field(min_length=1)
    qos: int = Field(default=0, ge=0, le=2)
    nl: int = Field(default=0, ge=0, le=1)
    rap: int = Field(default=0, ge=0, le=1)
    rh: int = Field(default=0, ge=0, le=2)


class TopicIn(In):
    """v5 `POST /clients/{clientid}/unsubscribe`."""

    topic: str = Field(min_length=1)


class MqttSubscribeIn(In):
    """v4 `POST /mqtt/subscribe` and `/mqtt/unsubscribe`: `topic`, or `topics` separated by commas."""

    clientid: str = Field(min_length=1)
    topic: str | None = None
    topics: str | None = None
    qos: int = Field(default=0, ge=0, le=2)
