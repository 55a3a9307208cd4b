"""CONNECT, the authentication answer, and DISCONNECT from the client.

Spec order in `handle_connect`: validate what needs state (client id, auth method, tenant enabled),
record connection-scoped facts, then ask the runtime to authenticate (`Authenticate`). The answer
arrives in `connect_decided`: refuse, or attach/take over the session, CONNACK, redeliver.
"""

import functools
from typing import TYPE_CHECKING, Final

from mqttcloud.broker.actions import INFO, Action, Authenticate, Close, Log
from mqttcloud.broker.channel_state import ChannelState
from mqttcloud.broker.hooks import AuthRequest, ClientContext, ConnectDecision
from mqttcloud.broker.limits import TOPIC_ALIAS_MAXIMUM, cap_keep_alive, cap_session_expiry
from mqttcloud.protocol.encode import encode
from mqttcloud.protocol.errors import MQTTError, ProtocolError
from mqttcloud.protocol.packets import ConnAck, Connect, Disconnect
from mqttcloud.protocol.properties import NO_PROPERTIES, Properties
from mqttcloud.protocol.reason_codes import ReasonCode

if TYPE_CHECKING:
    from mqttcloud.broker.channel import Channel

#: The accepting CONNACK of MQTT 3.1 and 3.1.1 by (version, session present): it has no properties, so
#: it is encoded once here instead of once per CONNECT (a connect storm's path).
_V3_ACCEPT: Final = {(v, sp): encode(ConnAck(session_present=sp), v) for v in (3, 4) for sp in (False, True)}


def _v5_props(receive_maximum: int | None, maximum_packet_size: int | None) -> Properties:
    """What every v5 CONNACK of a tenant tells its clients about the server's limits."""
    return NO_PROPERTIES.evolve(
        receive_maximum=receive_maximum,
        maximum_packet_size=maximum_packet_size,
        topic_alias_maximum=TOPIC_ALIAS_MAXIMUM,
    )


@functools.lru_cache(maxsize=64)
def _v5_accept(receive_maximum: int | None, maximum_packet_size: int | None, session_present: bool) -> bytes:
    """The v5 CONNACK when the server changes nothing the client asked for: bytes per tenant limits."""
    props = _v5_props(receive_maximum, maximum_packet_size)
    return encode(ConnAck(session_present=session_present, properties=props), 5)


def refuse(ch: "Channel", reason: ReasonCode, now: float, why: str) -> list[Action]:
    """CONNACK with a failure code, then close [MQTT-3.2.2-7]; the will is not published."""
    broker = ch.broker
    broker.counters.inc("packets.connack.sent")
    broker.counters.inc("packets.connack.error")
    if reason in (ReasonCode.BAD_USER_NAME_OR_PASSWORD, ReasonCode.NOT_AUTHORIZED, ReasonCode.BANNED):
        broker.counters.inc("packets.connack.auth_error")
    ch.will = None
    if broker.history is not None:
        broker.history.refused(ch, reason, why, now)
    actions: list[Action] = [
        ch.send(ConnAck(reason_code=reason, properties=ch.reason_props(why))),
        Close(ch.channel_id, f"connect refused: {reason.name}"),
    ]
    if broker.log_level <= INFO:
        fields = (("clientid", ch.clientid), ("reason", reason.name), ("why", why))
        actions.append(Log(INFO, "client.refused", fields))
    actions.extend(broker.channel_gone(ch, now, normal=True))
    return actions


