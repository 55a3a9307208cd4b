"""Pair harness: client-side codec <-> broker `Channel` with no socket (h11 `ConnectionPair` style).

Every packet a test client sends is encoded with the protocol encoder, framed, decoded and handed
to its channel; every `Send` the core returns is framed and decoded for the receiving client.
`Authenticate` is answered by `Harness.decide`; `Persist` records are appended to `Harness.log`.
The clock is `Harness.now`, moved by tests.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from mqttcloud import contracts
from mqttcloud.broker.actions import Action, Authenticate, ChannelId, Close, Log, Persist, Send
from mqttcloud.broker.channel import Channel
from mqttcloud.broker.core import Broker
from mqttcloud.broker.durability import Record
from mqttcloud.broker.hooks import Authorizer, AuthRequest, ConnectDecision, PeerInfo
from mqttcloud.protocol.decode import decode
from mqttcloud.protocol.encode import encode
from mqttcloud.protocol.errors import MQTTError
from mqttcloud.protocol.framer import Framer
from mqttcloud.protocol.packets import ConnAck, Connect, Packet, ProtocolVersion, Publish, QoS, Will
from mqttcloud.protocol.properties import NO_PROPERTIES, Properties

P = TypeVar("P")


@dataclass
class Client:
    harness: "Harness"
    channel_id: ChannelId
    version: int
    inbox: list[Packet] = field(default_factory=list)
    closed: bool = False

    def is_closed(self) -> bool:
        return self.closed

    framer: Framer = field(default_factory=Framer)
    raw: list[bytes] = field(default_factory=list)
    stalled: bool = False  # a consumer that does not read: sends pile up in `unread` (the socket buffer)
    unread: list[bytes] = field(default_factory=list)

    def unread_bytes(self) -> int:
        return sum(len(b) for b in self.unread)

    def read_all(self) -> list[Packet]:
        """Stop stalling and read everything buffered; the socket drains (`Channel.writable`)."""
        h = self.harness
        self.stalled = False
        before = len(self.inbox)
        pending, self.unread = self.unread, []
        for data in pending:
            self.receive(data)
        ch = h.broker.channel(self.channel_id)
        if ch is not None and ch.flushed(0, 0):
            h.perform(ch.writable(h.now))
        return self.inbox[before:]

    @property
    def channel(self) -> Channel:
        ch = self.harness.broker.channel(self.channel_id)
        assert ch is not None
        return ch

    def send(self, packet: Packet) -> list[Packet]:
        """Send one packet; returns what this client received in the same step."""
        return self.send_bytes(encode(packet, self.version))

    def send_bytes(self, data: bytes) -> list[Packet]:
        h = self.harness
        ch = h.broker.channel(self.channel_id)
        if ch is None:
            raise AssertionError("channel is closed")
        before = len(self.inbox)
        ch.bytes_received(len(data))
        try:
            for first, body in Framer(ch.max_packet_size).feed(data):
                packet = decode(first, body, ch.protocol_version)
                h.perform(ch.handle(packet, h.now))
        except MQTTError as exc:
            h.perform(ch.fail(exc, h.now))
        return self.inbox[before:]

    def take(self) -> list[Packet]:
        got, self.inbox = self.inbox, []
        return got

    def receive(self, data: bytes) -> None:
        self.raw.append(data)
        for first, body in self.framer.feed(data):
            self.inbox.append(decode(first, body, self.version))

    def only(self, kind: type[P]) -> list[P]:
        return [p for p in self.take() if isinstance(p, kind)]


class Harness:
    def __init__(
        self,
        limits: contracts.Limits | None = None,
        *,
        authorizer: Authorizer | None = None,
        now: float = 1_000_000.0,
        sys_interval: float = 0.0,
    ) -> None:
        spec = contracts.TenantSpec(
            tenant_id=contracts.TenantId("t1"), limits=limits or contracts.Limits(), allow_anonymous=True
        )
        self.now = now
        self.broker = Broker(
            spec, node_name="n1@127.0.0.1", now=now, authorizer=authorizer, sys_interval=sys_interval
        )
        self.clients: dict[ChannelId, Client] = {}
        self.log: list[Record] = []
        self.batches: list[list[Action]] = []
        self.pending_auth: list[Authenticate] = []
        self.hold_auth = False
        self.decide: Callable[[AuthRequest], ConnectDecision] = lambda _req: ConnectDecision(allowed=True)
        self._next_id = 1

    def perform(self, actions: list[Action]) -> None:
        self.batches.append(actions)
        writable: list[Channel] = []  # drained after the batch, as the runtime does after its flush
        for a in actions:
            match a:
                case Send():
                    client = self.clients[a.channel_id]
                    ch = self.broker.channel(a.channel_id)
                    if client.stalled:
                        client.unread.append(a.data)
                    else:
                        client.receive(a.data)
                    if ch is not None and ch.flushed(len(a.data), client.unread_bytes()):
                        writable.append(ch)
                case Close():
                    self.clients[a.channel_id].closed = True
                case Authenticate():
                    if self.hold_auth:
                        self.pending_auth.append(a)
                    else:
                        self.perform(
                            self.broker.connect_decided(a.channel_id, self.decide(a.request), self.now)
                        )
                case Persist():
                    self.log.extend(a.records)
                case Log():
                    pass
        for ch in dict.fromkeys(writable):
            self.perform(ch.writable(self.now))

    def release_auth(self, decision: ConnectDecision | None = None) -> None:
        pending, self.pending_auth = self.pending_auth, []
        for a in pending:
            d = decision or self.decide(a.request)
            self.perform(self.broker.connect_decided(a.channel_id, d, self.now))

    def open(self, version: int = 5) -> Client:
        cid = ChannelId(self._next_id)
        self._next_id += 1
        self.broker.open_channel(
            cid, PeerInfo(listener="tcp:default", ip_address="127.0.0.1", port=40000 + cid), self.now
        )
        client = Client(self, cid, version)
        self.clients[cid] = client
        return client

    def connect(
        self,
        clientid: str = "c1",
        *,
        version: int = 5,
        clean_start: bool = True,
        keep_alive: int = 60,
        properties: Properties = NO_PROPERTIES,
        will: Will | None = None,
        username: str | None = None,
    ) -> tuple[Client, ConnAck]:
        client = self.open(version)
        got = client.send(
            Connect(
                client_id=clientid,
                protocol_level=ProtocolVersion(version),
                clean_start=clean_start,
                keep_alive=keep_alive,
                properties=properties,
                will=will,
                username=username,
            )
        )
        acks = [p for p in got if isinstance(p, ConnAck)]
        assert acks, f"no CONNACK: {got}"
        client.inbox = [p for p in client.inbox if not isinstance(p, ConnAck)]
        return client, acks[0]

    def tick(self, now: float) -> None:
        self.now = now
        self.perform(self.broker.tick(now))
        for cid in list(self.clients):
            ch = self.broker.channel(cid)
            if ch is not None:
                deadline = ch.next_deadline()
                if deadline is not None and deadline <= now:
                    self.perform(ch.tick(now))


def publish(
    topic: str, payload: bytes = b"x", qos: int = 0, packet_id: int | None = None, **kw: object
) -> Publish:
    return Publish(
        topic=topic,
        payload=payload,
        qos=QoS(qos),
        packet_id=packet_id if qos else None,
        **kw,  # type: ignore[arg-type]  # retain/dup/properties pass-through for tests
    )
