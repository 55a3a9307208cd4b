"""Session lifecycle: attach, take over, resume, end, expire, and the will messages that go with it.

Owns what happens to a client id's session when a channel connects or goes away: takeover of a
connected client id [MQTT-3.1.4-3], clean start or resume [MQTT-3.2.2-3], redelivery on resume
[MQTT-4.4.0-1], session expiry [MQTT-3.1.2-23], wills and the v5 Will Delay Interval [MQTT-3.1.3-9],
the release of a client id that connected on another node of a cluster, and a persistent session's
move between nodes (`hand_over` on the node it leaves, `adopt` on the one it joins), `catch_up`, the
messages a cluster stored for a session while its node was down or away (`catch_up_placed`: in the
stream's order among those it holds), and `relayed`, a message the node a
session left passed on after the move. Channel state transitions
stay in `broker/channel.py`; the state these functions change lives on the `Broker` (`sessions`,
`last_channel`, `wills`, its deadline heap).

Rules:
- Only sessions with expiry > 0 reach the durable log (`persistence`), and a session that stops being
  persistent leaves it (`SessionDeleted`).
- A will goes out at most once: published, or dropped when its session resumes [MQTT-3.1.3-10].
- A session lives on one node: `hand_over` removes it here (routes, durable copy, pending will: it
  resumes elsewhere) in the same call that returns its records, which `adopt` installs on the other;
  a new session on another node ends it here instead (`superseded`: its pending will goes).
"""

from typing import TYPE_CHECKING, Protocol

from mqttcloud.broker import persistence, queries
from mqttcloud.broker.actions import INFO, Action, Close, Log
from mqttcloud.broker.channel import Channel
from mqttcloud.broker.channel_state import ChannelState
from mqttcloud.broker.delivery import Out, deliver, drain, redeliver
from mqttcloud.broker.durability import MessageAcked, MessageQueued, Record, SessionDeleted, WillDone
from mqttcloud.broker.hooks import ClientContext
from mqttcloud.broker.message import Message
from mqttcloud.broker.session import Delivery, Session
from mqttcloud.broker.subscriptions import filter_matches, split_share
from mqttcloud.protocol.packets import Disconnect
from mqttcloud.protocol.reason_codes import ReasonCode

if TYPE_CHECKING:
    from mqttcloud.broker.core import Broker


class Claims(Protocol):
    """Told when a client id attaches here, so other nodes of a cluster can let it go (`release`), and
    when what a cluster knows of a session (online, subscriptions, will, end) may have changed."""

    def claimed(self, clientid: str, now: float, out: Out, *, resumed: bool) -> None: ...

    def changed(self, clientid: str, out: Out) -> None: ...


def attach(broker: "Broker", ch: Channel, now: float) -> tuple[list[Action], bool]:
    """Take over a connected client id [MQTT-3.1.4-3], then start or resume its session.

    Returns the actions for other channels (DISCONNECT 0x8E + Close) and Session Present.
    """
    out = Out()
    cid = ch.clientid
    old = broker.sessions.get(cid)
    if old is not None and old.connected_channel is not None:
        old_ch = broker.channels.get(old.connected_channel)
        if old_ch is not None:
            broker.counters.inc("session.takenover")
            if old_ch.version == 5:
                out.actions.append(old_ch.send(Disconnect(reason_code=ReasonCode.SESSION_TAKEN_OVER)))
                broker.counters.inc("packets.disconnect.sent")
            out.actions.append(Close(old_ch.channel_id, "session taken over"))
            gone(broker, old_ch, now, out, normal=False, keep_session=True, reason="session taken over")
    pending_will = broker.wills.pop(cid, None)
    if pending_will is not None and old is not None and old.stored:
        out.records.append(WillDone(cid))  # published just below, or dropped [MQTT-3.1.3-10]
    if ch.clean_start or old is None:
        if old is not None:
            broker.counters.inc("session.discarded")
            end(broker, old, now, out)
        if pending_will is not None:  # the old session ended: its delayed will goes now
            publish_will(broker, pending_will[1], pending_will[2], now, out)
        session = Session(cid, created_at=now)
        broker.counters.values["session.created"] += 1
        present = False
    else:
        session = old
        broker.counters.inc("session.resumed")
        present = True  # [MQTT-3.2.2-3]
    session.expiry_interval = ch.session_expiry
    session.username = ch.username
    session.proto_ver = ch.version
    session.max_queue_len = broker.limits.max_queue_len
    session.connected_channel = ch.channel_id
    session.disconnected_at = None
    ch.session = session
    broker.sessions[cid] = session
    if session.is_persistent:
        if not session.stored:
            session.stored = True
            out.records.extend(persistence.session_records(session))
        else:
            out.records.append(persistence.session_record(session))
    elif session.stored:
        session.stored = False
        out.records.append(SessionDeleted(cid))
    broker.live += 1  # the caller moves the channel to CONNECTED right after this
    queries.bump_connection_high_water(broker)  # only connection gauges grew (a storm's hot path)
    if broker.claims is not None:
        broker.claims.claimed(cid, now, out, resumed=present)
        broker.claims.changed(cid, out)
    return out.result(), present


