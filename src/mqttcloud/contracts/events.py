"""The admin op `events`: a tenant's client event history, taken by the control plane in batches.

The broker records what happens in its clients' lives (`runtime/events.py`) in one bounded buffer per
tenant; the control plane long-polls `events` and stores what it takes (`control/events/`). Rule: an
event the buffer had no room for is never silently lost: it is counted in the next batch's `shed`.
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

EVENT_BUFFER = 50_000  # client events a broker buffers per tenant between two takes, by default


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventKind(StrEnum):
    """EMQX's event names (`$events/...` rule sources, Event History types)."""

    CONNECTED = "client.connected"
    CONNACK = "client.connack"  # a refused CONNECT (authentication failed, banned, quota...)
    DISCONNECTED = "client.disconnected"
    TAKENOVER = "session.takenover"
    SUBSCRIBED = "session.subscribed"
    UNSUBSCRIBED = "session.unsubscribed"
    DROPPED = "message.dropped"


class ClientEvent(_Model):
    """One event; `detail` holds what only some kinds have (protocol, keep-alive, topic, qos, count...)."""

    at: float  # Unix seconds
    event: EventKind
    clientid: str
    username: str | None = None
    ip_address: str | None = None
    port: int | None = None
    reason_code: int | None = None  # the MQTT 5 reason code sent or received, when there was one
    reason: str | None = None  # EMQX's reason name: normal, kicked, takenover, keepalive_timeout...
    detail: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class EventsArgs(_Model):
    """Take up to `max_events` recorded events, waiting up to `wait` seconds while there are none."""

    tenant: str
    wait: float = Field(default=0.0, ge=0.0, le=30.0)
    max_events: int = Field(default=5000, ge=1, le=50_000)


class EventBatch(_Model):
    events: list[ClientEvent]
    shed: int  # events the buffer had no room for since the previous take
    recorded: int  # events recorded since the broker started (shed ones included)
