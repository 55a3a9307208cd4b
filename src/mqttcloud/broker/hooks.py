"""The interfaces the core calls out through: authorization (sync) and authentication (via the runtime).

P3's `broker/access.py` implements these against a `contracts.TenantSpec`; the core never imports it.

- Authorization is synchronous and cheap (compiled ACL): the core calls `Authorizer.can_publish` /
  `can_subscribe` inline while handling PUBLISH / SUBSCRIBE.
- Authentication may be slow (bcrypt, pbkdf2), so it happens outside the core: the channel returns an
  `Authenticate(channel_id, AuthRequest)` action and the runtime answers with
  `Broker.connect_decided(channel_id, ConnectDecision, now)`.
- A `MessageTap` sees every routed message; it only records (the runtime hands what it recorded to the
  control plane later), so it is synchronous like the authorizer.
- An `EventTap` sees client and session events (EMQX's `$events/...` rule sources) the same way.
- A `ClientEventSink` sees the events of a client's life for the event history: never one per delivery,
  so it can stay set on every tenant without slowing routing.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mqttcloud.broker.message import Message
from mqttcloud.protocol.reason_codes import ReasonCode

if TYPE_CHECKING:
    from mqttcloud.broker.channel import Channel
    from mqttcloud.broker.subscriptions import Subscription


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """Who is at the other end of the transport; known at accept time."""

    listener: str  # ListenerSpec.name
    ip_address: str
    port: int
    peersni: str | None = None
    cn: str | None = None  # client certificate common name (two-way TLS)
    dn: str | None = None


@dataclass(frozen=True, slots=True)
class ClientContext:
    """Identity of an authenticated client, given to every authorization check."""

    clientid: str
    username: str | None
    peer: PeerInfo
    is_superuser: bool = False


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """The credentials from one CONNECT, to be checked by the runtime's authenticator chain."""

    clientid: str
    username: str | None
    password: bytes | None
    peer: PeerInfo
    proto_ver: int


@dataclass(frozen=True, slots=True)
class ConnectDecision:
    """The authenticator's verdict.

    `reason_code` is the MQTT 5 CONNACK reason code for a refusal: 0x86 bad user name or password,
    0x87 not authorized, 0x8A banned, 0x85 client identifier not valid. The core maps it to the
    v3.1.1 return code for old clients.
    """

    allowed: bool
    reason_code: ReasonCode = ReasonCode.SUCCESS
    is_superuser: bool = False
    reason_string: str | None = None


class Authorizer(Protocol):
    """Per-topic access control, evaluated synchronously by the core.

    An answer may depend only on the arguments: the core remembers `can_publish` answers per
    connection and topic (the PUBLISH fast path), so new rules come as a new authorizer passed to
    `Broker.set_authorizer`, which forgets what was remembered.
    """

    def can_publish(self, client: ClientContext, topic: str) -> bool: ...

    def can_subscribe(self, client: ClientContext, topic_filter: str) -> bool: ...


class AllowAll:
    """An `Authorizer` that allows everything (tests, and tenants with no ACL)."""

    def can_publish(self, client: ClientContext, topic: str) -> bool:
        return True

    def can_subscribe(self, client: ClientContext, topic_filter: str) -> bool:
        return True


class MessageTap(Protocol):
    """Sees each message the core routes (already authorized), before delivery: `Broker.tap`, set by the
    runtime while a consumer captures messages. It must be cheap, must not raise and must not keep
    `msg` from being routed."""

    def offer(self, msg: Message) -> None: ...


class EventTap(Protocol):
    """Sees client and session events as they happen: `Broker.events`, set by the runtime while a rule
    selects an `$events/...` source. Like `MessageTap` it must be cheap, must not raise and only
    records; `ch` is the client's channel (read it, never change it)."""

    def client_connected(self, ch: "Channel", now: float) -> None: ...

    def client_disconnected(self, ch: "Channel", reason: str, now: float) -> None: ...

    def session_subscribed(self, ch: "Channel", sub: "Subscription", now: float) -> None: ...

    def session_unsubscribed(self, ch: "Channel", topic_filter: str, now: float) -> None: ...

    def message_delivered(self, ch: "Channel", msg: Message, qos: int, now: float) -> None: ...

    def message_acked(self, ch: "Channel", msg: Message, qos: int, now: float) -> None: ...

    def message_dropped(self, msg: Message, reason: str, now: float) -> None: ...


class ClientEventSink(Protocol):
    """Sees what happens in a client's life, for the event history: `Broker.history`, set by the runtime.

    Connected, refused (a failed CONNACK, with its reason), disconnected (`reason` as `EventTap` gets it),
    subscribed, unsubscribed, and messages dropped (`clientid` is the publisher for an inbound drop, the
    receiver for a delivery). Never called per delivered message. Like `EventTap` it must be cheap, must
    not raise and only records; `ch` is read, never changed."""

    def connected(self, ch: "Channel", now: float) -> None: ...

    def refused(self, ch: "Channel", reason: ReasonCode, why: str, now: float) -> None: ...

    def disconnected(self, ch: "Channel", reason: str, now: float) -> None: ...

    def subscribed(self, ch: "Channel", sub: "Subscription", now: float) -> None: ...

    def unsubscribed(self, ch: "Channel", topic_filter: str, now: float) -> None: ...

    def dropped(self, clientid: str, topic: str, reason: str, now: float) -> None: ...
