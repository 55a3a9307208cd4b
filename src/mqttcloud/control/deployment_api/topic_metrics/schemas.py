"""Request bodies of `/mqtt/topic_metrics`, in EMQX's field names."""

from typing import Literal

from pydantic import Field

from mqttcloud.control.deployment_api.schemas import In


class TopicIn(In):
    """POST: register a topic."""

    topic: str = Field(max_length=65535)


class ResetIn(In):
    """PUT: reset one topic's metrics, or every topic's when `topic` is left out."""

    action: Literal["reset"]
    topic: str | None = Field(default=None, max_length=65535)
