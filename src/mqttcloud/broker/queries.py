"""Admin queries and other whole-broker operations kept out of `core.py` for size.

Owns: the admin-channel answers (`ClientInfo`, `SubscriptionInfo`, pages, on-behalf subscribe,
HTTP publish, `stats`) and `$SYS` publishing. Every function takes the `Broker` first.
Rule: queries never change state; the mutating ones (subscribe/unsubscribe on behalf, publish) go
through the same core methods as MQTT packets do.
"""

import base64
import binascii
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from mqttcloud import contracts
from mqttcloud.broker.actions import Action
from mqttcloud.broker.delivery import Out
from mqttcloud.broker.hooks import PeerInfo
from mqttcloud.broker.metrics import ConnCounters
from mqttcloud.broker.session import Session
from mqttcloud.broker.subscriptions import Subscription, filter_matches, split_share
from mqttcloud.protocol.errors import ProtocolError
from mqttcloud.protocol.properties import NO_PROPERTIES, Properties
from mqttcloud.protocol.topics import validate_topic_filter, validate_topic_name

if TYPE_CHECKING:
    from mqttcloud.broker.channel import Channel
    from mqttcloud.broker.core import Broker

T = TypeVar("T")


def _page(items: Sequence[T], page: int, limit: int) -> tuple[list[T], bool]:
    start = (page - 1) * limit
    return list(items[start : start + limit]), start + limit < len(items)


def _channel_of(broker: "Broker", session: Session) -> "Channel | None":
    chid = session.connected_channel
    if chid is not None:
        return broker.channels.get(chid)
    return broker.last_channel.get(session.clientid)


def _info(broker: "Broker", session: Session) -> contracts.ClientInfo:
    ch = _channel_of(broker, session)
    # A session restored from the log has no connection yet: report what the session knows.
    c = ch.counters if ch is not None else ConnCounters()
    peer = ch.peer if ch is not None else PeerInfo(listener="", ip_address="", port=0)
    limits = broker.limits
    connected = session.connected_channel is not None
    connected_at = ch.connected_at if ch is not None else None
    return contracts.ClientInfo(
        clientid=session.clientid,
        username=ch.username if ch is not None else session.username,
        node=broker.node_name,
        listener=peer.listener,
        peersni=peer.peersni,
        ip_address=peer.ip_address,
        port=peer.port,
        proto_ver=ch.version if ch is not None else session.proto_ver,
        connected=connected,
        connected_at=connected_at if connected_at is not None else session.created_at,
        disconnected_at=None if connected else session.disconnected_at,
        created_at=session.created_at,
        keepalive=ch.keep_alive if ch is not None else 0,
        clean_start=ch.clean_start if ch is not None else False,
        expiry_interval=session.expiry_interval,
        is_persistent=session.is_persistent,
        subscriptions_cnt=len(session.subscriptions),
        subscriptions_max=limits.max_subscriptions_per_client,
        inflight_cnt=len(session.inflight),
        inflight_max=limits.max_inflight,
        mqueue_len=len(session.queue),
        mqueue_max=limits.max_queue_len,
        mqueue_dropped=session.dropped_queue_full,
        awaiting_rel_cnt=len(session.awaiting_rel),
        awaiting_rel_max=limits.max_awaiting_rel,
        recv_oct=c.recv_oct,
        recv_cnt=c.recv_pkt,
        recv_pkt=c.recv_pkt,
        recv_msg=c.recv_msg,
        recv_msg_qos0=c.recv_msg_qos0,
        recv_msg_qos1=c.recv_msg_qos1,
        recv_msg_qos2=c.recv_msg_qos2,
        recv_msg_dropped=c.recv_msg_dropped,
        send_oct=c.send_oct,
        send_cnt=c.send_pkt,
        send_pkt=c.send_pkt,
        send_msg=c.send_msg,
        send_msg_qos0=c.send_msg_qos0,
        send_msg_qos1=c.send_msg_qos1,
        send_msg_qos2=c.send_msg_qos2,
        send_msg_dropped=c.send_msg_dropped,
        send_msg_dropped_expired=c.send_msg_dropped_expired,
        send_msg_dropped_queue_full=c.send_msg_dropped_queue_full,
        send_msg_dropped_too_large=c.send_msg_dropped_too_large,
        cn=peer.cn,
        dn=peer.dn,
    )