def handle_connect(ch: "Channel", pkt: Connect, now: float) -> list[Action]:
    broker = ch.broker
    limits = broker.limits
    m = broker.counters.values  # (dict updates, not `inc`: once per connect, a storm's hot path)
    m["packets.connect.received"] += 1
    m["client.connect"] += 1
    ch.version = int(pkt.protocol_level)
    v5 = ch.version == 5
    props = pkt.properties
    ch.clean_start = pkt.clean_start
    if v5:
        if props.request_problem_information is not None:
            ch.request_problem_information = props.request_problem_information
        if props.receive_maximum is not None:
            ch.client_receive_maximum = props.receive_maximum
        if props.maximum_packet_size is not None:
            ch.client_maximum_packet_size = props.maximum_packet_size
        if props.topic_alias_maximum is not None:
            ch.client_topic_alias_maximum = props.topic_alias_maximum
        if props.authentication_method is not None:
            # Enhanced authentication (spec 4.12) is not supported: 0x8C (spec 3.1.2.11.9)
            return refuse(
                ch, ReasonCode.BAD_AUTHENTICATION_METHOD, now, "enhanced authentication not supported"
            )
    clientid = pkt.client_id
    if not clientid:
        if ch.version == 3:
            # MQTT 3.1 requires a client id (spec 3.1 "Client Identifier"), as mosquitto answers
            return refuse(ch, ReasonCode.CLIENT_IDENTIFIER_NOT_VALID, now, "MQTT 3.1 needs a client id")
        if not v5 and not pkt.clean_start:
            # [MQTT-3.1.3-8] v3.1.1: an empty client id requires CleanSession=1 (CONNACK 0x02)
            return refuse(
                ch, ReasonCode.CLIENT_IDENTIFIER_NOT_VALID, now, "empty client id needs clean session"
            )
        clientid = broker.new_clientid()  # [MQTT-3.1.3-6] the server assigns a unique id
        ch.assigned_clientid = True
    # MQTT 3.1 caps client ids at 23 characters; like EMQX, only `max_clientid_len` applies
    if len(clientid) > limits.max_clientid_len:
        return refuse(ch, ReasonCode.CLIENT_IDENTIFIER_NOT_VALID, now, "client id too long")
    if not broker.enabled:
        return refuse(ch, ReasonCode.SERVER_UNAVAILABLE, now, "deployment disabled")
    ch.clientid = clientid
    ch.username = pkt.username
    ch.keep_alive = cap_keep_alive(pkt.keep_alive, limits) if v5 else pkt.keep_alive
    ch.requested_keep_alive = pkt.keep_alive
    ch.will = pkt.will
    if v5:
        requested = props.session_expiry_interval or 0
    else:
        # MQTT 3.1.1 has no session expiry: a CleanSession=0 session lasts `max_session_expiry`
        requested = 0 if pkt.clean_start else limits.max_session_expiry
    ch.requested_session_expiry = requested
    ch.session_expiry = cap_session_expiry(requested, limits)
    ch.state = ChannelState.AUTHENTICATING
    m["client.authenticate"] += 1
    request = AuthRequest(
        clientid=clientid,
        username=pkt.username,
        password=pkt.password,
        peer=ch.peer,
        proto_ver=ch.version,
    )
    return [Authenticate(ch.channel_id, request)]


