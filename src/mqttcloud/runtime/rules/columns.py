"""The columns a rule reads: one published message or one client event, under EMQX's names.

Builders here turn core objects (`Message`, `Channel`, `Subscription`) into the dicts that
`Rule.evaluate` takes, with exactly the names of `rulesql.events` (`MESSAGE_FIELDS`, `EVENT_FIELDS`).

Rules: a builder runs only when some rule is about to read its result (the engine checks first), and
it reads core objects without changing them. Why a client went is named by `runtime/events.py`
(`disconnect_reason`), the one owner of that mapping, so a rule and the event history agree. Times are
EMQX's: milliseconds since the epoch. A message's columns are built all at once for `SELECT *` (one
dict literal) and one by one for rules that name what they read (`message_reader`): most rules read
two or three of the fourteen.
"""

from collections.abc import Callable, Collection

from mqttcloud.broker.channel import Channel
from mqttcloud.broker.core import Broker
from mqttcloud.broker.message import Message
from mqttcloud.broker.subscriptions import Subscription
from mqttcloud.protocol.properties import Properties
from mqttcloud.runtime.events import disconnect_reason

Columns = dict[str, object]


def payload_column(payload: bytes) -> str | bytes:
    """The payload as text when it is UTF-8 (what EMQX shows), else the raw bytes."""
    try:
        return payload.decode()
    except UnicodeDecodeError:
        return payload


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def message_properties(msg: Message) -> dict[str, object]:
    """`pub_props`: the MQTT 5 PUBLISH properties, EMQX's names."""
    props: dict[str, object] = {}
    if msg.user_properties:
        props["User-Property"] = dict(msg.user_properties)
        props["User-Property-Pairs"] = [{"key": k, "value": v} for k, v in msg.user_properties]
    if msg.payload_format_indicator is not None:
        props["Payload-Format-Indicator"] = msg.payload_format_indicator
    if msg.content_type is not None:
        props["Content-Type"] = msg.content_type
    if msg.response_topic is not None:
        props["Response-Topic"] = msg.response_topic
    if msg.correlation_data is not None:
        props["Correlation-Data"] = payload_column(msg.correlation_data)
    if msg.expires_at is not None:
        props["Message-Expiry-Interval"] = max(0, round(msg.expires_at - msg.timestamp))
    return props


def _publisher(broker: Broker, clientid: str | None) -> Channel | None:
    """The publisher's current (or last) channel, for its username and address."""
    if clientid is None:
        return None
    session = broker.sessions.get(clientid)
    chid = session.connected_channel if session is not None else None
    ch = broker.channels.get(chid) if chid is not None else None
    return ch if ch is not None else broker.last_channel.get(clientid)


def message_columns(broker: Broker, msg: Message, now: float) -> Columns:
    """A published message (FROM a topic filter)."""
    ch = _publisher(broker, msg.publisher)
    return {
        "event": "message.publish",
        "id": msg.id_hex,
        "clientid": msg.publisher or "",
        "username": ch.username if ch is not None else None,
        "payload": payload_column(msg.payload),
        "peerhost": ch.peer.ip_address if ch is not None else None,
        "topic": msg.topic,
        "qos": msg.qos,
        "flags": {"retain": msg.retain, "dup": False},
        "headers": {"proto_ver": ch.version} if ch is not None else {},
        "pub_props": message_properties(msg),
        "timestamp": _ms(now),
        "publish_received_at": _ms(msg.timestamp),
        "node": broker.node_name,
    }


def _username(broker: Broker, msg: Message) -> str | None:
    ch = _publisher(broker, msg.publisher)
    return ch.username if ch is not None else None


def _peerhost(broker: Broker, msg: Message) -> str | None:
    ch = _publisher(broker, msg.publisher)
    return ch.peer.ip_address if ch is not None else None


def _headers(broker: Broker, msg: Message) -> dict[str, object]:
    ch = _publisher(broker, msg.publisher)
    return {"proto_ver": ch.version} if ch is not None else {}


MessageReader = Callable[[Broker, Message, float], Columns]

# One getter per column, for rules that read only some (same values as `message_columns`).
_MESSAGE_GETTERS: dict[str, Callable[[Broker, Message, float], object]] = {
    "event": lambda _b, _m, _now: "message.publish",
    "id": lambda _b, m, _now: m.id_hex,
    "clientid": lambda _b, m, _now: m.publisher or "",
    "username": lambda b, m, _now: _username(b, m),
    "payload": lambda _b, m, _now: payload_column(m.payload),
    "peerhost": lambda b, m, _now: _peerhost(b, m),
    "topic": lambda _b, m, _now: m.topic,
    "qos": lambda _b, m, _now: m.qos,
    "flags": lambda _b, m, _now: {"retain": m.retain, "dup": False},
    "headers": lambda b, m, _now: _headers(b, m),
    "pub_props": lambda _b, m, _now: message_properties(m),
    "timestamp": lambda _b, _m, now: _ms(now),
    "publish_received_at": lambda _b, m, _now: _ms(m.timestamp),
    "node": lambda b, _m, _now: b.node_name,
}