def _like(needle: str | None, value: str | None) -> bool:
    return needle is None or (value is not None and needle in value)


def _keep(f: contracts.ClientFilter, i: contracts.ClientInfo) -> bool:
    state = contracts.ConnState.CONNECTED if i.connected else contracts.ConnState.DISCONNECTED
    checks = (
        f.clientid is None or f.clientid == i.clientid,
        f.username is None or f.username == i.username,
        f.ip_address is None or f.ip_address == i.ip_address,
        f.conn_state is None or f.conn_state == state,
        f.clean_start is None or f.clean_start == i.clean_start,
        f.proto_name is None or f.proto_name == i.proto_name,
        f.proto_ver is None or f.proto_ver == i.proto_ver,
        _like(f.like_clientid, i.clientid),
        _like(f.like_username, i.username),
        _like(f.like_ip_address, i.ip_address),
        f.gte_created_at is None or i.created_at >= f.gte_created_at,
        f.lte_created_at is None or i.created_at <= f.lte_created_at,
        f.gte_connected_at is None or i.connected_at >= f.gte_connected_at,
        f.lte_connected_at is None or i.connected_at <= f.lte_connected_at,
    )
    return all(checks)


def client_infos(broker: "Broker", f: contracts.ClientFilter, page: int, limit: int) -> contracts.ClientList:
    if f.clientid is not None:
        session = broker.sessions.get(f.clientid)
        sessions = [] if session is None else [session]
    else:
        sessions = list(broker.sessions.values())
    infos = [i for s in sessions if _keep(f, i := _info(broker, s))]
    data, hasnext = _page(infos, page, limit)
    return contracts.ClientList(data=data, count=len(infos), page=page, limit=limit, hasnext=hasnext)


def client_info(broker: "Broker", clientid: str) -> contracts.ClientInfo | None:
    session = broker.sessions.get(clientid)
    return None if session is None else _info(broker, session)


def _sub_info(broker: "Broker", sub: Subscription) -> contracts.SubscriptionInfo:
    return contracts.SubscriptionInfo(
        clientid=sub.clientid,
        topic=sub.topic_filter,
        qos=sub.qos,
        nl=int(sub.no_local),
        rap=int(sub.retain_as_published),
        rh=sub.retain_handling,
        share_group=sub.share_group,
        subscription_id=sub.subscription_id,
        node=broker.node_name,
    )


def subscriptions(
    broker: "Broker", f: contracts.SubscriptionFilter, page: int, limit: int
) -> contracts.SubscriptionList:
    if f.clientid is not None:
        session = broker.sessions.get(f.clientid)
        subs: Iterable[Subscription] = [] if session is None else session.subscriptions.values()
    else:
        subs = (s for session in broker.sessions.values() for s in session.subscriptions.values())
    kept = [
        _sub_info(broker, s)
        for s in subs
        if (f.topic is None or f.topic == s.topic_filter)
        and (f.qos is None or f.qos == s.qos)
        and (f.share_group is None or f.share_group == s.share_group)
        and (f.match_topic is None or filter_matches(s.topic_filter, f.match_topic))
    ]
    data, hasnext = _page(kept, page, limit)
    return contracts.SubscriptionList(data=data, count=len(kept), page=page, limit=limit, hasnext=hasnext)


def client_subscriptions(broker: "Broker", clientid: str) -> list[contracts.SubscriptionInfo] | None:
    session = broker.sessions.get(clientid)
    if session is None:
        return None
    return [_sub_info(broker, s) for s in session.subscriptions.values()]


def subscribe_on_behalf(
    broker: "Broker", args: contracts.SubscribeArgs, now: float
) -> tuple[contracts.SubscriptionInfo | None, list[Action]]:
    """Subscribe a client as if it sent SUBSCRIBE (retained messages included, rh=0)."""
    try:
        validate_topic_filter(args.topic, broker.limits.max_topic_levels)
    except ProtocolError as exc:
        raise ValueError(exc.message) from None
    session = broker.sessions.get(args.clientid)
    if session is None:
        return None, []
    group, _ = split_share(args.topic)
    is_new = args.topic not in session.subscriptions
    sub = Subscription(
        clientid=args.clientid,
        topic_filter=args.topic,
        qos=args.qos,
        no_local=bool(args.nl),
        retain_as_published=bool(args.rap),
        retain_handling=args.rh,
        share_group=group,
    )
    out = Out()
    broker.add_subscription(session, sub, out)
    ch = _channel_of(broker, session) if session.connected_channel is not None else None
    if ch is not None and group is None and (args.rh == 0 or (args.rh == 1 and is_new)):
        broker.send_retained(ch, sub, now, out)
    return _sub_info(broker, sub), out.result()


