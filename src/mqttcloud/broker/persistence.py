"""Persistence: turning live state into durability records and back.

Owns: `session_record(s)` / `session_records(s)` / `subscription_record(sub)` (what a persistent
session looks like in the log), `snapshot(broker)` (the whole durable state, for log compaction) and
`restore(broker, records, now)` (replay in order).
Rule: `restore(snapshot())` rebuilds the same retained messages, persistent sessions, subscriptions
and QoS 1/2 queue; in-flight PUBLISHes come back queued (re-sent without DUP, fresh packet ids), QoS 2
messages the client already answered with PUBREC come back in flight, owing PUBREL with their id,
unacknowledged PUBLISHes of a session handed to another node (`session_records(in_flight=True)`) come
back in flight with their id (re-sent with DUP=1 on resume), and
the client's own QoS 2 packet ids still awaiting PUBREL come back (not routed twice, spec 4.1), and
so do delayed wills of disconnected sessions (published when due, even if that passed meanwhile).
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from mqttcloud.broker.delivery import Out
from mqttcloud.broker.durability import (
    InboundQos2Received,
    InboundQos2Released,
    MessageAcked,
    MessageQueued,
    MessageReleased,
    MessageSent,
    Record,
    RetainedDeleted,
    RetainedSet,
    SessionDeleted,
    SessionUpserted,
    SubscriptionAdded,
    SubscriptionRemoved,
    WillDone,
    WillScheduled,
)
from mqttcloud.broker.hooks import ClientContext, PeerInfo
from mqttcloud.broker.message import Message
from mqttcloud.broker.session import AWAIT_COMP, Delivery, Session
from mqttcloud.broker.subscriptions import Subscription, split_share

if TYPE_CHECKING:
    from mqttcloud.broker.core import Broker


def session_record(s: Session) -> SessionUpserted:
    return SessionUpserted(
        s.clientid, s.expiry_interval, s.created_at, s.disconnected_at, s.proto_ver, s.username
    )


def session_records(s: Session, *, in_flight: bool = False) -> list[Record]:
    """The records of a persistent session; `in_flight` adds `MessageSent` for each unacknowledged
    PUBLISH (a hand-over to another node, where the session resumes as it would here)."""
    records: list[Record] = [session_record(s)]
    for sub in s.subscriptions.values():
        records.append(subscription_record(sub))
    for d in s.inflight.values():
        records.append(MessageQueued(s.clientid, d.qos, d.message, d.subscription_ids, d.retain))
        if d.state == AWAIT_COMP:
            records.append(MessageReleased(s.clientid, d.message.id, d.packet_id))
        elif in_flight:
            records.append(MessageSent(s.clientid, d.message.id, d.packet_id))
    for d in s.queue:
        if d.qos:
            records.append(MessageQueued(s.clientid, d.qos, d.message, d.subscription_ids, d.retain))
    for packet_id, at in s.awaiting_rel.items():
        records.append(InboundQos2Received(s.clientid, packet_id, at))
    return records


def will_record(clientid: str, due: float, msg: Message, ctx: ClientContext) -> WillScheduled:
    p = ctx.peer
    return WillScheduled(
        clientid, msg, due, ctx.username, ctx.is_superuser, p.listener, p.ip_address, p.port,
        p.peersni, p.cn, p.dn,
    )  # fmt: skip


def will_context(r: WillScheduled) -> ClientContext:
    peer = PeerInfo(r.listener, r.ip_address, r.port, r.peersni, r.cn, r.dn)
    return ClientContext(r.clientid, r.username, peer, r.is_superuser)


def subscription_record(sub: Subscription) -> SubscriptionAdded:
    return SubscriptionAdded(
        sub.clientid, sub.topic_filter, sub.qos, sub.no_local, sub.retain_as_published,
        sub.retain_handling, sub.subscription_id,
    )  # fmt: skip


def snapshot(broker: "Broker") -> list[Record]:
    """The records that recreate the current durable state (for log compaction)."""
    records: list[Record] = [RetainedSet(m) for m in broker.retained]
    for s in broker.sessions.values():
        if s.stored:
            records.extend(session_records(s))
    for cid, due, msg, ctx in broker.pending_wills():
        owner = broker.sessions.get(cid)
        if owner is not None and owner.stored:
            records.append(will_record(cid, due, msg, ctx))
    return records


def restore(broker: "Broker", records: Iterable[Record], now: float, out: Out | None = None) -> None:
    """Apply durable records in order (see `durability`); sessions come back disconnected.

    Args:
        out: where route changes go (a session moved in from another node of a cluster); None at
            start, and then every session's expiry is scheduled, else only the sessions of `records`.
    """
    pending: dict[str, dict[bytes, Delivery]] = {}
    touched: set[str] = set()
    # at start, a cluster announces restored routes with its full table when it joins
    ignored = out if out is not None else Out()
    for r in records:
        match r:
            case SessionUpserted():
                touched.add(r.clientid)
                s = broker.sessions.get(r.clientid)
                if s is None:
                    s = broker.sessions[r.clientid] = Session(r.clientid, created_at=r.created_at)
                s.expiry_interval = r.expiry_interval
                s.created_at = r.created_at
                s.disconnected_at = r.disconnected_at if r.disconnected_at is not None else now
                s.proto_ver = r.proto_ver
                s.username = r.username
                s.stored = True
                s.max_queue_len = broker.limits.max_queue_len
            case SessionDeleted():
                s = broker.sessions.pop(r.clientid, None)
                pending.pop(r.clientid, None)
                broker.drop_will(r.clientid)  # a session's end publishes its pending will
                if s is not None:
                    for flt in s.subscriptions:
                        broker.router.remove(s.clientid, flt, ignored)
            case SubscriptionAdded():
                s = broker.sessions.get(r.clientid)
                if s is not None:
                    sub = Subscription(
                        r.clientid, r.topic_filter, r.qos, r.no_local, r.retain_as_published,
                        r.retain_handling, r.subscription_id, split_share(r.topic_filter)[0],
                    )  # fmt: skip
                    s.add_subscription(sub)
                    broker.router.add(sub, ignored)
            case SubscriptionRemoved():
                s = broker.sessions.get(r.clientid)
                if s is not None and s.remove_subscription(r.topic_filter):
                    broker.router.remove(r.clientid, r.topic_filter, ignored)
            case MessageQueued():
                if r.clientid in broker.sessions:
                    d = Delivery(r.message, r.qos, r.retain, r.subscription_ids)
                    pending.setdefault(r.clientid, {})[r.message.id] = d
            case MessageAcked():
                pending.get(r.clientid, {}).pop(r.message_id, None)
            case MessageReleased():
                released = pending.get(r.clientid, {}).get(r.message_id)
                if released is not None:
                    released.state = AWAIT_COMP
                    released.packet_id = r.packet_id
            case MessageSent():
                sent = pending.get(r.clientid, {}).get(r.message_id)
                if sent is not None and sent.state != AWAIT_COMP:
                    sent.packet_id = r.packet_id
            case InboundQos2Received():
                s = broker.sessions.get(r.clientid)
                if s is not None:
                    s.awaiting_rel[r.packet_id] = r.at
            case InboundQos2Released():
                s = broker.sessions.get(r.clientid)
                if s is not None:
                    s.awaiting_rel.pop(r.packet_id, None)
            case WillScheduled():
                if r.clientid in broker.sessions:
                    broker.schedule_will(r.clientid, r.due, r.message, will_context(r))
            case WillDone():
                broker.drop_will(r.clientid)
            case RetainedSet():
                broker.retained.store(r.message)
            case RetainedDeleted():
                broker.retained.delete(r.topic)
    for cid, deliveries in pending.items():
        s = broker.sessions.get(cid)
        if s is None:
            continue
        for d in deliveries.values():
            if d.state == AWAIT_COMP:  # PUBREL is owed with the original packet id [MQTT-4.4.0-1]
                s.inflight[d.packet_id] = d
            elif d.message.is_expired(now):
                continue
            elif d.packet_id and d.packet_id not in s.inflight:  # resent with its id and DUP=1
                d.sent_at = now
                s.inflight[d.packet_id] = d
            else:
                d.packet_id = 0
                s.append_restored(d)
    sessions = broker.sessions
    scheduled = sessions.values() if out is None else [sessions[c] for c in touched if c in sessions]
    for s in scheduled:
        broker.schedule_expiry(s)
