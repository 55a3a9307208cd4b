"""Broker: one tenant's channels, sessions and router, and the entry points the runtime calls (sans-I/O).

Owns: channels and sessions by id, the `Router` messages go through (`routing.LocalRouter`, or a
cluster router around it), message ids, broker-level deadlines (will delay, session expiry, $SYS,
kicks), `$SYS/brokers/<node>/...` topics, and `restore`. Session lifecycle (attach, takeover, resume,
expiry, wills) lives in `broker/lifecycle.py`, admin queries in `broker/queries.py`; the Broker
methods delegate to them.

Rules:
- No I/O and no clock reads: `now` is Unix epoch seconds, passed in (persisted expiry survives
  restart). Every entry point returns the actions of one batch (`actions` module rules).
- Only sessions with expiry > 0 reach the durable log; retained messages always do.
- Hot path: `LocalRouter.route` (see `routing` for the QoS 0 fast path) encodes a message once per
  (version, QoS, retain, properties) and appends one `Send` per receiver.
- Facts worth logging (client connected / refused / disconnected) come back as `Log` actions.
"""

import heapq
import os
from collections.abc import Iterable

from mqttcloud import contracts
from mqttcloud.broker import budget, lifecycle, persistence, queries, routing
from mqttcloud.broker.actions import INFO, Action, ChannelId, Close
from mqttcloud.broker.channel import Channel
from mqttcloud.broker.channel_state import ChannelState
from mqttcloud.broker.delivery import Out
from mqttcloud.broker.durability import Record, SubscriptionRemoved
from mqttcloud.broker.handlers.connect import connect_decided as handlers_connect_decided
from mqttcloud.broker.hooks import (
    AllowAll,
    Authorizer,
    ClientContext,
    ClientEventSink,
    ConnectDecision,
    EventTap,
    MessageTap,
    PeerInfo,
)
from mqttcloud.broker.message import Message
from mqttcloud.broker.metrics import Metrics
from mqttcloud.broker.retained import RetainedStore
from mqttcloud.broker.session import Session
from mqttcloud.broker.subscriptions import Subscription, SubscriptionTrie
from mqttcloud.broker.topic_metrics import TICK, TopicMetrics
from mqttcloud.protocol.packets import Disconnect
from mqttcloud.protocol.properties import NO_PROPERTIES, Properties
from mqttcloud.protocol.reason_codes import ReasonCode

VERSION = "mqttcloud 0.1.0"
#: Channels closed per `tick` while a disabled tenant kicks its clients (`update_spec`): a kick-all of
#: 10,000 in one call held the runtime's event loop ~0.7 s (bench/disconnect_storm.py).
KICK_BATCH = 256