def unsubscribe_on_behalf(
    broker: "Broker", args: contracts.UnsubscribeArgs, now: float
) -> tuple[bool, list[Action]]:
    session = broker.sessions.get(args.clientid)
    if session is None:
        return False, []
    out = Out()
    removed = broker.remove_subscription(session, args.topic, out)
    return removed, out.result()


def publish_api(broker: "Broker", args: contracts.PublishArgs, now: float) -> tuple[str, int, list[Action]]:
    try:
        validate_topic_name(args.topic, broker.limits.max_topic_levels)
        payload = base64.b64decode(args.payload_b64, validate=True)
        correlation = (
            None if args.correlation_data_b64 is None else base64.b64decode(args.correlation_data_b64)
        )
    except ProtocolError as exc:
        raise ValueError(exc.message) from None
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from None
    props = Properties(
        payload_format_indicator=args.payload_format_indicator,
        message_expiry_interval=args.message_expiry_interval,
        response_topic=args.response_topic,
        correlation_data=correlation,
        content_type=args.content_type,
        user_properties=tuple((k, v) for k, v in args.user_properties),
    )
    msg = broker.make_message(
        args.topic,
        payload,
        qos=args.qos,
        retain=args.retain,
        properties=props,
        publisher=args.clientid,
        now=now,
    )
    broker.counters.inc("messages.publish")
    out = Out()
    matched = broker.route(msg, now, out)
    return msg.id_hex, matched, out.result()


def current_stats(broker: "Broker") -> dict[str, int]:
    """The EMQX gauges (`*.count`) as they are now."""
    trie = broker.trie
    return {
        "connections.count": len(broker.sessions),  # EMQX counts disconnected persistent sessions too
        "live_connections.count": broker.connected_count(),
        "channels.count": len(broker.channels),
        "sessions.count": len(broker.sessions),
        "topics.count": trie.topics_count,
        "subscriptions.count": trie.count,
        "subscribers.count": trie.count - trie.shared_count,
        "suboptions.count": trie.count,
        "subscriptions.shared.count": trie.shared_count,
        "retained.count": len(broker.retained),
        "delayed.count": 0,  # no delayed publish
    }


def bump_high_water(broker: "Broker") -> dict[str, int]:
    """Raise each `*.max` to its gauge; called where gauges grow, and by `stats`."""
    values = current_stats(broker)
    hwm = broker.high_water
    for name, value in values.items():
        key = name[: -len("count")] + "max"
        if value > hwm.get(key, 0):
            hwm[key] = value
    return values


def stats(broker: "Broker") -> contracts.TenantStats:
    values = bump_high_water(broker)
    for name in list(values):
        key = name[: -len("count")] + "max"
        values[key] = broker.high_water.get(key, 0)
    return contracts.TenantStats(values=values)


def publish_sys(broker: "Broker", now: float, out: Out) -> None:
    """`$SYS/brokers/<node>/...`: version, uptime, stats/<a>/<b>, metrics/<a>/<b> (QoS 0)."""
    base = f"$SYS/brokers/{broker.node_name}/"
    items: list[tuple[str, str]] = [
        ("version", "mqttcloud 0.1.0"),
        ("uptime", str(int(now - broker.started_at))),
    ]
    items += [("stats/" + k.replace(".", "/"), str(v)) for k, v in stats(broker).values.items()]
    items += [("metrics/" + k.replace(".", "/"), str(v)) for k, v in broker.counters.values.items()]
    for suffix, value in items:
        msg = broker.make_message(
            base + suffix,
            value.encode(),
            qos=0,
            retain=False,
            properties=NO_PROPERTIES,
            publisher=None,
            now=now,
        )
        broker.route(msg, now, out)