def resume(ch: Channel, now: float) -> list[Action]:
    """After CONNACK: resend in-flight messages with DUP, then drain the queue [MQTT-4.4.0-1]."""
    out = Out()
    session = ch.session
    if session is not None:
        redeliver(ch, session, now, out)
        drain(ch, session, now, out)
    return out.result()


def release(broker: "Broker", clientid: str, claimed_at: float, now: float) -> list[Action]:
    """The client id connected on another node at `claimed_at`: take it over from here (0x8E).

    A local connection newer than the claim stays (it is the later one). The session ends as after a
    network failure: the will goes (or waits for its delay) and a persistent session stays until it
    expires.
    """
    session = broker.sessions.get(clientid)
    if session is None or session.connected_channel is None:
        return []
    ch = broker.channels.get(session.connected_channel)
    if ch is None or (ch.connected_at is not None and ch.connected_at > claimed_at):
        return []
    out = Out()
    broker.counters.inc("session.takenover")
    if ch.version == 5:
        out.actions.append(ch.send(Disconnect(reason_code=ReasonCode.SESSION_TAKEN_OVER)))
        broker.counters.inc("packets.disconnect.sent")
    out.actions.append(Close(ch.channel_id, "session taken over"))
    gone(broker, ch, now, out, normal=False, reason="session taken over on another node")
    return out.result()


def hand_over(
    broker: "Broker", clientid: str, claimed_at: float, now: float
) -> tuple[list[Record] | None, list[Action]]:
    """Another node resumes `clientid` (claimed there at `claimed_at`): release it and give its session.

    Returns the session's records (`persistence.session_records`: subscriptions, queued messages,
    in-flight ones with their packet ids, inbound QoS 2 ids) and the actions of the release; None
    instead of records when there is no session here or a connection newer than the claim holds it.
    The session is gone from here afterwards, its pending will dropped: it resumes on the other node
    [MQTT-3.1.3-10].
    """
    actions = release(broker, clientid, claimed_at, now)
    session = broker.sessions.get(clientid)
    if session is None or session.connected_channel is not None:
        return None, actions
    records = persistence.session_records(session, in_flight=True)
    out = Out()
    _discard(broker, session, out)
    actions.extend(out.result())
    return records, actions


def adopt(broker: "Broker", clientid: str, records: list[Record], now: float) -> list[Action]:
    """Install a session that moved here from another node (`hand_over`'s records, or the cluster's
    durable copy of a dead node's session), disconnected, so the CONNECT that follows resumes it.

    A local copy that is not connected is replaced (it is older: the cluster said the session lived
    elsewhere); a connected one stays and the records are ignored.
    """
    out = Out()
    old = broker.sessions.get(clientid)
    if old is not None:
        if old.connected_channel is not None:
            return []
        _discard(broker, old, out)
    persistence.restore(broker, records, now, out)
    session = broker.sessions.get(clientid)
    if session is not None and session.is_persistent:
        session.stored = True
        out.records.extend(persistence.session_records(session))
        if broker.claims is not None:
            broker.claims.changed(clientid, out)
    elif session is not None:
        session.stored = False
    return out.result()


def catch_up(broker: "Broker", clientid: str, stored: list[Record], now: float) -> list[Action]:
    """Queue in a disconnected session the messages the cluster stored for it while this node was down
    (`MessageQueued` records), skipping those it already holds (same message id, queued or in flight):
    none is lost, none comes twice. Nothing happens to a connected or unknown session."""
    session = broker.sessions.get(clientid)
    if session is None or session.connected_channel is not None:
        return []
    held = {d.message.id for d in session.queue}
    held.update(d.message.id for d in session.inflight.values())
    out = Out()
    for r in stored:
        if not isinstance(r, MessageQueued) or r.message.id in held or r.message.is_expired(now):
            continue
        held.add(r.message.id)
        deliver(None, session, Delivery(r.message, r.qos, r.retain, r.subscription_ids), now, out)
    return out.result()


