"""Admin queries and other whole-broker operations kept out of `core.py` for size.

Owns: the admin-channel answers (`ClientInfo`, `SubscriptionInfo`, pages, on-behalf subscribe,
HTTP publish, `stats`, retained messages listed, read and deleted) and `$SYS` publishing. Every function
takes the `Broker` first.
Rule: queries never change state; the mutating ones (subscribe/unsubscribe on behalf, publish) go
through the same core methods as MQTT packets do, and a retained message deleted here is recorded in the
durable log as an empty retained PUBLISH's deletion is.
"""

import base64
import binascii
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from mqttcloud import contracts
from mqttcloud.broker.actions import Action, RetainedChanged
from mqttcloud.broker.delivery import Out
from mqttcloud.broker.durability import RetainedDeleted
from mqttcloud.broker.hooks import PeerInfo
from mqttcloud.broker.message import Message
from mqttcloud.broker.metrics import ConnCounters
from mqttcloud.broker.session import Session
from mqttcloud.broker.subscriptions import Subscription, filter_matches, split_share
from mqttcloud.contracts.retained import MAX_RETAINED_PAYLOAD
from mqttcloud.protocol.errors import ProtocolError
from mqttcloud.protocol.properties import NO_PROPERTIES, Properties
from mqttcloud.protocol.topics import match, validate_topic_filter, validate_topic_name

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


_EMPTY_COUNTERS = ConnCounters()
_NO_PEER = PeerInfo(listener="", ip_address="", port=0)


def client_dict(broker: "Broker", session: Session) -> dict[str, Any]:
    """One client as `ClientInfo.model_dump(mode="json", by_alias=True)` would give it, built directly.

    The admin channel sends these dicts as they are: building and dumping a pydantic model per client
    cost ~60 µs, 100 times per page. `tests/unit/broker/test_admin.py` checks both stay equal.
    """
    ch = _channel_of(broker, session)
    # A session restored from the log has no connection yet: report what the session knows.
    c = ch.counters if ch is not None else _EMPTY_COUNTERS
    peer = ch.peer if ch is not None else _NO_PEER
    limits = broker.limits
    connected = session.connected_channel is not None
    connected_at = ch.connected_at if ch is not None else None
    proto_ver = ch.version if ch is not None else session.proto_ver
    return {
        "clientid": session.clientid,
        "username": ch.username if ch is not None else session.username,
        "node": broker.node_name,
        "listener": peer.listener,
        "peersni": peer.peersni,
        "ip_address": peer.ip_address,
        "port": peer.port,
        "proto_name": "MQIsdp" if proto_ver == 3 else "MQTT",  # as EMQX names MQTT 3.1
        "proto_ver": proto_ver,
        "is_bridge": False,
        "connected": connected,
        "connected_at": float(connected_at if connected_at is not None else session.created_at),
        "disconnected_at": None
        if connected or session.disconnected_at is None
        else float(session.disconnected_at),
        "created_at": float(session.created_at),
        "keepalive": ch.keep_alive if ch is not None else 0,
        "clean_start": ch.clean_start if ch is not None else False,
        "expiry_interval": session.expiry_interval,
        "is_persistent": session.is_persistent,
        "subscriptions_cnt": len(session.subscriptions),
        "subscriptions_max": limits.max_subscriptions_per_client,
        "inflight_cnt": len(session.inflight),
        "inflight_max": limits.max_inflight,
        "mqueue_len": len(session.queue),
        "mqueue_max": limits.max_queue_len,
        "mqueue_dropped": session.dropped_queue_full,
        "awaiting_rel_cnt": len(session.awaiting_rel),
        "awaiting_rel_max": limits.max_awaiting_rel,
        "recv_oct": c.recv_oct,
        "recv_cnt": c.recv_pkt,
        "recv_pkt": c.recv_pkt,
        "recv_msg": c.recv_msg,
        "recv_msg.qos0": c.recv_msg_qos0,
        "recv_msg.qos1": c.recv_msg_qos1,
        "recv_msg.qos2": c.recv_msg_qos2,
        "recv_msg.dropped": c.recv_msg_dropped,
        "send_oct": c.send_oct,
        "send_cnt": c.sent_pkt(),
        "send_pkt": c.sent_pkt(),
        "send_msg": c.sent_msg(),
        "send_msg.qos0": c.sent_msg_qos0(),
        "send_msg.qos1": c.send_msg_qos1,
        "send_msg.qos2": c.send_msg_qos2,
        "send_msg.dropped": c.send_msg_dropped,
        "send_msg.dropped.expired": c.send_msg_dropped_expired,
        "send_msg.dropped.queue_full": c.send_msg_dropped_queue_full,
        "send_msg.dropped.too_large": c.send_msg_dropped_too_large,
        "cn": peer.cn,
        "dn": peer.dn,
    }


def _info(broker: "Broker", session: Session) -> contracts.ClientInfo:
    return contracts.ClientInfo.model_validate(client_dict(broker, session))


Check = Callable[[Session, "Channel | None"], bool]


