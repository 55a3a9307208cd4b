"""PUBLISH from a client (QoS 0/1/2 inbound) and the acknowledgements of outbound QoS 1/2.

Inbound, in spec order: topic alias (spec 3.3.2.3.4), topic validity and level limit, receive maximum
for QoS 2 [MQTT-3.3.4-9], authorization (0x87), duplicate QoS 2, then route and acknowledge. The
PUBACK/PUBREC is returned in the same batch as the routing's `Persist`, so the runtime only sends it
once the queued copies are durable (`actions` rule 1). The publish rate is not checked here: the
runtime reads a client over its rate more slowly (`runtime.fairness`).

Fast path (measured with `bench/core_publish.py`, v3.1.1, CPU µs per inbound PUBLISH on the loaded
2-core box; fan-in QoS 0 ~15 → 11-15, QoS 1 ~31 → 23-27): each channel remembers its publish decision
per topic (`Channel.publish_acl`: the topic was validated and authorized once; emptied by
`Broker.set_authorizer` and `Broker.update_spec`), counters are plain dict/slot updates, and a PUBACK
0x00 is 4 cached bytes instead of a `PubAck` encoded per message.

Outbound: PUBACK / PUBREC / PUBCOMP free the in-flight slot and drain the queue; PUBREC is answered
with PUBREL (spec 4.3.3). Unknown packet ids are counted as `missed` and answered with 0x92 (v5).
"""

from typing import TYPE_CHECKING

from mqttcloud.broker.actions import Action, Send
from mqttcloud.broker.delivery import Out, drain, redeliver
from mqttcloud.broker.durability import (
    InboundQos2Received,
    InboundQos2Released,
    MessageAcked,
    MessageReleased,
)
from mqttcloud.broker.limits import TOPIC_ALIAS_MAXIMUM
from mqttcloud.broker.session import AWAIT_COMP, Delivery
from mqttcloud.protocol.errors import ProtocolError
from mqttcloud.protocol.packets import PubAck, PubComp, Publish, PubRec, PubRel
from mqttcloud.protocol.properties import NO_PROPERTIES
from mqttcloud.protocol.reason_codes import ReasonCode
from mqttcloud.protocol.topics import validate_topic_name

if TYPE_CHECKING:
    from mqttcloud.broker.channel import Channel


def _resolve_topic(ch: "Channel", pkt: Publish) -> str:
    """Apply an inbound Topic Alias (spec 3.3.2.3.4)."""
    alias = pkt.properties.topic_alias
    if alias is None or ch.version != 5:
        return pkt.topic
    if alias > TOPIC_ALIAS_MAXIMUM:
        # (spec 3.3.2.3.4) an alias above our Topic Alias Maximum is a protocol error (0x94)
        raise ProtocolError(f"topic alias {alias} above maximum", ReasonCode.TOPIC_ALIAS_INVALID)
    if pkt.topic:
        ch.inbound_aliases[alias] = pkt.topic
        return pkt.topic
    topic = ch.inbound_aliases.get(alias)
    if topic is None:
        # spec 3.3.2.3.4: an alias with an empty topic must already be mapped
        raise ProtocolError(f"unknown topic alias {alias}", ReasonCode.PROTOCOL_ERROR)
    return topic


#: Inbound QoS 2 packet ids waiting longer than this for PUBREL are forgotten (EMQX await_rel_timeout).
AWAIT_REL_TIMEOUT = 300.0


def _expire_awaiting_rel(ch: "Channel", now: float) -> None:
    session = ch.session
    assert session is not None
    stale = [pid for pid, at in session.awaiting_rel.items() if at + AWAIT_REL_TIMEOUT <= now]
    for pid in stale:
        del session.awaiting_rel[pid]
    ch.broker.counters.inc("messages.dropped.await_pubrel_timeout", len(stale))


def _ack(ch: "Channel", pkt: Publish, reason: ReasonCode, why: str | None = None) -> list[Action]:
    if pkt.qos == 0:
        return []
    assert pkt.packet_id is not None
    if ch.version != 5:
        reason = ReasonCode.SUCCESS  # v3.1.1 acks carry no reason code
    props = ch.reason_props(why) if reason.is_error else ch.reason_props(None)
    if pkt.qos == 1:
        ch.broker.counters.inc("packets.puback.sent")
        return [ch.send(PubAck(packet_id=pkt.packet_id, reason_code=reason, properties=props))]
    ch.broker.counters.inc("packets.pubrec.sent")
    return [ch.send(PubRec(packet_id=pkt.packet_id, reason_code=reason, properties=props))]


#: Publish decisions remembered per channel (topic → allowed); the memo is emptied when this full.
MAX_ACL_MEMO = 1024


