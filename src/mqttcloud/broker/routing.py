"""Routing: one published message to every matching local session (the PUBLISH hot path).

Owns: the `Router` interface the core routes through, and `LocalRouter`, the one-node router: the
`SubscriptionTrie`, the `RetainedStore`, the plan cache, `route` (retained store update, trie match,
merging overlapping subscriptions, shared-group choice, delivery) and `retained_match`. A cluster
router (`broker.cluster`) implements `Router` around a `LocalRouter`.

Rules:
- Overlapping subscriptions of one client give one delivery at the highest granted QoS carrying every
  subscription identifier [MQTT-3.3.4-2] [MQTT-3.3.4-3].
- Fast path: a QoS 0 delivery to a connected client under its soft outbound budget
  (`broker.budget`) with no outbound topic aliases and a message without expiry appends
  `Send(channel, shared_bytes)` directly (no `Delivery` object) and batches the broker counters; the
  bytes come from one `EncodeCache` per message, so N receivers of one protocol version share one
  `bytes` object, looked up by the bare version when there is no RETAIN and no ids (an int key: no
  tuple to build and hash per receiver). Its per-connection counters are one increment
  (`ConnCounters.send_qos0_shared`), and its unsent bytes one addition. Everything else goes through
  `delivery.deliver`.
- Plan cache: who receives a topic (merged per client, with QoS, retain flag and subscription ids) is
  computed once per (topic, QoS, retain) and reused until the trie's `generation` moves (any
  subscribe/unsubscribe); shared groups and no-local subscriptions are planned per message.
- A message no subscription matches is counted (`messages.dropped.no_subscribers`) and reported to the
  event history as a drop by its publisher; the history keeps one counter per (publisher, topic) and
  makes it one `message.dropped` event per take, so a topic nobody reads costs a dict update per
  message, never an event each (runtime/events.py).
- QoS 0 bytes without properties come from `encode_publish_qos0` (one join; no `EncodeCache` or
  `EncodedPublish` per message unless a receiver needs properties or QoS 1/2).
"""

from collections.abc import Container
from typing import TYPE_CHECKING, Protocol

from mqttcloud.broker.actions import Send
from mqttcloud.broker.delivery import EncodeCache, Out, deliver
from mqttcloud.broker.durability import RetainedDeleted, RetainedSet
from mqttcloud.broker.message import Message
from mqttcloud.broker.retained import RetainedStore
from mqttcloud.broker.session import Delivery
from mqttcloud.broker.subscriptions import Subscription, SubscriptionTrie
from mqttcloud.broker.topic_metrics import count as count_topic
from mqttcloud.protocol.encode import encode_publish_qos0

if TYPE_CHECKING:
    from mqttcloud.broker.channel import Channel
    from mqttcloud.broker.core import Broker


#: One routing plan: (client id, delivery QoS, RETAIN flag, subscription ids) per receiver.
Plan = list[tuple[str, int, bool, tuple[int, ...]]]
#: Plans kept per broker (topics x QoS x retain); the cache is emptied when it reaches this size.
MAX_PLANS = 4096
#: The plan of a topic no subscription matches (counted as dropped, unlike a plan emptied by no-local).
NO_SUBSCRIBERS: Plan = []
#: A shared group as the cluster names it: (group name, real filter), e.g. ("g", "a/+").
GroupKey = tuple[str, str]


class Router(Protocol):
    """What the core needs from routing: subscriptions in, messages out, retained messages matched.

    `add`/`remove` may append actions to `out` (a cluster router announces route changes there).
    """

    def add(self, sub: Subscription, out: Out) -> bool:
        """Add or replace a subscription; True when it is new."""
        ...

    def remove(self, clientid: str, topic_filter: str, out: Out) -> bool:
        """Remove one subscription; False when it did not exist."""
        ...

    def route(self, msg: Message, now: float, out: Out) -> int:
        """Store if retained, deliver to every matching subscription; returns receivers matched."""
        ...

    def retained_match(self, topic_filter: str, now: float) -> list[Message]:
        """Retained messages for a new subscription to `topic_filter`."""
        ...


