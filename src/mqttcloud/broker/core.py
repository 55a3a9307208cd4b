"""Broker: one tenant's sessions, subscriptions, retained messages and routing (sans-I/O).

Owns: sessions by client id (create, resume, take over [MQTT-3.1.4-3], expire [MQTT-3.1.2-23]),
the `SubscriptionTrie`, the `RetainedStore`, will messages (incl. v5 Will Delay Interval
[MQTT-3.1.3-9]), broker-level deadlines, `$SYS/brokers/<node>/...` topics, and `restore`.
Admin queries live in `broker/queries.py`; the Broker methods delegate to it.

Rules:
- No I/O and no clock reads: `now` is Unix epoch seconds, passed in (persisted expiry survives
  restart). Every entry point returns the actions of one batch (`actions` module rules).
- Only sessions with expiry > 0 reach the durable log; retained messages always do.
- Hot path: `routing.route` (see its docstring for the QoS 0 fast path) encodes a message once per
  (version, QoS, retain, properties) and appends one `Send` per receiver.
- Facts worth logging (client connected / refused / disconnected) come back as `Log` actions.
"""

import heapq
import os
from collections.abc import Iterable

from mqttcloud import contracts
from mqttcloud.broker import budget, persistence, queries, routing
from mqttcloud.broker.actions import INFO, Action, ChannelId, Close, Log
from mqttcloud.broker.channel import Channel, ChannelState
from mqttcloud.broker.delivery import Out, drain, redeliver
from mqttcloud.broker.durability import (
    Record,
    SessionDeleted,
    SubscriptionRemoved,
    WillDone,
)
from mqttcloud.broker.hooks import (
    AllowAll,
    Authorizer,
    ClientContext,
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
        self.tap: MessageTap | None = None  # sees every routed message while set (`routing.route`)
        self.events: EventTap | None = None  # sees client/session/delivery events while set
        self.sys_interval = sys_interval
        self.counters = Metrics()
        self.sessions: dict[str, Session] = {}
        self.channels: dict[ChannelId, Channel] = {}
        self.live = 0  # channels in CONNECTED state
        self.trie = SubscriptionTrie()
        # routing plans per (topic, QoS, retain), valid for one trie generation (`routing._plan`)
        self.route_plans: dict[tuple[str, int, bool], routing.Plan] = {}
        self.route_plans_generation = -1
        self.retained = RetainedStore(spec.limits.max_retained, spec.limits.max_retained_size)
        self.last_channel: dict[str, Channel] = {}  # last connection of a disconnected session
        self._wills: dict[str, tuple[float, Message, ClientContext]] = {}
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
        from mqttcloud.broker.handlers.connect import connect_decided  # noqa: PLC0415  (cycle)

        ch = self.channels.get(channel_id)
        if ch is None:
            return []
        return connect_decided(ch, decision, now)

    def channel_closed(self, channel_id: ChannelId, now: float) -> list[Action]:
        """The transport closed without the core asking (peer close, I/O error): will, session expiry."""
        ch = self.channels.get(channel_id)
        if ch is None:
            return []
        return self.channel_gone(ch, now, normal=False, reason="connection closed by peer")

    def channel_gone(self, ch: Channel, now: float, *, normal: bool, reason: str = "") -> list[Action]:
        """Bookkeeping when a channel ends; `normal` = DISCONNECT 0x00 (will discarded)."""
        out = Out()
        self._gone(ch, now, out, normal=normal, reason=reason)
        return out.result()

    def _gone(
        self, ch: Channel, now: float, out: Out, *, normal: bool, keep_session: bool = False, reason: str = ""
    ) -> None:
        if ch.state is ChannelState.CLOSED:
            return
        was_connected = ch.state is ChannelState.CONNECTED
        ch.state = ChannelState.CLOSED
        self.unsent_total -= ch.reported  # what the runtime still holds for it goes with the transport
        ch.unsent = ch.reported = 0
        self.channels.pop(ch.channel_id, None)
        if was_connected:
            self.live -= 1
        session = ch.session
        if not was_connected or session is None or session.connected_channel != ch.channel_id:
            return
        self.counters.inc("client.disconnected")
        out.actions.append(Log(INFO, "client.disconnected", (("clientid", ch.clientid), ("reason", reason))))
        if self.events is not None:
            self.events.client_disconnected(ch, reason, now)
        self.last_channel[session.clientid] = ch
        session.connected_channel = None
        session.disconnected_at = now
        will, ch.will = ch.will, None
        if will is not None and not normal:
            msg = self.make_message(
                will.topic, will.payload, qos=int(will.qos), retain=will.retain,
                properties=will.properties, publisher=ch.clientid, now=now,
            )  # fmt: skip
            delay = (will.properties.will_delay_interval or 0) if ch.version == 5 else 0
            if delay == 0 or (session.expiry_interval == 0 and not keep_session):
                self._publish_will(msg, ch.context, now, out)
            else:
                # [MQTT-3.1.3-9] sent at the earlier of the delay and the session's end
                when = now + min(delay, session.expiry_interval)
                self.schedule_will(session.clientid, when, msg, ch.context)
                if session.stored:  # a restart before `when` still publishes it
                    out.records.append(persistence.will_record(session.clientid, when, msg, ch.context))
        if keep_session:
            if session.stored:
                out.records.append(persistence.session_record(session))
            return
        if session.expiry_interval == 0:
            self._end_session(session, now, out)
            return
        if session.stored:
            out.records.append(persistence.session_record(session))
        self.schedule_expiry(session)

    def schedule_will(self, clientid: str, when: float, msg: Message, ctx: ClientContext) -> None:
        """Publish `msg` (authorized as `ctx`) at `when` unless the session resumes first."""
        self._wills[clientid] = (when, msg, ctx)
        heapq.heappush(self._heap, (when, "will", clientid))

    def drop_will(self, clientid: str) -> None:
        self._wills.pop(clientid, None)

    def pending_wills(self) -> list[tuple[str, float, Message, ClientContext]]:
        return [(cid, when, msg, ctx) for cid, (when, msg, ctx) in self._wills.items()]

    def schedule_expiry(self, session: Session) -> None:
        expires = session.expires_at()
        if expires is not None:
            heapq.heappush(self._heap, (expires, "expire", session.clientid))

    def attach_session(self, ch: Channel, now: float) -> tuple[list[Action], bool]:
        """Take over a connected client id [MQTT-3.1.4-3], then start or resume its session.

        Returns the actions for other channels (DISCONNECT 0x8E + Close) and Session Present.
        """
        out = Out()
        cid = ch.clientid
        old = self.sessions.get(cid)
        if old is not None and old.connected_channel is not None:
            old_ch = self.channels.get(old.connected_channel)
            if old_ch is not None:
                self.counters.inc("session.takenover")
                if old_ch.version == 5:
                    out.actions.append(old_ch.send(Disconnect(reason_code=ReasonCode.SESSION_TAKEN_OVER)))
                    self.counters.inc("packets.disconnect.sent")
                out.actions.append(Close(old_ch.channel_id, "session taken over"))
                self._gone(old_ch, now, out, normal=False, keep_session=True, reason="session taken over")
        pending_will = self._wills.pop(cid, None)
        if pending_will is not None and old is not None and old.stored:
            out.records.append(WillDone(cid))  # published just below, or dropped [MQTT-3.1.3-10]
        if ch.clean_start or old is None:
            if old is not None:
                self.counters.inc("session.discarded")
                self._end_session(old, now, out)
            if pending_will is not None:  # the old session ended: its delayed will goes now
                self._publish_will(pending_will[1], pending_will[2], now, out)
            session = Session(cid, created_at=now)
            self.counters.values["session.created"] += 1
            present = False
        else:
            session = old
            self.counters.inc("session.resumed")
            present = True  # [MQTT-3.2.2-3]
        session.expiry_interval = ch.session_expiry
        session.username = ch.username
        session.proto_ver = ch.version
        session.max_queue_len = self.limits.max_queue_len
        session.connected_channel = ch.channel_id
        session.disconnected_at = None
        ch.session = session
        self.sessions[cid] = session
        if session.is_persistent:
            if not session.stored:
                session.stored = True
                out.records.extend(persistence.session_records(session))
            else:
                out.records.append(persistence.session_record(session))
        elif session.stored:
            session.stored = False
            out.records.append(SessionDeleted(cid))
        self.live += 1  # the caller moves the channel to CONNECTED right after this
        queries.bump_connection_high_water(self)  # only connection gauges grew (a storm's hot path)
        return out.result(), present

    def resume(self, ch: Channel, now: float) -> list[Action]:
        """After CONNACK: resend in-flight messages with DUP, then drain the queue [MQTT-4.4.0-1]."""
        out = Out()
        session = ch.session
        if session is not None:
            redeliver(ch, session, now, out)
            drain(ch, session, now, out)
        return out.result()

    def _end_session(self, session: Session, now: float, out: Out) -> None:
        for flt in list(session.subscriptions):
            self.trie.remove(session.clientid, flt)
        session.subscriptions.clear()
        if self.sessions.get(session.clientid) is session:
            del self.sessions[session.clientid]
            self.last_channel.pop(session.clientid, None)
        if session.stored:
            session.stored = False
            out.records.append(SessionDeleted(session.clientid))
        self.counters.inc("session.terminated")
        pending = self._wills.pop(session.clientid, None)
        if pending is not None:
            self._publish_will(pending[1], pending[2], now, out)

    def _publish_will(self, msg: Message, ctx: ClientContext, now: float, out: Out) -> None:
        if self.authorizer.can_publish(ctx, msg.topic):
            self.counters.inc("messages.publish")
            self.route(msg, now, out)

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
        return routing.route(self, msg, now, out)

    def is_online(self, clientid: str) -> bool:
        s = self.sessions.get(clientid)
        return s is not None and s.connected_channel is not None

    def note_growth(self) -> None:
        """A gauge may have grown: keep the EMQX `*.max` stats honest."""
        queries.bump_high_water(self)

    def add_subscription(self, session: Session, sub: Subscription, out: Out) -> None:
        session.add_subscription(sub)
        if self.trie.add(sub):
            self.note_growth()
        if session.stored:
            out.records.append(persistence.subscription_record(sub))

    def remove_subscription(self, session: Session, topic_filter: str, out: Out) -> bool:
        if not session.remove_subscription(topic_filter):
            return False
        self.trie.remove(session.clientid, topic_filter)
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
                pending = self._wills.get(cid)
                if pending is not None and pending[0] == when:
                    del self._wills[cid]
                    session = self.sessions.get(cid)
                    if session is not None and session.stored:
                        out.records.append(WillDone(cid))
                    self._publish_will(pending[1], pending[2], now, out)
            elif kind == "expire":
                session = self.sessions.get(cid)
                expires = session.expires_at() if session is not None else None
                if session is not None and expires is not None and expires <= now:
                    self._end_session(session, now, out)
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
        self._gone(ch, now, out, normal=True, reason="server shutting down")

    def cut_off(self, ch: Channel, reason: ReasonCode, why: str, now: float, out: Out) -> None:
        """Disconnect a client from the server side: DISCONNECT `reason` (v5), close; the will goes."""
        if ch.state is ChannelState.CONNECTED and ch.version == 5:
            out.actions.append(ch.send(Disconnect(reason_code=reason, properties=ch.reason_props(why))))
            self.counters.inc("packets.disconnect.sent")
        out.actions.append(Close(ch.channel_id, why))
        self._gone(ch, now, out, normal=False, reason=why)

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
            self._gone(ch, now, out, normal=True, keep_session=True, reason="kicked")
        if self.sessions.get(clientid) is session:
            self._end_session(session, now, out)
        return True, out.result()

    def publish_api(self, args: contracts.PublishArgs, now: float) -> tuple[str, int, list[Action]]:
        """(message id hex32, matched subscriptions, actions). Raises ValueError for a bad topic."""
        return queries.publish_api(self, args, now)

    def stats(self) -> contracts.TenantStats:
        return queries.stats(self)

    def metrics(self) -> contracts.TenantMetrics:
        return contracts.TenantMetrics(values=self.counters.snapshot())