def message_reader(names: Collection[str]) -> MessageReader:
    """A builder of the message columns in `names` (every column when it holds `*`)."""
    if "*" in names:
        return message_columns
    getters = tuple((name, get) for name, get in _MESSAGE_GETTERS.items() if name in names)

    def read(broker: Broker, msg: Message, now: float) -> Columns:
        columns: Columns = {}
        for name, get in getters:  # a loop: a comprehension costs a frame more per message
            columns[name] = get(broker, msg, now)
        return columns

    return read


def _peername(ch: Channel) -> str:
    return f"{ch.peer.ip_address}:{ch.peer.port}"


def _props(props: Properties | None) -> dict[str, object]:
    if props is None or not props.user_properties:
        return {}
    return {"User-Property": dict(props.user_properties)}


def client_connected(broker: Broker, ch: Channel, sockname: str, now: float) -> Columns:
    return {
        "event": "client.connected",
        "clientid": ch.clientid,
        "username": ch.username,
        "mountpoint": None,
        "peername": _peername(ch),
        "sockname": sockname,
        "proto_name": "MQTT",
        "proto_ver": ch.version,
        "keepalive": ch.keep_alive,
        "clean_start": ch.clean_start,
        "expiry_interval": ch.session_expiry,
        "is_bridge": False,
        "connected_at": _ms(ch.connected_at if ch.connected_at is not None else now),
        "conn_props": {},
        "timestamp": _ms(now),
        "node": broker.node_name,
    }


def client_disconnected(broker: Broker, ch: Channel, reason: str, sockname: str, now: float) -> Columns:
    return {
        "event": "client.disconnected",
        "reason": disconnect_reason(reason)[0],  # EMQX's name, as the event history's
        "clientid": ch.clientid,
        "username": ch.username,
        "peername": _peername(ch),
        "sockname": sockname,
        "disconnected_at": _ms(now),
        "disconn_props": {},
        "timestamp": _ms(now),
        "node": broker.node_name,
    }


def session_subscribed(broker: Broker, ch: Channel, sub: Subscription, now: float) -> Columns:
    sub_props: dict[str, object] = {}
    if sub.subscription_id is not None:
        sub_props["Subscription-Identifier"] = sub.subscription_id
    return {
        "event": "session.subscribed",
        "clientid": ch.clientid,
        "username": ch.username,
        "peerhost": ch.peer.ip_address,
        "topic": sub.topic_filter,
        "qos": sub.qos,
        "sub_props": sub_props,
        "timestamp": _ms(now),
        "node": broker.node_name,
    }


def session_unsubscribed(broker: Broker, ch: Channel, topic_filter: str, now: float) -> Columns:
    return {
        "event": "session.unsubscribed",
        "clientid": ch.clientid,
        "username": ch.username,
        "peerhost": ch.peer.ip_address,
        "topic": topic_filter,
        "qos": 0,
        "unsub_props": {},
        "timestamp": _ms(now),
        "node": broker.node_name,
    }


def message_delivery(
    event: str, broker: Broker, ch: Channel, msg: Message, *, qos: int, now: float
) -> Columns:
    """`message.delivered` / `message.acked`: `clientid` is the receiver, `from_clientid` the publisher."""
    sender = _publisher(broker, msg.publisher)
    columns: Columns = {
        "event": event,
        "id": msg.id_hex,
        "from_clientid": msg.publisher or "",
        "from_username": sender.username if sender is not None else None,
        "clientid": ch.clientid,
        "username": ch.username,
        "payload": payload_column(msg.payload),
        "peerhost": ch.peer.ip_address,
        "topic": msg.topic,
        "qos": qos,
        "flags": {"retain": msg.retain, "dup": False},
        "pub_props": message_properties(msg),
        "timestamp": _ms(now),
        "publish_received_at": _ms(msg.timestamp),
        "node": broker.node_name,
    }
    if event == "message.acked":
        columns["puback_props"] = {}
    return columns


def message_dropped(broker: Broker, msg: Message, reason: str, now: float) -> Columns:
    columns = message_columns(broker, msg, now)
    del columns["headers"]
    columns["event"] = "message.dropped"
    columns["reason"] = reason
    return columns