class LocalRouter:
    """The router of one node: the trie, the retained store and the plan cache of one tenant."""

    __slots__ = ("broker", "plans", "plans_generation", "retained", "trie")

    def __init__(self, broker: "Broker", retained: RetainedStore) -> None:
        self.broker = broker
        self.trie = SubscriptionTrie()
        self.retained = retained
        # routing plans per (topic, QoS, retain), valid for one trie generation (`_plan`)
        self.plans: dict[tuple[str, int, bool], Plan] = {}
        self.plans_generation = -1

    def add(self, sub: Subscription, out: Out) -> bool:
        return self.trie.add(sub)

    def remove(self, clientid: str, topic_filter: str, out: Out) -> bool:
        return self.trie.remove(clientid, topic_filter)

    def retained_match(self, topic_filter: str, now: float) -> list[Message]:
        return self.retained.match(topic_filter, now)

    def store_retained(self, msg: Message, out: Out) -> None:
        """Apply a retained PUBLISH to the store (and the durable log) without delivering it."""
        broker = self.broker
        stored = self.retained.store(msg)
        if stored is True:
            broker.counters.inc("messages.retained")
            broker.note_growth()
            out.records.append(RetainedSet(msg))
        elif stored is False:
            out.records.append(RetainedDeleted(msg.topic))  # [MQTT-3.3.1-6]

    def _plan(self, msg: Message, groups: Container[GroupKey] | None) -> Plan:
        """Who receives `msg`, merged per client; cached per (topic, QoS, retain) when it can be.

        A plan depends only on the subscriptions (the trie's `generation`), the message's topic, QoS and
        retain flag, unless a shared group is matched (a member is picked per message) or a matching
        subscription has no-local (the publisher matters): those are computed per message. `groups`,
        when given, names the only shared groups that take part (a cluster picked the others elsewhere).
        """
        trie = self.trie
        plans = self.plans
        if self.plans_generation != trie.generation:
            plans.clear()
            self.plans_generation = trie.generation
        key = (msg.topic, msg.qos, msg.retain)
        plan = plans.get(key)
        if plan is not None:
            return plan
        broker = self.broker
        subs, matched = trie.match(msg.topic)
        if not subs and not matched:
            if len(plans) >= MAX_PLANS:
                plans.clear()
            plans[key] = NO_SUBSCRIBERS
            return NO_SUBSCRIBERS
        cacheable = not matched
        targets: dict[str, tuple[int, bool, tuple[int, ...]]] = {}
        publisher = msg.publisher
        mqos = msg.qos
        mretain = msg.retain
        if matched:
            if groups is not None:
                matched = [g for g in matched if (g.name, g.topic_filter) in groups]
            subs = subs + [p for g in matched if (p := g.pick(broker.is_online)) is not None]
        for s in subs:
            cid = s.clientid
            if s.no_local:
                cacheable = False
                if cid == publisher:
                    broker.counters.inc("delivery.dropped.no_local")  # [MQTT-3.8.3-3]
                    continue
            sq = s.qos
            qos = sq if sq < mqos else mqos  # [MQTT-3.8.4-8] granted QoS caps delivery
            retain = mretain and s.retain_as_published  # [MQTT-3.3.1-12] / [MQTT-3.3.1-13]
            sid = s.subscription_id
            sids: tuple[int, ...] = () if sid is None else (sid,)
            prev = targets.get(cid)
            if (
                prev is not None
            ):  # overlapping subscriptions: one delivery, max QoS, all ids [MQTT-3.3.4-2] [MQTT-3.3.4-3]
                qos, retain, sids = max(qos, prev[0]), retain or prev[1], prev[2] + sids
            targets[cid] = (qos, retain, sids)
        plan = [(cid, qos, retain, sids) for cid, (qos, retain, sids) in targets.items()]
        if cacheable:
            if len(plans) >= MAX_PLANS:
                plans.clear()
            plans[key] = plan
        return plan

    def route(
        self, msg: Message, now: float, out: Out, groups: Container[GroupKey] | None = None, tap: bool = True
    ) -> int:
        """Store if retained, then deliver to every matching session; returns receivers matched.

        Args:
            groups: the shared groups that may take this message here (None: all of them).
            tap: offer the message to the broker's tap (False for a message another node published).
        """
        broker = self.broker
        if tap and broker.tap is not None:
            broker.tap.offer(msg)
        if msg.retain:
            self.store_retained(msg, out)
        # a cached plan matched no shared group, so `groups` cannot change it
        plan = self.plans.get((msg.topic, msg.qos, msg.retain))
        if plan is None or self.plans_generation != self.trie.generation:
            plan = self._plan(msg, groups)
        if broker.topic_metrics.counters:  # some topic is registered (broker.topic_metrics)
            count_topic(broker.topic_metrics.counters, msg, None if plan is NO_SUBSCRIBERS else plan, tap)
        events = broker.events
        if plan is NO_SUBSCRIBERS:
            m = broker.counters.values
            m["messages.dropped"] += 1
            m["messages.dropped.no_subscribers"] += 1
            if events is not None:
                events.message_dropped(msg, "no_subscribers", now)
            history = broker.history
            if history is not None and msg.publisher is not None:  # one counter per (publisher, topic)
                history.dropped(msg.publisher, msg.topic, "no_subscribers", now)
            return 0
        cache: EncodeCache | None = None
        # QoS 0 bytes and their length by version alone (no RETAIN, no ids: the common case, an int key
        # hashes at no cost) or by (version, retain, ids)
        qos0: dict[int | tuple[int, bool, tuple[int, ...]], tuple[bytes, int]] = {}
        sessions = broker.sessions
        channels = broker.channels
        actions = out.actions
        shareable = msg.expires_at is None  # else each delivery carries its own remaining expiry
        soft = broker.soft_budget  # a congested receiver takes the `deliver` path (broker.budget)
        fast = 0
        for cid, qos, retain, sids in plan:
            session = sessions.get(cid)
            if session is None:
                continue
            chid = session.connected_channel
            ch = channels.get(chid) if chid is not None else None
            if events is not None and ch is not None:
                events.message_delivered(ch, msg, qos, now)
            if (
                qos == 0
                and ch is not None
                and shareable
                and ch.unsent < soft
                and not ch.client_topic_alias_maximum
            ):
                # Fast path (module docstring): shared bytes, no Delivery object, counters batched.
                version = ch.version
                key = (version, retain, sids) if retain or sids else version
                encoded = qos0.get(key)
                if encoded is None:
                    if not sids and (version != 5 or _has_no_properties(msg)):
                        data = encode_publish_qos0(msg.topic, msg.payload, retain=retain, version=version)
                    else:
                        if cache is None:
                            cache = EncodeCache(msg)
                        data = cache.get(version, 0, retain, sids, now).data
                    encoded = qos0[key] = (data, len(data))
                data, size = encoded
                limit = ch.client_maximum_packet_size
                if not limit or size <= limit:
                    ch.counters.send_qos0_shared += 1  # one count for three (`ConnCounters`)
                    ch.unsent += size
                    actions.append(Send(ch.channel_id, data))
                    fast += 1
                    continue
            if cache is None and len(plan) > 1:  # one receiver: `send_now` encodes with its packet id
                cache = EncodeCache(msg)
            deliver(ch, session, Delivery(msg, qos, retain, sids), now, out, cache=cache)
        if fast:
            m = broker.counters.values
            m["packets.sent"] += fast
            m["packets.publish.sent"] += fast
            m["messages.sent"] += fast
            m["messages.delivered"] += fast
            m["messages.qos0.sent"] += fast
        return len(plan)


def _has_no_properties(msg: Message) -> bool:
    """Nothing to forward in v5 properties (expiry is checked by the caller)."""
    return (
        msg.payload_format_indicator is None
        and msg.content_type is None
        and msg.response_topic is None
        and msg.correlation_data is None
        and not msg.user_properties
    )


def send_retained(broker: "Broker", ch: "Channel", sub: Subscription, now: float, out: Out) -> None:
    """Retained messages for a new subscription, RETAIN=1 (spec 3.3.1.3), QoS capped."""
    session = ch.session
    assert session is not None
    sid = (sub.subscription_id,) if sub.subscription_id is not None else ()
    for msg in broker.router.retained_match(sub.topic_filter, now):
        deliver(ch, session, Delivery(msg, min(msg.qos, sub.qos), True, sid), now, out)