def _like(needle: str, value: str | None) -> bool:
    return value is not None and needle in value


def _checks(f: contracts.ClientFilter) -> tuple[list[Check], bool]:
    """The filter as cheap predicates on raw session/channel fields (the same values `client_dict`
    reports), and whether any of them needs the channel. Only the fields that are set cost anything."""
    checks: list[Check] = []
    needs_channel = False

    def on_channel(check: Check) -> None:
        nonlocal needs_channel
        needs_channel = True
        checks.append(check)

    def username(s: Session, ch: "Channel | None") -> str | None:
        return ch.username if ch is not None else s.username

    def ip_address(ch: "Channel | None") -> str:
        return ch.peer.ip_address if ch is not None else ""

    def proto_name(s: Session, ch: "Channel | None") -> str:
        return "MQIsdp" if (ch.version if ch is not None else s.proto_ver) == 3 else "MQTT"

    def connected_at(s: Session, ch: "Channel | None") -> float:
        at = ch.connected_at if ch is not None else None
        return at if at is not None else s.created_at

    if f.username is not None:
        want_user = f.username
        on_channel(lambda s, ch: username(s, ch) == want_user)
    if f.ip_address is not None:
        want_ip = f.ip_address
        on_channel(lambda s, ch: ip_address(ch) == want_ip)
    if f.conn_state is not None:
        if f.conn_state is contracts.ConnState.CONNECTED:
            checks.append(lambda s, ch: s.connected_channel is not None)
        elif f.conn_state is contracts.ConnState.DISCONNECTED:
            checks.append(lambda s, ch: s.connected_channel is None)
        else:  # IDLE: never reported
            checks.append(lambda s, ch: False)
    if f.clean_start is not None:
        want_clean = f.clean_start
        on_channel(lambda s, ch: (ch.clean_start if ch is not None else False) == want_clean)
    if f.proto_name is not None:
        want_name = f.proto_name
        on_channel(lambda s, ch: proto_name(s, ch) == want_name)
    if f.proto_ver is not None:
        want_ver = f.proto_ver
        on_channel(lambda s, ch: (ch.version if ch is not None else s.proto_ver) == want_ver)
    if f.like_clientid is not None:
        like_id = f.like_clientid
        checks.append(lambda s, ch: like_id in s.clientid)
    if f.like_username is not None:
        like_user = f.like_username
        on_channel(lambda s, ch: _like(like_user, username(s, ch)))
    if f.like_ip_address is not None:
        like_ip = f.like_ip_address
        on_channel(lambda s, ch: like_ip in ip_address(ch))
    if f.gte_created_at is not None:
        gte_created = f.gte_created_at
        checks.append(lambda s, ch: s.created_at >= gte_created)
    if f.lte_created_at is not None:
        lte_created = f.lte_created_at
        checks.append(lambda s, ch: s.created_at <= lte_created)
    if f.gte_connected_at is not None:
        gte_connected = f.gte_connected_at
        on_channel(lambda s, ch: connected_at(s, ch) >= gte_connected)
    if f.lte_connected_at is not None:
        lte_connected = f.lte_connected_at
        on_channel(lambda s, ch: connected_at(s, ch) <= lte_connected)
    return checks, needs_channel


def select_clients(
    broker: "Broker", f: contracts.ClientFilter, page: int, limit: int
) -> tuple[list[Session], int, bool]:
    """The sessions of one page of the filtered client list, the filtered count and `hasnext`.

    No `ClientInfo` is built here: filters read raw session/channel fields, so 10,000 sessions cost
    a few ms (unfiltered: O(page offset)).
    """
    start = (page - 1) * limit
    if f.clientid is not None:
        session = broker.sessions.get(f.clientid)
        candidates: Iterable[Session] = [] if session is None else [session]
    else:
        candidates = broker.sessions.values()
    checks, needs_channel = _checks(f)
    if not checks:
        if f.clientid is None:
            total = len(broker.sessions)
            chosen = list(itertools.islice(candidates, start, start + limit))
        else:
            kept = list(candidates)
            total, chosen = len(kept), kept[start : start + limit]
        return chosen, total, start + limit < total
    kept = []
    channels, last_channel = broker.channels, broker.last_channel
    ch: Channel | None = None
    for s in candidates:
        if needs_channel:
            chid = s.connected_channel
            ch = channels.get(chid) if chid is not None else last_channel.get(s.clientid)
        for check in checks:
            if not check(s, ch):
                break
        else:
            kept.append(s)
    return kept[start : start + limit], len(kept), start + limit < len(kept)


def connected_identities(broker: "Broker") -> list[tuple[str, str | None, str]]:
    """(clientid, username, ip_address) of every connected client, as `client_dict` reports them: what a
    ban is checked against, without building a `ClientInfo` per client (10,000 clients: a few ms)."""
    channels = broker.channels
    found: list[tuple[str, str | None, str]] = []
    for s in broker.sessions.values():
        chid = s.connected_channel
        if chid is None:
            continue
        ch = channels.get(chid)
        if ch is None:
            found.append((s.clientid, s.username, ""))
        else:
            found.append((s.clientid, ch.username, ch.peer.ip_address))
    return found