class Broker:
    """All MQTT state of one tenant. The runtime holds one per tenant and drives it with `now` values.

    Runtime loop, per connection: `ch = broker.open_channel(id, peer, now)`; frame bytes with
    `ch.max_packet_size`, decode with `ch.protocol_version`, call `ch.handle(packet, now)`; on
    `MalformedPacket`/`ProtocolError` (from decoding or from `handle`) call `ch.fail(error, now)`;
    when the peer goes away call `broker.channel_closed(id, now)`; arm a timer at
    `ch.next_deadline()` and call `ch.tick(now)`. Per broker: a timer at `broker.next_deadline()`
    calling `broker.tick(now)`. Report transport bytes with `ch.bytes_received(n)` / `flushed(n, unsent)`.
    """

    def __init__(
        self,
        spec: contracts.TenantSpec,
        *,
        node_name: str,
        now: float,
        authorizer: Authorizer | None = None,
        sys_interval: float = 0.0,
    ) -> None:
        self.tenant_id = spec.tenant_id
        self.limits = spec.limits
        self.soft_budget = budget.soft_budget(spec.limits)  # `broker.budget`
        self.unsent_total = 0  # sum of `Channel.reported`: the tenant's unsent bytes at the last flushes
        self.enabled = spec.enabled
        self.node_name = node_name
        self.started_at = now
        self.authorizer: Authorizer = authorizer if authorizer is not None else AllowAll()
        self.tap: MessageTap | None = None  # sees every routed message while set (`LocalRouter.route`)
        self.events: EventTap | None = None  # sees client/session/delivery events while set
        self.history: ClientEventSink | None = None  # the event history's sink (runtime/events.py)
        self.sys_interval = sys_interval
        # The lowest `Log` level the runtime writes: facts below it are not built (a connect's path).
        self.log_level = INFO
        self.counters = Metrics()
        self.sessions: dict[str, Session] = {}
        self.channels: dict[ChannelId, Channel] = {}
        self.live = 0  # channels in CONNECTED state
        self.retained = RetainedStore(spec.limits.max_retained, spec.limits.max_retained_size)
        self.local_router = routing.LocalRouter(self, self.retained)
        self.trie: SubscriptionTrie = self.local_router.trie  # this node's subscriptions
        self.router: routing.Router = self.local_router  # a cluster router wraps the local one
        self.claims: lifecycle.Claims | None = None  # told of every attach in a cluster
        self.last_channel: dict[str, Channel] = {}  # last connection of a disconnected session
        self.wills: dict[str, tuple[float, Message, ClientContext]] = {}  # client id -> (due, will, as)
        self._heap: list[tuple[float, str, str]] = []  # (when, kind, client id): lazy, re-checked
        self._kicking: list[ChannelId] = []  # channels still to close after the tenant was disabled
        # Message ids have EMQX's GUID shape: 8 bytes microseconds, 6 bytes of this broker, 2 bytes
        # sequence; unique and increasing within one broker even when `now` repeats.
        self._id_node = os.urandom(6)
        self._id_node_bits = int.from_bytes(self._id_node, "big") << 16  # node bytes, placed for one to_bytes
        self._id_ts = 0
        self._id_seq = 0
        self.high_water: dict[str, int] = {}  # EMQX `*.max` stats
        if sys_interval > 0:
            heapq.heappush(self._heap, (now + sys_interval, "sys", ""))
        self.topic_metrics = TopicMetrics()  # counted in `LocalRouter.route` while a topic is registered
        self._count_topics(spec, now)

    # --- configuration ---------------------------------------------------------------------------

    def update_spec(self, spec: contracts.TenantSpec, now: float) -> list[Action]:
        """Apply new limits / enabled flag; disabling disconnects everyone (v5: 0x8B), keeps sessions.

        The first KICK_BATCH channels close now; the rest, KICK_BATCH per `tick`, from a "kick" deadline
        due at once (new CONNECTs are refused from now on; the rest stay connected for those few ticks).
        """
        self.limits = spec.limits
        self.soft_budget = budget.soft_budget(spec.limits)
        self.forget_publish_decisions()  # they hold topics validated under the old max_topic_levels
        self.retained.max_count = spec.limits.max_retained
        self.retained.max_size = spec.limits.max_retained_size
        self._count_topics(spec, now)
        was_enabled, self.enabled = self.enabled, spec.enabled
        if was_enabled and not spec.enabled:
            self._kicking = list(self.channels)
            self._kicking.reverse()  # popped from the end: oldest first
            out = Out()
            self._kick(now, out)
            return out.result()
        if spec.enabled:
            self._kicking = []
        return []

    def _count_topics(self, spec: contracts.TenantSpec, now: float) -> None:
        if self.topic_metrics.set_topics(spec.topic_metrics, now):
            heapq.heappush(self._heap, (now + TICK, "topic_metrics", ""))

    def _kick(self, now: float, out: Out) -> None:
        kicking = self._kicking
        channels = self.channels
        for _ in range(min(KICK_BATCH, len(kicking))):
            ch = channels.get(kicking.pop())
            if ch is not None:
                self._shut(ch, now, out)
        if kicking:
            heapq.heappush(self._heap, (now, "kick", ""))

    def set_authorizer(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer
        self.forget_publish_decisions()

    def forget_publish_decisions(self) -> None:
        """Empty every channel's memo of publish decisions (new ACL, new topic limits)."""
        for ch in self.channels.values():
            ch.publish_acl.clear()

    # --- connections -----------------------------------------------------------------------------

    def open_channel(self, channel_id: ChannelId, peer: PeerInfo, now: float) -> Channel:
        """A transport was accepted; the channel waits for CONNECT until `connect_timeout`."""
        ch = Channel(self, channel_id, peer, now)
        self.channels[channel_id] = ch
        return ch

    def channel(self, channel_id: ChannelId) -> Channel | None:
        return self.channels.get(channel_id)

    def connected_count(self) -> int:
        """Channels past CONNACK (EMQX `live_connections.count`)."""
        return self.live

    def connect_decided(self, channel_id: ChannelId, decision: ConnectDecision, now: float) -> list[Action]:
        """The answer to an `Authenticate` action: CONNACK, session takeover/resume, redelivery.

        Packets the client pipelined after CONNECT are handled here too; if one breaks a rule the
        answer (DISCONNECT + Close) is part of the returned actions, so this never raises.
        """
        ch = self.channels.get(channel_id)
        if ch is None:
            return []
        return handlers_connect_decided(ch, decision, now)

    def channel_closed(self, channel_id: ChannelId, now: float) -> list[Action]:
        """The transport closed without the core asking (peer close, I/O error): will, session expiry."""
        ch = self.channels.get(channel_id)
        if ch is None:
            return []
        return self.channel_gone(ch, now, normal=False, reason="connection closed by peer")

    def channel_gone(self, ch: Channel, now: float, *, normal: bool, reason: str = "") -> list[Action]:
        """Bookkeeping when a channel ends; `normal` = DISCONNECT 0x00 (will discarded)."""
        out = Out()
        lifecycle.gone(self, ch, now, out, normal=normal, reason=reason)
        return out.result()

    def schedule(self, when: float, kind: str, clientid: str) -> None:
        """Arm a broker-level deadline ("will", "expire"); `tick` re-checks it when it fires."""
        heapq.heappush(self._heap, (when, kind, clientid))

    def schedule_will(self, clientid: str, when: float, msg: Message, ctx: ClientContext) -> None:
        """Publish `msg` (authorized as `ctx`) at `when` unless the session resumes first."""
        lifecycle.schedule_will(self, clientid, when, msg, ctx)

    def drop_will(self, clientid: str) -> None:
        self.wills.pop(clientid, None)

    def pending_wills(self) -> list[tuple[str, float, Message, ClientContext]]:
        return [(cid, when, msg, ctx) for cid, (when, msg, ctx) in self.wills.items()]

    def schedule_expiry(self, session: Session) -> None:
        lifecycle.schedule_expiry(self, session)

    def attach_session(self, ch: Channel, now: float) -> tuple[list[Action], bool]:
        """Take over a connected client id, then start or resume its session (`lifecycle.attach`)."""
        return lifecycle.attach(self, ch, now)

    def resume(self, ch: Channel, now: float) -> list[Action]:
        """After CONNACK: resend in-flight messages with DUP, then drain the queue [MQTT-4.4.0-1]."""
        return lifecycle.resume(ch, now)

    def release(self, clientid: str, claimed_at: float, now: float) -> list[Action]:
        """The client id connected on another node of the cluster: disconnect it here (0x8E)."""
        return lifecycle.release(self, clientid, claimed_at, now)

    # --- messages --------------------------------------------------------------------------------

    def new_clientid(self) -> str:
        return "mqttcloud-" + os.urandom(8).hex()

    def make_message(
        self, topic: str, payload: bytes, *, qos: int, retain: bool, properties: Properties,
        publisher: str | None, now: float,
    ) -> Message:  # fmt: skip
        ts = int(now * 1_000_000)
        if ts > self._id_ts:
            self._id_ts, self._id_seq = ts, 0
        else:
            self._id_seq += 1
            if self._id_seq > 0xFFFF:
                self._id_ts, self._id_seq = self._id_ts + 1, 0
        mid = ((self._id_ts << 64) | self._id_node_bits | self._id_seq).to_bytes(16, "big")
        if properties is NO_PROPERTIES:
            return Message(mid, topic, payload, qos, retain, publisher, now)
        expiry = properties.message_expiry_interval
        return Message(
            mid, topic, payload, qos, retain, publisher, now,
            expires_at=None if expiry is None else now + expiry,
            payload_format_indicator=properties.payload_format_indicator,
            content_type=properties.content_type,
            response_topic=properties.response_topic,
            correlation_data=properties.correlation_data,
            user_properties=properties.user_properties,
        )  # fmt: skip

    def route(self, msg: Message, now: float, out: Out) -> int:
        """Store if retained, then deliver to every matching session; returns receivers matched."""
        return self.router.route(msg, now, out)

    def is_online(self, clientid: str) -> bool:
        s = self.sessions.get(clientid)
        return s is not None and s.connected_channel is not None

    def note_growth(self) -> None:
        """A gauge may have grown: keep the EMQX `*.max` stats honest."""
        queries.bump_high_water(self)

    def add_subscription(self, session: Session, sub: Subscription, out: Out) -> None:
        session.add_subscription(sub)
        if self.router.add(sub, out):
            self.note_growth()
        if session.stored:
            out.records.append(persistence.subscription_record(sub))

    def remove_subscription(self, session: Session, topic_filter: str, out: Out) -> bool:
        if not session.remove_subscription(topic_filter):
            return False
        self.router.remove(session.clientid, topic_filter, out)
        if session.stored:
            out.records.append(SubscriptionRemoved(session.clientid, topic_filter))
        return True

    def send_retained(self, ch: Channel, sub: Subscription, now: float, out: Out) -> None:
        """Retained messages for a new subscription, RETAIN=1 (spec 3.3.1.3), QoS capped."""
        routing.send_retained(self, ch, sub, now, out)

    # --- time ------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """Earliest broker-level deadline: will delay, session expiry, $SYS publish (may be stale)."""
        return self._heap[0][0] if self._heap else None

    def tick(self, now: float) -> list[Action]:
        out = Out()
        heap = self._heap
        kick = False
        while heap and heap[0][0] <= now:
            when, kind, cid = heapq.heappop(heap)
            if kind == "kick":
                kick = True  # one batch per tick, after the loop (the next "kick" is due now too)
            elif kind == "will":
                lifecycle.will_due(self, cid, when, now, out)
            elif kind == "expire":
                lifecycle.expiry_due(self, cid, now, out)
            elif kind == "topic_metrics":
                if self.topic_metrics.tick(now):
                    heapq.heappush(heap, (now + TICK, "topic_metrics", ""))
            else:
                queries.publish_sys(self, now, out)
                heapq.heappush(heap, (now + self.sys_interval, "sys", ""))
        if kick and self._kicking:
            self._kick(now, out)
        return out.result()

    def shutdown(self, now: float) -> list[Action]:
        """DISCONNECT 0x8B to v5 clients, close every channel; sessions stay (and stay persisted)."""
        out = Out()
        self._kicking = []
        for ch in list(self.channels.values()):
            self._shut(ch, now, out)
        return out.result()

    def _shut(self, ch: Channel, now: float, out: Out) -> None:
        if ch.state is ChannelState.CONNECTED and ch.version == 5:
            out.actions.append(ch.send(Disconnect(reason_code=ReasonCode.SERVER_SHUTTING_DOWN)))
            self.counters.inc("packets.disconnect.sent")
        out.actions.append(Close(ch.channel_id, "server shutting down"))
        lifecycle.gone(self, ch, now, out, normal=True, reason="server shutting down")

    def cut_off(self, ch: Channel, reason: ReasonCode, why: str, now: float, out: Out) -> None:
        """Disconnect a client from the server side: DISCONNECT `reason` (v5), close; the will goes."""
        if ch.state is ChannelState.CONNECTED and ch.version == 5:
            out.actions.append(ch.send(Disconnect(reason_code=reason, properties=ch.reason_props(why))))
            self.counters.inc("packets.disconnect.sent")
        out.actions.append(Close(ch.channel_id, why))
        lifecycle.gone(self, ch, now, out, normal=False, reason=why)

    # --- durability ------------------------------------------------------------------------------

    def restore(self, records: Iterable[Record], now: float) -> None:
        """Rebuild retained messages and persistent sessions from the durable log, in order."""
        persistence.restore(self, records, now)

    def snapshot(self) -> list[Record]:
        """The records that recreate the current durable state (for log compaction)."""
        return persistence.snapshot(self)

    # --- admin (see broker/queries.py) -----------------------------------------------------------

    def client_infos(self, filter: contracts.ClientFilter, page: int, limit: int) -> contracts.ClientList:
        return queries.client_infos(self, filter, page, limit)

    def client_info(self, clientid: str) -> contracts.ClientInfo | None:
        return queries.client_info(self, clientid)

    def subscriptions(
        self, filter: contracts.SubscriptionFilter, page: int, limit: int
    ) -> contracts.SubscriptionList:
        return queries.subscriptions(self, filter, page, limit)

    def client_subscriptions(self, clientid: str) -> list[contracts.SubscriptionInfo] | None:
        return queries.client_subscriptions(self, clientid)

    def subscribe_on_behalf(
        self, args: contracts.SubscribeArgs, now: float
    ) -> tuple[contracts.SubscriptionInfo | None, list[Action]]:
        """None when the client has no session. Raises ValueError for an invalid filter."""
        return queries.subscribe_on_behalf(self, args, now)

    def unsubscribe_on_behalf(self, args: contracts.UnsubscribeArgs, now: float) -> tuple[bool, list[Action]]:
        return queries.unsubscribe_on_behalf(self, args, now)

    def kick(self, clientid: str, now: float) -> tuple[bool, list[Action]]:
        """DISCONNECT 0x98 (v5) and close; the session is discarded, as EMQX's kickout does."""
        session = self.sessions.get(clientid)
        if session is None:
            return False, []
        out = Out()
        chid = session.connected_channel
        ch = self.channels.get(chid) if chid is not None else None
        if ch is not None:
            if ch.version == 5:
                out.actions.append(ch.send(Disconnect(reason_code=ReasonCode.ADMINISTRATIVE_ACTION)))
                self.counters.inc("packets.disconnect.sent")
            out.actions.append(Close(ch.channel_id, "kicked"))
            lifecycle.gone(self, ch, now, out, normal=True, keep_session=True, reason="kicked")
        if self.sessions.get(clientid) is session:
            lifecycle.end(self, session, now, out)
        return True, out.result()

    def publish_api(self, args: contracts.PublishArgs, now: float) -> tuple[str, int, list[Action]]:
        """(message id hex32, matched subscriptions, actions). Raises ValueError for a bad topic."""
        return queries.publish_api(self, args, now)

    def stats(self) -> contracts.TenantStats:
        return queries.stats(self)

    def metrics(self) -> contracts.TenantMetrics:
        return contracts.TenantMetrics(values=self.counters.snapshot())