def catch_up_placed(broker: "Broker", clientid: str, placed: list[Record], now: float) -> list[Action]:
    """Insert in a disconnected session's queue the stored messages it lacks that `placed` (its records
    with the stream's merged in, in stream order: `entries.merge_stored`) puts before a message it
    holds: each goes just before that one (before the queue when that one is in flight), so one
    publisher's messages keep their order [MQTT-4.6.0-2]. The queue keeps its limit (the oldest go, as
    `deliver` drops them), and the durable log its order (the held messages after the first insert are
    queued again behind it). The ones after all it holds are `catch_up`'s. Nothing happens to a
    connected or unknown session."""
    session = broker.sessions.get(clientid)
    if session is None or session.connected_channel is not None:
        return []
    queued = {d.message.id for d in session.queue}
    inflight = {d.message.id for d in session.inflight.values()}
    before: dict[bytes, list[Delivery]] = {}  # a queued message id -> the missed ones that go before it
    order: list[Delivery] = []  # the missed ones before one in flight: first in the queue
    missed: list[Delivery] = []
    for r in placed:
        if not isinstance(r, MessageQueued):
            continue
        mid = r.message.id
        if mid in inflight:
            order.extend(missed)
            missed = []
        elif mid in queued:
            if missed:
                before.setdefault(mid, []).extend(missed)
                missed = []
        elif not r.message.is_expired(now):
            missed.append(Delivery(r.message, r.qos, r.retain, r.subscription_ids))
    if not before and not order:
        return []
    new = {id(d) for d in order}
    for d in list(session.queue):
        extra = before.pop(d.message.id, None)
        if extra is not None:
            order.extend(extra)
            new.update(id(e) for e in extra)
        order.append(d)
    out = Out()
    while session.queue:
        session.dequeue()
    for d in order:
        dropped = session.enqueue(d)
        if dropped is not None and dropped.qos and session.stored and id(dropped) not in new:
            out.records.append(MessageAcked(clientid, dropped.message.id))
    if session.stored:
        moved = False
        for d in session.queue:
            moved = moved or id(d) in new
            if not moved or not d.qos:
                continue
            if id(d) not in new:  # queued again: the log restores a queue in the order of its records
                out.records.append(MessageAcked(clientid, d.message.id))
            out.records.append(MessageQueued(clientid, d.qos, d.message, d.subscription_ids, d.retain))
    return out.result()


def relayed(broker: "Broker", clientid: str, msg: Message, now: float) -> list[Action]:
    """Deliver to `clientid`'s session (connected or not) a message the node it moved from received
    after the move, as routing would: once, at the highest QoS of its matching plain subscriptions
    (capped by the message's), with their subscription ids. Skipped when the session holds that
    message id already (queued or in flight), has no matching subscription, or is not here."""
    session = broker.sessions.get(clientid)
    if session is None or msg.is_expired(now):
        return []
    if any(d.message.id == msg.id for d in session.queue) or any(
        d.message.id == msg.id for d in session.inflight.values()
    ):
        return []
    qos = -1
    retain = False
    sids: tuple[int, ...] = ()
    for sub in session.subscriptions.values():
        if sub.share_group is not None or split_share(sub.topic_filter)[0] is not None:
            continue
        if not filter_matches(sub.topic_filter, msg.topic) or (sub.no_local and msg.publisher == clientid):
            continue
        qos = max(qos, min(sub.qos, msg.qos))
        retain = retain or (msg.retain and sub.retain_as_published)
        if sub.subscription_id is not None:
            sids += (sub.subscription_id,)
    if qos < 0:
        return []
    chid = session.connected_channel
    ch = broker.channels.get(chid) if chid is not None else None
    out = Out()
    deliver(ch, session, Delivery(msg, qos, retain, sids), now, out)
    return out.result()


def forget(broker: "Broker", clientid: str) -> list[Action]:
    """The cluster says `clientid`'s session lives on another node: drop a disconnected copy here
    (routes, durable copy, pending will) without ending it (no will, no `changed`)."""
    session = broker.sessions.get(clientid)
    if session is None or session.connected_channel is not None:
        return []
    out = Out()
    _discard(broker, session, out)
    return out.result()


def superseded(broker: "Broker", clientid: str, now: float) -> list[Action]:
    """`clientid` started a new session on another node: a disconnected session here is over, as a
    clean start ends it on one node: its subscriptions go and its pending will is published now
    [MQTT-3.1.3-9]. A connected session is left to `release`."""
    session = broker.sessions.get(clientid)
    if session is None or session.connected_channel is not None:
        return []
    out = Out()
    if session.stored and clientid in broker.wills:
        out.records.append(WillDone(clientid))  # published by `end` just below
    broker.counters.inc("session.discarded")
    end(broker, session, now, out)
    return out.result()


def _discard(broker: "Broker", session: Session, out: Out) -> None:
    cid = session.clientid
    if broker.wills.pop(cid, None) is not None and session.stored:
        out.records.append(WillDone(cid))
    router = broker.router
    for flt in list(session.subscriptions):
        router.remove(cid, flt, out)
    session.subscriptions.clear()
    if broker.sessions.get(cid) is session:
        del broker.sessions[cid]
        broker.last_channel.pop(cid, None)
    if session.stored:
        session.stored = False
        out.records.append(SessionDeleted(cid))