def connect_decided(ch: "Channel", decision: ConnectDecision, now: float) -> list[Action]:
    """Finish CONNECT: refuse, or attach the session (taking it over), CONNACK and redeliver."""
    broker = ch.broker
    limits = broker.limits
    if ch.state is not ChannelState.AUTHENTICATING:
        return []  # the transport went away while the runtime was checking credentials
    if not decision.allowed:
        broker.counters.inc("authentication.failure")
        reason = decision.reason_code if decision.reason_code.is_error else ReasonCode.NOT_AUTHORIZED
        return refuse(ch, reason, now, decision.reason_string or "not authorized")
    m = broker.counters.values
    m["authentication.success"] += 1
    if limits.max_connections and broker.connected_count() >= limits.max_connections:
        old = broker.sessions.get(ch.clientid)
        if old is None or old.connected_channel is None:  # a takeover does not add a connection
            return refuse(ch, ReasonCode.QUOTA_EXCEEDED, now, "connection limit reached")
    ch.context = ClientContext(
        clientid=ch.clientid, username=ch.username, peer=ch.peer, is_superuser=decision.is_superuser
    )
    # [MQTT-3.3.4-9] the client's Receive Maximum, capped by the tenant's in-flight window
    inflight = limits.max_inflight
    rm = ch.client_receive_maximum
    ch.send_window = min(inflight, rm) if inflight > 0 else rm
    actions, session_present = broker.attach_session(ch, now)
    ch.state = ChannelState.CONNECTED
    ch.connected_at = now
    ch.last_received = now
    receive_maximum = limits.max_inflight if limits.max_inflight < 65535 else None
    maximum_packet_size = limits.max_packet_size or None
    if ch.version != 5:
        actions.append(ch.send_encoded(_V3_ACCEPT[ch.version, session_present]))
    elif (
        not ch.assigned_clientid
        and ch.session_expiry == ch.requested_session_expiry
        and ch.keep_alive == ch.requested_keep_alive
    ):  # the server changes nothing the client asked for: the tenant's constant CONNACK
        actions.append(ch.send_encoded(_v5_accept(receive_maximum, maximum_packet_size, session_present)))
    else:
        changes: dict[str, object] = {}
        if ch.assigned_clientid:
            changes["assigned_client_identifier"] = ch.clientid  # (spec 3.2.2.3.7)
        if ch.session_expiry != ch.requested_session_expiry:
            changes["session_expiry_interval"] = ch.session_expiry  # spec 3.2.2.3.2: the server's choice
        if ch.keep_alive != ch.requested_keep_alive:
            changes["server_keep_alive"] = ch.keep_alive  # [MQTT-3.2.2-21]
        props = _v5_props(receive_maximum, maximum_packet_size).evolve(**changes)
        actions.append(ch.send(ConnAck(session_present=session_present, properties=props)))
    m["packets.connack.sent"] += 1
    m["client.connack"] += 1
    m["client.connected"] += 1
    if broker.log_level <= INFO:
        fields = (
            ("clientid", ch.clientid),
            ("username", ch.username),
            ("peer", f"{ch.peer.ip_address}:{ch.peer.port}"),
            ("proto_ver", ch.version),
            ("clean_start", ch.clean_start),
            ("session_present", session_present),
        )
        actions.append(Log(INFO, "client.connected", fields))
    if broker.events is not None:
        broker.events.client_connected(ch, now)
    if broker.history is not None:
        broker.history.connected(ch, now)
    actions.extend(broker.resume(ch, now))
    pending, ch.pending = ch.pending, []
    for packet in pending:
        try:
            actions.extend(ch.dispatch(packet, now))  # counted when it was held
        except MQTTError as exc:  # a pipelined packet broke a rule: answer it here, not in the caller
            actions.extend(ch.fail(exc, now))
            break
    return actions


def handle_disconnect(ch: "Channel", pkt: Disconnect, now: float) -> list[Action]:
    broker = ch.broker
    broker.counters.inc("packets.disconnect.received")
    session = ch.session
    requested = pkt.properties.session_expiry_interval
    if ch.version == 5 and requested is not None and session is not None:
        if ch.session_expiry == 0 and requested != 0:
            # (spec 3.14.2.2.2) cannot turn a non-persistent session persistent at DISCONNECT
            raise ProtocolError("session expiry set at DISCONNECT after 0 at CONNECT")
        ch.session_expiry = cap_session_expiry(requested, broker.limits)
        session.expiry_interval = ch.session_expiry
    # [MQTT-3.14.4-3] a normal DISCONNECT discards the will; 0x04 asks for it to be published
    normal = pkt.reason_code != ReasonCode.DISCONNECT_WITH_WILL_MESSAGE
    actions: list[Action] = [Close(ch.channel_id, "client disconnected")]
    actions.extend(broker.channel_gone(ch, now, normal=normal, reason=f"DISCONNECT {pkt.reason_code.name}"))
    return actions