def handle_publish(ch: "Channel", pkt: Publish, now: float) -> list[Action]:
    broker = ch.broker
    m = broker.counters.values
    m["packets.publish.received"] += 1
    m["messages.received"] += 1
    qos = pkt.qos
    c = ch.counters
    c.recv_msg += 1
    if qos == 0:
        c.recv_msg_qos0 += 1
        m["messages.qos0.received"] += 1
    elif qos == 1:
        c.recv_msg_qos1 += 1
        m["messages.qos1.received"] += 1
    else:
        c.recv_msg_qos2 += 1
        m["messages.qos2.received"] += 1
    props = pkt.properties
    if props is NO_PROPERTIES:
        topic = pkt.topic
    else:
        if props.subscription_identifiers:
            # [MQTT-3.3.4-6] a client PUBLISH must not carry a Subscription Identifier
            raise ProtocolError("subscription identifier in client PUBLISH")
        topic = _resolve_topic(ch, pkt)
    # A topic in the memo was validated under the current limits (Broker clears memos on change).
    allowed = ch.publish_acl.get(topic)
    if allowed is None:
        validate_topic_name(topic, broker.limits.max_topic_levels)  # 0x90 as DISCONNECT / close
    session = ch.session
    assert session is not None
    if qos == 2:
        assert pkt.packet_id is not None
        if pkt.packet_id in session.awaiting_rel:
            # spec 4.3.3: a re-sent QoS 2 PUBLISH is acknowledged again, not routed twice
            return _ack(ch, pkt, ReasonCode.SUCCESS)
        limit = min(broker.limits.max_inflight or 65535, broker.limits.max_awaiting_rel or 65535)
        if len(session.awaiting_rel) >= limit:
            _expire_awaiting_rel(ch, now)
        if len(session.awaiting_rel) >= limit:
            # [MQTT-3.3.4-9] more QoS 2 in flight than our Receive Maximum
            raise ProtocolError("receive maximum exceeded", ReasonCode.RECEIVE_MAXIMUM_EXCEEDED)
    m["client.authorize"] += 1
    if allowed is None:
        # Authorizers answer from (client, topic) only; a new rule set is a new authorizer, and
        # `Broker.set_authorizer` empties every memo (hooks.Authorizer).
        allowed = broker.authorizer.can_publish(ch.context, topic)
        memo = ch.publish_acl
        if len(memo) >= MAX_ACL_MEMO:
            memo.clear()
        memo[topic] = allowed
    if not allowed:
        m["authorization.deny"] += 1
        m["packets.publish.auth_error"] += 1
        m["messages.dropped"] += 1
        c.recv_msg_dropped += 1
        if broker.history is not None:
            broker.history.dropped(ch.clientid, topic, "not_authorized", now)
        return _ack(ch, pkt, ReasonCode.NOT_AUTHORIZED, "not authorized")
    m["authorization.allow"] += 1
    msg = broker.make_message(
        topic, pkt.payload, qos=qos, retain=pkt.retain, properties=props, publisher=ch.clientid, now=now
    )
    out = Out()
    matched = broker.router.route(msg, now, out)
    if qos == 0:
        return out.result()
    packet_id = pkt.packet_id
    assert packet_id is not None
    if qos == 2:
        session.awaiting_rel[packet_id] = now
        if session.stored:  # PUBREC waits until the id is durable (spec 4.1 session state)
            out.records.append(InboundQos2Received(session.clientid, packet_id, now))
    elif matched or ch.version != 5:
        # PUBACK 0x00 without properties: 4 fixed bytes in both versions (spec 3.4.2.1)
        m["packets.puback.sent"] += 1
        m["packets.sent"] += 1
        c.send_pkt += 1
        out.actions.append(Send(ch.channel_id, _PUBACK_OK[packet_id]))
        return out.result()
    reason = ReasonCode.SUCCESS if matched else ReasonCode.NO_MATCHING_SUBSCRIBERS
    out.actions.extend(_ack(ch, pkt, reason))
    return out.result()


class _PubAckOk(dict[int, bytes]):
    """PUBACK 0x00 bytes by packet id, built on first use (at most 65,535 small `bytes`)."""

    def __missing__(self, packet_id: int) -> bytes:
        data = self[packet_id] = b"\x40\x02" + packet_id.to_bytes(2, "big")
        return data


_PUBACK_OK = _PubAckOk()


def _finish(ch: "Channel", d: Delivery, now: float, out: Out) -> None:
    session = ch.session
    assert session is not None
    del session.inflight[d.packet_id]
    ch.broker.counters.inc("messages.acked")
    if ch.broker.events is not None:
        ch.broker.events.message_acked(ch, d.message, d.qos, now)
    if session.stored:
        out.records.append(MessageAcked(session.clientid, d.message.id))
    drain(ch, session, now, out)