def client_page(broker: "Broker", f: contracts.ClientFilter, page: int, limit: int) -> dict[str, Any]:
    """`ClientList.model_dump(mode="json", by_alias=True)`, built without pydantic (the admin answer)."""
    sessions, total, hasnext = select_clients(broker, f, page, limit)
    return {
        "data": [client_dict(broker, s) for s in sessions],
        "count": total,
        "page": page,
        "limit": limit,
        "hasnext": hasnext,
    }


def client_infos(broker: "Broker", f: contracts.ClientFilter, page: int, limit: int) -> contracts.ClientList:
    sessions, total, hasnext = select_clients(broker, f, page, limit)
    data = [_info(broker, s) for s in sessions]
    return contracts.ClientList(data=data, count=total, page=page, limit=limit, hasnext=hasnext)


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
    # Filter raw subscriptions; build a `SubscriptionInfo` only for the page asked for.
    kept = [
        s
        for s in subs
        if (f.topic is None or f.topic == s.topic_filter)
        and (f.qos is None or f.qos == s.qos)
        and (f.share_group is None or f.share_group == s.share_group)
        and (f.match_topic is None or filter_matches(s.topic_filter, f.match_topic))
    ]
    chosen, hasnext = _page(kept, page, limit)
    data = [_sub_info(broker, s) for s in chosen]
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
    except binascii.Error as err:  # not `exc` again: mypyc gives one name one exception type
        raise ValueError(f"invalid base64: {err}") from None
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


def bump_connection_high_water(broker: "Broker") -> None:
    """`bump_high_water` for the gauges a connect grows (sessions, live connections, channels) only."""
    hwm = broker.high_water
    sessions = len(broker.sessions)
    live = broker.live
    channels = len(broker.channels)
    if sessions > hwm.get("sessions.max", 0):
        hwm["sessions.max"] = hwm["connections.max"] = sessions  # the same gauge, EMQX-style
    if live > hwm.get("live_connections.max", 0):
        hwm["live_connections.max"] = live
    if channels > hwm.get("channels.max", 0):
        hwm["channels.max"] = channels


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


# --- retained messages (admin ops list_retained / get_retained / delete_retained) ----------------------


def _retained(broker: "Broker", topic: str | None, now: float) -> list[Message]:
    """Unexpired retained messages whose topic matches `topic` (a name or a filter; None: all), by topic.

    Raises: ValueError for an invalid topic filter."""
    if topic is not None:
        try:
            validate_topic_filter(topic, broker.limits.max_topic_levels)
        except ProtocolError as exc:
            raise ValueError(exc.message) from None
        if topic.startswith("$share/"):
            raise ValueError("a shared subscription filter names no retained message")
    found = [m for m in broker.retained if not m.is_expired(now) and (topic is None or match(topic, m.topic))]
    return sorted(found, key=lambda m: m.topic)


def _retained_summary(msg: Message) -> contracts.RetainedSummary:
    return contracts.RetainedSummary(
        msgid=msg.id_hex,
        topic=msg.topic,
        qos=msg.qos,
        publish_at=msg.timestamp,
        from_clientid=msg.publisher,
        payload_size=len(msg.payload),
    )


def retained_page(
    broker: "Broker", topic: str | None, page: int, limit: int, now: float
) -> contracts.RetainedList:
    """One page of retained messages in topic order. Raises: ValueError (invalid filter)."""
    found = _retained(broker, topic, now)
    items, hasnext = _page(found, page, limit)
    return contracts.RetainedList(
        data=[_retained_summary(m) for m in items], count=len(found), page=page, limit=limit, hasnext=hasnext
    )


def retained_message(broker: "Broker", topic: str, now: float) -> contracts.RetainedMessage | None:
    """The retained message of `topic` (of a filter: the first match in topic order), with its payload
    unless larger than `MAX_RETAINED_PAYLOAD`; None when none. Raises: ValueError (invalid filter)."""
    found = _retained(broker, topic, now)
    if not found:
        return None
    msg = found[0]
    small = len(msg.payload) <= MAX_RETAINED_PAYLOAD
    payload = base64.b64encode(msg.payload).decode() if small else None
    return contracts.RetainedMessage(message=_retained_summary(msg), payload_b64=payload)


def delete_retained(broker: "Broker", topic: str, now: float) -> tuple[int, list[Action]]:
    """Delete the retained message of `topic` (every one a filter matches), as an empty retained PUBLISH
    would, but delivered to nobody; the durable log records each deletion, and a cluster's store gets
    the empty message (`RetainedChanged`) so no node brings it back. Raises: ValueError."""
    out = Out()
    found = _retained(broker, topic, now)
    for msg in found:
        if broker.retained.delete(msg.topic):
            out.records.append(RetainedDeleted(msg.topic))
            empty = broker.make_message(
                msg.topic, b"", qos=0, retain=True, properties=NO_PROPERTIES, publisher=None, now=now
            )
            out.actions.append(RetainedChanged(empty))
    return len(found), out.result()
