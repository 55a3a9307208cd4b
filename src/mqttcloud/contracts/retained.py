"""The admin ops on a tenant's retained messages: `list_retained`, `get_retained`, `delete_retained`.

They read and delete through the broker's one retained store (`broker/retained.py`), as EMQX's retainer
API does (`/mqtt/retainer/messages`, `/mqtt/retainer/message/{topic}`). Rule: `topic` is a topic name or
a topic filter; a filter lists, reads (the first match) or deletes every retained message it matches.
Expired messages are never returned.
"""

from pydantic import BaseModel, ConfigDict, Field

MAX_RETAINED_PAYLOAD = 1024 * 1024  # bytes: a larger payload is not returned by get_retained (as EMQX)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetainedListArgs(_Model):
    tenant: str
    topic: str | None = None  # a topic filter; None: every retained message
    page: int = Field(default=1, ge=1)
    limit: int = Field(default=100, ge=1, le=10000)


class RetainedArgs(_Model):
    """One topic name or filter: get_retained, delete_retained."""

    tenant: str
    topic: str = Field(min_length=1)


class RetainedSummary(_Model):
    """One retained message without its payload (EMQX's `message_summary`)."""

    msgid: str  # 32 hex digits
    topic: str
    qos: int
    publish_at: float  # Unix seconds, when the broker received it
    from_clientid: str | None  # None: published by the broker itself (HTTP API without clientid, $SYS)
    payload_size: int


class RetainedList(_Model):
    data: list[RetainedSummary]
    count: int
    page: int
    limit: int
    hasnext: bool


class RetainedMessage(_Model):
    """One retained message; `payload_b64` is None when the payload exceeds `MAX_RETAINED_PAYLOAD`."""

    message: RetainedSummary
    payload_b64: str | None


class RetainedDeleted(_Model):
    deleted: int  # messages removed (0: none matched)
