"""The data sources a rule can select from and the columns each one carries (EMQX's names).

Rule: `MESSAGE_FIELDS` are the columns of a published message (FROM a topic filter); each
`$events/<name>` source has exactly the columns listed in `EVENT_FIELDS`. The runtime fills
the columns under these names; a column that does not exist evaluates to undefined.
"""

from typing import Final

EVENT_PREFIX: Final = "$events/"

MESSAGE_FIELDS: Final = (
    "id",  # message id (hex string)
    "clientid",  # publisher
    "username",
    "payload",  # the raw payload; `payload.x` decodes it as JSON
    "peerhost",  # publisher IP address
    "topic",
    "qos",
    "flags",  # {"retain": bool, "dup": bool}
    "headers",  # broker-internal processing data
    "pub_props",  # PUBLISH properties (MQTT 5.0), e.g. {"User-Property": {...}}
    "timestamp",  # ms, when the rule was triggered
    "publish_received_at",  # ms, when the PUBLISH reached the broker
    "node",  # broker node name
)

_DELIVERY: Final = (
    "id",
    "from_clientid",  # publisher
    "from_username",
    "clientid",  # receiver
    "username",
    "payload",
    "peerhost",
    "topic",
    "qos",
    "flags",
    "pub_props",
    "timestamp",
    "publish_received_at",
    "node",
)

EVENT_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "client_connected": (
        "clientid",
        "username",
        "mountpoint",
        "peername",  # "ip:port" of the client
        "sockname",  # "ip:port" of the listener
        "proto_name",  # "MQTT"
        "proto_ver",  # 3, 4 or 5
        "keepalive",
        "clean_start",
        "expiry_interval",
        "is_bridge",
        "connected_at",  # ms
        "conn_props",  # CONNECT properties (MQTT 5.0)
        "timestamp",
        "node",
    ),
    "client_disconnected": (
        "reason",  # normal, kicked, keepalive_timeout, not_authorized, tcp_closed, ...
        "clientid",
        "username",
        "peername",
        "sockname",
        "disconnected_at",  # ms
        "disconn_props",  # DISCONNECT properties (MQTT 5.0)
        "timestamp",
        "node",
    ),
    "session_subscribed": (
        "clientid",
        "username",
        "peerhost",
        "topic",  # the filter subscribed to
        "qos",
        "sub_props",  # SUBSCRIBE properties (MQTT 5.0)
        "timestamp",
        "node",
    ),
    "session_unsubscribed": (
        "clientid",
        "username",
        "peerhost",
        "topic",
        "qos",
        "unsub_props",  # UNSUBSCRIBE properties (MQTT 5.0)
        "timestamp",
        "node",
    ),
    "message_delivered": _DELIVERY,
    "message_acked": (*_DELIVERY, "puback_props"),  # QoS 1 and 2 only
    "message_dropped": (
        "id",
        "reason",  # no_subscribers, ...
        "clientid",  # publisher
        "username",
        "payload",
        "peerhost",
        "topic",
        "qos",
        "flags",
        "pub_props",
        "timestamp",
        "publish_received_at",
        "node",
    ),
}


def event_name(source: str) -> str | None:
    """`"$events/client_connected"` → `"client_connected"`; None for a topic filter."""
    return source[len(EVENT_PREFIX) :] if source.startswith(EVENT_PREFIX) else None


def source_fields(source: str) -> tuple[str, ...]:
    """The columns a FROM source provides (the message columns for a topic filter)."""
    name = event_name(source)
    return MESSAGE_FIELDS if name is None else EVENT_FIELDS[name]
