"""Channel: one connection's explicit state machine (sans-I/O).

States and the packets legal in each (anything else is a protocol error, raised as `ProtocolError`
for the runtime to pass back to `Channel.fail`):

    CONNECTING      CONNECT only [MQTT-3.1.0-1]; deadline: `connect_timeout` after accept
    AUTHENTICATING  Authenticate was emitted; packets the client pipelines after CONNECT are held
                    (bounded) and handled after CONNACK (spec 3.1.4: no processing before accept)
    CONNECTED       every packet except CONNECT [MQTT-3.1.0-2] and CONNACK/SUBACK/... (server-only)
    CLOSED          nothing; late calls return no actions

`handle` admits and counts a packet (state guards above); `dispatch` is the one `match` calling one
handler per packet family in `broker/handlers/`. Fast path: a PUBLISH in CONNECTED goes from `handle`
straight to `handlers.publish.handle_publish`, ahead of the `match` (part of the fan-in QoS 0 gain
16-20 → 9 µs per PUBLISH measured with `bench/core_publish.py`).
The channel owns connection-scoped facts only (version, keep alive, client limits, topic aliases,
will, counters); everything that outlives the connection is in the `Session`.
"""

import math
from typing import TYPE_CHECKING

from mqttcloud.broker.actions import Action, ChannelId, Close, Send
from mqttcloud.broker.channel_state import ChannelState
from mqttcloud.broker.delivery import Out, drain
from mqttcloud.broker.handlers import connect, publish, subscribe
from mqttcloud.broker.hooks import ClientContext, PeerInfo
from mqttcloud.broker.metrics import ConnCounters
from mqttcloud.broker.session import Session
from mqttcloud.protocol.encode import encode
from mqttcloud.protocol.errors import MQTTError, ProtocolError
from mqttcloud.protocol.framer import MAX_POSSIBLE_PACKET_SIZE
from mqttcloud.protocol.packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    Subscribe,
    Unsubscribe,
    Will,
)
from mqttcloud.protocol.properties import NO_PROPERTIES, Properties
from mqttcloud.protocol.reason_codes import ReasonCode

if TYPE_CHECKING:
    from mqttcloud.broker.core import Broker

MAX_PIPELINED = 64  # packets held while authenticating


