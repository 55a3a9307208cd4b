"""SUBSCRIBE and UNSUBSCRIBE.

Each filter is judged on its own and refused with a per-filter reason code, never an exception
(mosquitto `handle_subscribe.c`): 0x8F invalid or too many levels, 0x87 denied by ACL, 0x97 over
`max_subscriptions_per_client`. Then retained messages are sent per Retain Handling
[MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11], never for shared subscriptions (spec 4.8.2, as
EMQX does).
"""

from typing import TYPE_CHECKING

from mqttcloud.broker.actions import Action
from mqttcloud.broker.delivery import Out
from mqttcloud.broker.subscriptions import Subscription, split_share
from mqttcloud.protocol.errors import ProtocolError
from mqttcloud.protocol.packets import SubAck, Subscribe, UnsubAck, Unsubscribe
from mqttcloud.protocol.reason_codes import BY_VALUE, ReasonCode
from mqttcloud.protocol.topics import validate_topic_filter

if TYPE_CHECKING:
    from mqttcloud.broker.channel import Channel


def handle_subscribe(ch: "Channel", pkt: Subscribe, now: float) -> list[Action]:
    broker = ch.broker
    m = broker.counters
    m.inc("packets.subscribe.received")
    session = ch.session
    assert session is not None
    sub_ids = pkt.properties.subscription_identifiers
    sub_id = sub_ids[0] if sub_ids else None
    out = Out()
    codes: list[ReasonCode] = []
    retained_for: list[tuple[Subscription, bool]] = []
    limit = broker.limits.max_subscriptions_per_client
    for req in pkt.subscriptions:
        flt = req.topic_filter
        try:
            validate_topic_filter(flt, broker.limits.max_topic_levels)
        except ProtocolError as exc:
            codes.append(exc.reason_code)
            m.inc("packets.subscribe.error")
            continue
        group = split_share(flt)[0]
        if group is not None and req.no_local and ch.version == 5:
            # [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error
            raise ProtocolError("no local on a shared subscription")
        m.inc("client.authorize")
        if not broker.authorizer.can_subscribe(ch.context, flt):
            m.inc("authorization.deny")
            m.inc("packets.subscribe.auth_error")
            codes.append(ReasonCode.NOT_AUTHORIZED)
            continue
        m.inc("authorization.allow")
        is_new = flt not in session.subscriptions
        if is_new and limit and len(session.subscriptions) >= limit:
            codes.append(ReasonCode.QUOTA_EXCEEDED)
            m.inc("packets.subscribe.error")
            continue
        sub = Subscription(
            clientid=session.clientid,
            topic_filter=flt,
            qos=int(req.qos),
            no_local=req.no_local,
            retain_as_published=req.retain_as_published,
            retain_handling=int(req.retain_handling),
            subscription_id=sub_id,
            share_group=group,
        )
        broker.add_subscription(session, sub, out)
        m.inc("client.subscribe")
        if broker.events is not None:
            broker.events.session_subscribed(ch, sub, now)
        if broker.history is not None:
            broker.history.subscribed(ch, sub, now)
        codes.append(BY_VALUE[sub.qos])  # granted QoS = requested (we support QoS 2)
        if group is None:
            retained_for.append((sub, is_new))
    m.inc("packets.suback.sent")
    out.actions.append(ch.send(SubAck(packet_id=pkt.packet_id, reason_codes=tuple(codes))))
    for sub, is_new in retained_for:
        # [MQTT-3.3.1-9] 0: send; [MQTT-3.3.1-10] 1: only if new; [MQTT-3.3.1-11] 2: never
        if sub.retain_handling == 0 or (sub.retain_handling == 1 and is_new):
            broker.send_retained(ch, sub, now, out)
    return out.result()


def handle_unsubscribe(ch: "Channel", pkt: Unsubscribe, now: float) -> list[Action]:
    broker = ch.broker
    broker.counters.inc("packets.unsubscribe.received")
    session = ch.session
    assert session is not None
    out = Out()
    codes: list[ReasonCode] = []
    for flt in pkt.topic_filters:
        if broker.remove_subscription(session, flt, out):
            broker.counters.inc("client.unsubscribe")
            if broker.events is not None:
                broker.events.session_unsubscribed(ch, flt, now)
            if broker.history is not None:
                broker.history.unsubscribed(ch, flt, now)
            codes.append(ReasonCode.SUCCESS)
        else:
            codes.append(ReasonCode.NO_SUBSCRIPTION_EXISTED)  # spec 3.11.3: v5 0x11
    broker.counters.inc("packets.unsuback.sent")
    # (spec 3.10.4) UNSUBACK even when nothing was removed; v3.1.1 drops the codes on encode
    out.actions.append(ch.send(UnsubAck(packet_id=pkt.packet_id, reason_codes=tuple(codes))))
    return out.result()