def handle_puback(ch: "Channel", pkt: PubAck, now: float) -> list[Action]:
    m = ch.broker.counters.values
    m["packets.puback.received"] += 1
    session = ch.session
    assert session is not None
    d = session.inflight.get(pkt.packet_id)
    if d is None or d.qos != 1:
        # in use: the id belongs to a QoS 2 delivery (EMQX's `inuse`); missed: nothing in flight has it
        m["packets.puback.missed" if d is None else "packets.puback.inuse"] += 1
        return []
    if not session.queue and not session.stored and ch.broker.events is None:
        # the common case of `_finish`: nothing to persist, nothing waiting for the freed slot
        del session.inflight[d.packet_id]
        m["messages.acked"] += 1
        return []
    out = Out()
    _finish(ch, d, now, out)
    return out.result()


def handle_pubrec(ch: "Channel", pkt: PubRec, now: float) -> list[Action]:
    ch.broker.counters.inc("packets.pubrec.received")
    session = ch.session
    assert session is not None
    d = session.inflight.get(pkt.packet_id)
    out = Out()
    if d is None or d.qos != 2:
        # the id is unknown (missed), or belongs to a QoS 1 delivery (in use, as EMQX counts it); PUBREL
        # can only say 0x92 either way (spec 3.6.2.1)
        ch.broker.counters.inc("packets.pubrec.missed" if d is None else "packets.pubrec.inuse")
        out.actions.append(
            ch.send(PubRel(packet_id=pkt.packet_id, reason_code=ReasonCode.PACKET_IDENTIFIER_NOT_FOUND))
        )
        return out.result()
    if pkt.reason_code.is_error:
        # spec 4.3.3: a PUBREC with a failure code ends the exchange; no PUBREL
        _finish(ch, d, now, out)
        return out.result()
    d.state = AWAIT_COMP
    d.sent_at = now
    if session.stored:  # after a restart the broker must send PUBREL, not the PUBLISH again
        out.records.append(MessageReleased(session.clientid, d.message.id, d.packet_id))
    ch.broker.counters.inc("packets.pubrel.sent")
    out.actions.append(ch.send(PubRel(packet_id=pkt.packet_id)))  # (spec 4.3.3)
    return out.result()


def handle_pubcomp(ch: "Channel", pkt: PubComp, now: float) -> list[Action]:
    ch.broker.counters.inc("packets.pubcomp.received")
    session = ch.session
    assert session is not None
    d = session.inflight.get(pkt.packet_id)
    if d is None or d.state != AWAIT_COMP:
        # in use: the id's delivery is not released yet (or is QoS 1); missed: nothing in flight has it
        ch.broker.counters.inc("packets.pubcomp.missed" if d is None else "packets.pubcomp.inuse")
        return []
    out = Out()
    _finish(ch, d, now, out)
    return out.result()


def handle_pubrel(ch: "Channel", pkt: PubRel, now: float) -> list[Action]:
    """Inbound QoS 2, step 2: forget the packet id (durably, for a stored session) and answer PUBCOMP
    (spec 4.3.3)."""
    ch.broker.counters.inc("packets.pubrel.received")
    session = ch.session
    assert session is not None
    reason = ReasonCode.SUCCESS
    out = Out()
    if session.awaiting_rel.pop(pkt.packet_id, None) is None:
        ch.broker.counters.inc("packets.pubrel.missed")
        reason = ReasonCode.PACKET_IDENTIFIER_NOT_FOUND
    elif session.stored:  # PUBCOMP waits too: a restart must not refuse the id's next message
        out.records.append(InboundQos2Released(session.clientid, pkt.packet_id))
    ch.broker.counters.inc("packets.pubcomp.sent")
    out.actions.append(ch.send(PubComp(packet_id=pkt.packet_id, reason_code=reason)))
    return out.result()


def retry_inflight(ch: "Channel", now: float) -> list[Action]:
    """Re-send QoS 1/2 messages unacknowledged for `retry_interval` (DUP=1), as EMQX does.

    MQTT 3.1 and 3.1.1 clients only: MQTT 5 forbids resending at any time other than reconnect
    [MQTT-4.4.0-1], so v5 in-flight messages wait for the session to resume.
    """
    retry = ch.broker.limits.retry_interval
    session = ch.session
    if retry <= 0 or ch.version == 5 or session is None or not session.inflight:
        return []
    if min(d.sent_at for d in session.inflight.values()) + retry > now:
        return []
    out = Out()
    stale = [d for d in session.inflight.values() if d.sent_at + retry <= now]
    if stale:
        # reuse the resume path for the stale ones only, keeping their order
        fresh = {pid: d for pid, d in session.inflight.items() if d.sent_at + retry > now}
        for pid in fresh:
            del session.inflight[pid]
        redeliver(ch, session, now, out)
        session.inflight.update(fresh)
    return out.result()