def gone(
    broker: "Broker", ch: Channel, now: float, out: Out, *, normal: bool, keep_session: bool = False,
    reason: str = "",
) -> None:  # fmt: skip
    """Bookkeeping when a channel ends; `normal` = DISCONNECT 0x00 (will discarded)."""
    if ch.state is ChannelState.CLOSED:
        return
    was_connected = ch.state is ChannelState.CONNECTED
    ch.state = ChannelState.CLOSED
    broker.unsent_total -= ch.reported  # what the runtime still holds for it goes with the transport
    ch.unsent = ch.reported = 0
    broker.channels.pop(ch.channel_id, None)
    if was_connected:
        broker.live -= 1
    session = ch.session
    if not was_connected or session is None or session.connected_channel != ch.channel_id:
        return
    broker.counters.inc("client.disconnected")
    if broker.log_level <= INFO:
        out.actions.append(Log(INFO, "client.disconnected", (("clientid", ch.clientid), ("reason", reason))))
    if broker.events is not None:
        broker.events.client_disconnected(ch, reason, now)
    if broker.history is not None:
        broker.history.disconnected(ch, reason, now)
    broker.last_channel[session.clientid] = ch
    session.connected_channel = None
    session.disconnected_at = now
    will, ch.will = ch.will, None
    if will is not None and not normal:
        msg = broker.make_message(
            will.topic, will.payload, qos=int(will.qos), retain=will.retain,
            properties=will.properties, publisher=ch.clientid, now=now,
        )  # fmt: skip
        delay = (will.properties.will_delay_interval or 0) if ch.version == 5 else 0
        if delay == 0 or (session.expiry_interval == 0 and not keep_session):
            publish_will(broker, msg, ch.context, now, out)
        else:
            # [MQTT-3.1.3-9] sent at the earlier of the delay and the session's end
            when = now + min(delay, session.expiry_interval)
            schedule_will(broker, session.clientid, when, msg, ch.context)
            if session.stored:  # a restart before `when` still publishes it
                out.records.append(persistence.will_record(session.clientid, when, msg, ch.context))
    if broker.claims is not None:
        broker.claims.changed(session.clientid, out)
    if keep_session:
        if session.stored:
            out.records.append(persistence.session_record(session))
        return
    if session.expiry_interval == 0:
        end(broker, session, now, out)
        return
    if session.stored:
        out.records.append(persistence.session_record(session))
    schedule_expiry(broker, session)


def end(broker: "Broker", session: Session, now: float, out: Out) -> None:
    """The session is over: its subscriptions go, its pending will is published now."""
    router = broker.router
    for flt in list(session.subscriptions):
        router.remove(session.clientid, flt, out)
    session.subscriptions.clear()
    if broker.sessions.get(session.clientid) is session:
        del broker.sessions[session.clientid]
        broker.last_channel.pop(session.clientid, None)
    if session.stored:
        session.stored = False
        out.records.append(SessionDeleted(session.clientid))
    broker.counters.inc("session.terminated")
    if broker.claims is not None:
        broker.claims.changed(session.clientid, out)
    pending = broker.wills.pop(session.clientid, None)
    if pending is not None:
        publish_will(broker, pending[1], pending[2], now, out)


def publish_will(broker: "Broker", msg: Message, ctx: ClientContext, now: float, out: Out) -> None:
    if broker.authorizer.can_publish(ctx, msg.topic):
        broker.counters.inc("messages.publish")
        broker.router.route(msg, now, out)


def schedule_will(broker: "Broker", clientid: str, when: float, msg: Message, ctx: ClientContext) -> None:
    """Publish `msg` (authorized as `ctx`) at `when` unless the session resumes first."""
    broker.wills[clientid] = (when, msg, ctx)
    broker.schedule(when, "will", clientid)


def schedule_expiry(broker: "Broker", session: Session) -> None:
    expires = session.expires_at()
    if expires is not None:
        broker.schedule(expires, "expire", session.clientid)


def will_due(broker: "Broker", clientid: str, when: float, now: float, out: Out) -> None:
    """A "will" deadline fired: publish the will if it is still the one scheduled for `when`."""
    pending = broker.wills.get(clientid)
    if pending is not None and pending[0] == when:
        del broker.wills[clientid]
        session = broker.sessions.get(clientid)
        if session is not None and session.stored:
            out.records.append(WillDone(clientid))
        publish_will(broker, pending[1], pending[2], now, out)
        if broker.claims is not None:
            broker.claims.changed(clientid, out)


def expiry_due(broker: "Broker", clientid: str, now: float, out: Out) -> None:
    """An "expire" deadline fired: end the session if it is still disconnected and past its expiry."""
    session = broker.sessions.get(clientid)
    expires = session.expires_at() if session is not None else None
    if session is not None and expires is not None and expires <= now:
        end(broker, session, now, out)