class Channel:
    """One connection. Created by `Broker.open_channel`; driven by `handle`, `tick`, `fail`."""

    def __init__(self, broker: "Broker", channel_id: ChannelId, peer: PeerInfo, now: float) -> None:
        self.broker = broker
        self.channel_id = channel_id
        self.peer = peer
        self.state = ChannelState.CONNECTING
        self.opened_at = now
        self.version = 5  # until CONNECT says otherwise
        self.clientid = ""
        self.username: str | None = None
        self.context = ClientContext(clientid="", username=None, peer=peer)
        self.clean_start = True
        self.keep_alive = 0
        self.requested_keep_alive = 0
        self.session_expiry = 0
        self.requested_session_expiry = 0
        self.last_received = now
        self.connected_at: float | None = None
        self.session: Session | None = None
        self.assigned_clientid = False
        self.will: Will | None = None
        # what the client told us about itself (v5 CONNECT properties)
        self.client_receive_maximum = 65535
        self.send_window = 65535  # QoS 1/2 PUBLISHes unacknowledged at once, set at CONNACK
        self.client_maximum_packet_size = 0  # 0 = no limit
        self.client_topic_alias_maximum = 0
        self.request_problem_information = True
        # topic aliases: inbound (alias -> topic) and outbound (topic -> alias)
        self.inbound_aliases: dict[int, str] = {}
        self.outbound_aliases: dict[str, int] = {}
        self.pending: list[Packet] = []
        # topic -> may this client publish there (`handlers.publish`; emptied by Broker on ACL change)
        self.publish_acl: dict[str, bool] = {}
        self.counters = ConnCounters()
        # outbound budget (`broker.budget`): bytes the runtime holds unsent for this connection, and
        # whether deliveries wait in the session queue for the socket to drain
        self.unsent = 0
        self.reported = 0  # `unsent` at the last `flushed`: this channel's share of `Broker.unsent_total`
        self.congested = False

    # --- facts the runtime reads --------------------------------------------------------------

    @property
    def protocol_version(self) -> int:
        """4 (3.1.1) or 5 once CONNECT was handled; decode later packets with it."""
        return self.version

    @property
    def max_packet_size(self) -> int:
        """The largest packet the server accepts from this client (the framer enforces it, 0x95)."""
        return self.broker.limits.max_packet_size or MAX_POSSIBLE_PACKET_SIZE

    @property
    def is_connected(self) -> bool:
        return self.state is ChannelState.CONNECTED

    # --- inputs ----------------------------------------------------------------------------------

    def handle(self, packet: Packet, now: float) -> list[Action]:
        """Apply one decoded inbound packet and return what the runtime must do.

        Raises:
            ProtocolError: the packet is not legal now; pass it to `fail`.
        """
        state = self.state
        if state is ChannelState.CLOSED:
            return []
        self.last_received = now
        self.counters.recv_pkt += 1
        self.broker.counters.values["packets.received"] += 1
        if state is ChannelState.CONNECTED:  # the hot cases, ahead of the `match`
            if type(packet) is Publish:
                return publish.handle_publish(self, packet, now)
            if type(packet) is PubAck:  # a QoS 1 subscriber acknowledges every delivery
                return publish.handle_puback(self, packet, now)
        if state is ChannelState.AUTHENTICATING:
            return self._hold(packet)
        if state is ChannelState.CONNECTING and not isinstance(packet, Connect):
            raise ProtocolError("first packet must be CONNECT")  # [MQTT-3.1.0-1]
        return self.dispatch(packet, now)

    def dispatch(self, packet: Packet, now: float) -> list[Action]:
        """The one `match`: a packet already counted and admitted by `handle` to its handler."""
        state = self.state
        match packet:
            case Publish():
                return publish.handle_publish(self, packet, now)
            case PubAck():
                return publish.handle_puback(self, packet, now)
            case PubRec():
                return publish.handle_pubrec(self, packet, now)
            case PubRel():
                return publish.handle_pubrel(self, packet, now)
            case PubComp():
                return publish.handle_pubcomp(self, packet, now)
            case Subscribe():
                return subscribe.handle_subscribe(self, packet, now)
            case Unsubscribe():
                return subscribe.handle_unsubscribe(self, packet, now)
            case PingReq():
                self.broker.counters.inc("packets.pingreq.received")
                self.broker.counters.inc("packets.pingresp.sent")
                return [self.send(PingResp())]
            case Connect():
                if state is not ChannelState.CONNECTING:
                    raise ProtocolError("second CONNECT")  # [MQTT-3.1.0-2]
                return connect.handle_connect(self, packet, now)
            case Disconnect():
                return connect.handle_disconnect(self, packet, now)
            case Auth():
                self.broker.counters.inc("packets.auth.received")
                # Enhanced authentication is not offered, so AUTH is never expected (spec 4.12)
                raise ProtocolError("AUTH without an authentication method", ReasonCode.PROTOCOL_ERROR)
            case _:
                # CONNACK, SUBACK, UNSUBACK, PINGRESP are server-to-client only
                raise ProtocolError(f"unexpected {type(packet).__name__} from a client")

    def _hold(self, packet: Packet) -> list[Action]:
        if isinstance(packet, Connect):
            raise ProtocolError("second CONNECT")  # [MQTT-3.1.0-2]
        if len(self.pending) >= MAX_PIPELINED:
            raise ProtocolError("too many packets before CONNACK", ReasonCode.RECEIVE_MAXIMUM_EXCEEDED)
        self.pending.append(packet)
        return []

    def fail(self, error: MQTTError, now: float) -> list[Action]:
        """Turn a decode/protocol error into the wire answer and close; publish the will if any.

        Before CONNACK: a CONNACK with the error's reason (v5, or v3.1.1 where a return code exists).
        After: DISCONNECT with the reason (v5) or a bare close (v3.1.1) (spec 4.13).
        """
        if self.state is ChannelState.CLOSED:
            return []
        actions: list[Action] = []
        reason = error.reason_code
        if self.state is ChannelState.CONNECTING:
            # Answer only a CONNECT whose protocol level was read; bytes that never got that far
            # (a bad fixed header, garbage) are closed silently [MQTT-3.1.2-1] / spec 4.13.
            level = error.protocol_level
            if level is not None:
                if level in (3, 4, 5):
                    self.version = level
                else:  # [MQTT-3.1.2-2] an unsupported level: 0x84, in 3.1.1 form for older levels
                    self.version = 4 if level < 5 else 5
                if self.version == 5 or reason in (
                    ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
                    ReasonCode.CLIENT_IDENTIFIER_NOT_VALID,
                ):
                    actions.append(self.send(ConnAck(reason_code=reason)))
                    self.broker.counters.inc("packets.connack.error")
        elif self.version == 5 and self.state is ChannelState.CONNECTED:
            actions.append(
                self.send(Disconnect(reason_code=reason, properties=self.reason_props(error.message)))
            )
            self.broker.counters.inc("packets.disconnect.sent")
        why = f"{reason.name}: {error.message}"
        actions.append(Close(self.channel_id, why))
        actions.extend(self.broker.channel_gone(self, now, normal=False, reason=why))
        return actions

    def connection_lost(self, now: float) -> list[Action]:
        """The transport closed without the core asking (same as `Broker.channel_closed`)."""
        if self.state is ChannelState.CLOSED:
            return []
        return self.broker.channel_gone(self, now, normal=False, reason="connection lost")

    def next_deadline(self) -> float | None:
        """CONNECT timeout, keep-alive x1.5 (spec 3.1.2.10), or QoS 1/2 retry, whichever is first."""
        state = self.state
        if state is ChannelState.CLOSED:
            return None
        if state is not ChannelState.CONNECTED:
            return self.opened_at + self.broker.limits.connect_timeout
        deadline: float | None = None
        if self.keep_alive:
            deadline = self.last_received + self.keep_alive * 1.5
        retry = self.broker.limits.retry_interval
        if retry > 0 and self.version != 5 and self.session is not None and self.session.inflight:
            oldest = min(d.sent_at for d in self.session.inflight.values()) + retry
            deadline = oldest if deadline is None else min(deadline, oldest)
        return deadline

    def deadline_horizon(self) -> float:
        """A lower bound on how far ahead of the event that sets it any new deadline lies.

        Input moves keep-alive to `last_received` + 1.5 x keep-alive; a QoS 1/2 PUBLISH sent to a
        3.1.1 client is retried `retry_interval` after it went out; CONNECT's timeout is set when the
        channel opens. So a timer armed no later than now + this fires no later than any deadline the
        last event can have set (`MqttConnection.arm_timer` skips `next_deadline` then). 0 before
        CONNECT is accepted: the keep-alive it brings may come before the CONNECT timeout.
        """
        if self.state is not ChannelState.CONNECTED:
            return 0.0
        horizon = self.keep_alive * 1.5 if self.keep_alive else math.inf
        retry = self.broker.limits.retry_interval
        if retry > 0 and self.version != 5 and retry < horizon:
            return retry
        return horizon

    def tick(self, now: float) -> list[Action]:
        """Act on expired deadlines: close on CONNECT/keep-alive timeout, re-send unacked QoS 1/2."""
        state = self.state
        if state is ChannelState.CLOSED:
            return []
        if state is not ChannelState.CONNECTED:
            if now >= self.opened_at + self.broker.limits.connect_timeout:
                return [
                    Close(self.channel_id, "connect timeout"),
                    *self.broker.channel_gone(self, now, normal=False),
                ]
            return []
        if self.keep_alive and now >= self.last_received + self.keep_alive * 1.5:
            actions: list[Action] = []
            if self.version == 5:
                actions.append(self.send(Disconnect(reason_code=ReasonCode.KEEP_ALIVE_TIMEOUT)))
            actions.append(Close(self.channel_id, "keep alive timeout"))
            actions.extend(self.broker.channel_gone(self, now, normal=False, reason="keep alive timeout"))
            return actions
        return publish.retry_inflight(self, now)

    def bytes_received(self, n: int) -> None:
        """The runtime read `n` bytes from this channel's transport (recv_oct, bytes.received)."""
        self.counters.recv_oct += n
        self.broker.counters.values["bytes.received"] += n  # (not `inc`: once per read, hot)

    def flushed(self, written: int, buffered: int) -> bool:
        """The runtime wrote `written` bytes and now holds `buffered` unsent (its socket's write buffer).

        Returns True when deliveries wait for room that is there now: call `writable` (budget rule 4).
        """
        if written:
            self.counters.send_oct += written
            self.broker.counters.values["bytes.sent"] += written
        broker = self.broker
        broker.unsent_total += buffered - self.reported
        self.unsent = self.reported = buffered
        return self.congested and buffered < broker.soft_budget

    def writable(self, now: float) -> list[Action]:
        """The socket drained under the soft budget: send what waits in the session queue."""
        self.congested = False
        session = self.session
        if self.state is not ChannelState.CONNECTED or session is None or not session.queue:
            return []
        out = Out()
        drain(self, session, now, out)
        return out.result()

    # --- helpers for handlers ------------------------------------------------------------------

    def send(self, packet: Packet) -> Send:
        """Encode one packet for this client and count it."""
        self.counters.send_pkt += 1
        self.broker.counters.inc("packets.sent")
        return Send(self.channel_id, encode(packet, self.version))

    def send_encoded(self, data: bytes) -> Send:
        """`send` for a packet already encoded for this client's version (a constant CONNACK)."""
        self.counters.send_pkt += 1
        self.broker.counters.inc("packets.sent")
        return Send(self.channel_id, data)

    def reason_props(self, reason_string: str | None) -> Properties:
        """Properties carrying a reason string, unless the client asked for none (spec 3.1.2.11.7)."""
        if self.version != 5 or not reason_string or not self.request_problem_information:
            return NO_PROPERTIES
        return Properties(reason_string=reason_string)
