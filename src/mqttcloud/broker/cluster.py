"""ClusterRouter: one node's `Router` in a cluster of nodes that share one tenant's subscribers.

Owns the cluster route table (EMQX's design: topic filter -> the nodes with at least one local
subscriber of it, a `SubscriptionTrie` whose "client ids" are node names, this node included), the
announcements of this node's filters (`RouteChanged` when the first local subscriber of a filter
appears and when the last goes), the choice of the node that takes a shared-group message,
`deliver_remote`, the receiving side of a `Forward`, and the offline trie: the plain subscriptions of
the cluster's offline persistent sessions (whatever node they live on), for which a QoS 1/2 message
published here is kept in the cluster's store (`StoreOffline`). Transport (NATS) is the runtime's
(`runtime/cluster/`).

Rules:
- A message goes to each interested remote node at most once (one `Forward`), whatever number of its
  filters match: the receiving node routes through its own trie, which merges per client, so
  overlapping filters give one delivery per client as on one node. `deliver_remote` never forwards.
- A shared group `$share/g/f` gets one member cluster-wide per message: the publishing node picks one
  node among those with members (itself included), and only that node picks a local member.
- A retained PUBLISH goes to every known node (not only interested ones), so each node's retained
  store has it, and a `RetainedChanged` asks the runtime to keep it for nodes that join later.
- Table updates are idempotent (a node's filter is in the table or not): replaying a node's full
  table after a reconnect never makes a message go twice to one node.
- A session handed over to another node while online leaves a tombstone here for a short window
  (`handed_over`): a QoS 1/2 forward that matches its subscriptions and arrives in that window (it
  was sent before the publishing node knew of the move) goes on to that node for that client only
  (`Relay`); its routes stay announced for that window, so a node that hears of the hand-over before
  it hears of the new node's routes still forwards here. The receiving node delivers a relayed
  message unless it routed that message itself after the session arrived (`relayed`): then the
  client had it already.
- Only the publishing node stores a message for offline sessions (`route`, never `deliver_remote`),
  once, naming every offline session it is for; a QoS 0 message never looks at the offline trie.
"""

from collections.abc import Iterable

from mqttcloud.broker.actions import (
    Action,
    ClientClaimed,
    Forward,
    Relay,
    RetainedChanged,
    RouteChanged,
    SessionChanged,
    StoreOffline,
)
from mqttcloud.broker.delivery import Out
from mqttcloud.broker.message import Message
from mqttcloud.broker.routing import GroupKey, LocalRouter
from mqttcloud.broker.subscriptions import SharedGroup, Subscription, SubscriptionTrie, split_share
from mqttcloud.broker.topic_metrics import count_in

#: Topics whose targets (nodes, shared groups) are cached per route-table generation.
MAX_TARGETS = 4096

_Targets = tuple[frozenset[str], list[SharedGroup]]


class ClusterRouter:
    """Routes through the local router and forwards to the other nodes that want the message."""

    def __init__(self, local: LocalRouter, node: str) -> None:
        self.local = local
        self.node = node
        self.table = SubscriptionTrie()  # Subscription(clientid=node name, topic_filter=filter)
        self.counts: dict[str, int] = {}  # filter as subscribed -> local subscriptions of it
        self.nodes: set[str] = set()  # remote nodes known alive
        self._targets: dict[str, _Targets] = {}
        self._targets_generation = -1
        self.offline = SubscriptionTrie()  # Subscription(clientid, filter, qos) of offline sessions
        self.offline_filters: dict[str, list[str]] = {}  # client id -> its filters in `offline`
        self.moved = SubscriptionTrie()  # Subscription(clientid, filter, qos) of sessions handed over
        self.moved_to: dict[str, tuple[str, float, list[str]]] = {}  # client id -> (node, until, filters)
        self.arrived: dict[str, tuple[float, float]] = {}  # client id moved here -> (at, until)
        self.routed_at: dict[bytes, float] = {}  # QoS 1/2 message id -> when routed here, while `arrived`
        for sub in local.trie:  # restored sessions: their filters are this node's routes already
            self._count_up(sub.topic_filter, Out())

    # --- Router ----------------------------------------------------------------------------------

    def add(self, sub: Subscription, out: Out) -> bool:
        is_new = self.local.add(sub, out)
        if is_new:
            self._count_up(sub.topic_filter, out)
        self._subscriptions_changed(sub.clientid, out)
        return is_new

    def remove(self, clientid: str, topic_filter: str, out: Out) -> bool:
        if not self.local.remove(clientid, topic_filter, out):
            return False
        self._subscriptions_changed(clientid, out)
        self._count_down(topic_filter, out)
        return True

    def retained_match(self, topic_filter: str, now: float) -> list[Message]:
        return self.local.retained_match(topic_filter, now)

    def route(self, msg: Message, now: float, out: Out) -> int:
        """Deliver here when this node is interested, and forward once to every other node that is."""
        if msg.qos and self.offline_filters:
            self._store_offline(msg, out)
        if msg.qos and (self.moved_to or self.arrived):
            self._after_moves(msg, now, out)
        if not self.nodes:  # alone in the cluster: the local router's answer
            matched = self.local.route(msg, now, out)
            if msg.retain:
                out.actions.append(RetainedChanged(msg))
            return matched
        nodes, groups = self._match(msg.topic)
        picks: dict[str, list[GroupKey]] = {}
        for group in groups:
            sub = group.pick(self._is_alive)
            if sub is not None:
                picks.setdefault(sub.clientid, []).append((group.name, group.topic_filter))
        me = self.node
        local_groups = frozenset(picks.get(me, ())) if groups else None
        # `union`, not `nodes | picks.keys()`: that is a set at run time, and typeshed says frozenset
        remote = self.nodes if msg.retain else nodes.union(picks)
        matched = 0
        if me in nodes or me in picks or msg.retain or not remote - {me}:
            matched = self.local.route(msg, now, out, local_groups)
        else:
            tap = self.local.broker.tap
            if tap is not None:
                tap.offer(msg)
            if self.local.broker.topic_metrics.counters:
                count_in(self.local.broker.topic_metrics.counters, msg)
        actions = out.actions
        for node in remote:
            if node != me:
                actions.append(Forward(node, msg, tuple(picks.get(node, ()))))
                if node in nodes or node in picks:  # not a retained copy for a node that has no one
                    matched += 1
        if msg.retain:
            actions.append(RetainedChanged(msg))
        return matched

    # --- Claims (`lifecycle.Claims`) --------------------------------------------------------------

    def claimed(self, clientid: str, now: float, out: Out, *, resumed: bool) -> None:
        out.actions.append(ClientClaimed(clientid, now, resumed))

    def changed(self, clientid: str, out: Out) -> None:
        out.actions.append(SessionChanged(clientid))

    # --- offline sessions of the cluster ---------------------------------------------------------

    def set_offline(self, clientid: str, subs: Iterable[Subscription]) -> None:
        """`clientid` is a persistent session nobody is connected to (or its node died) with `subs`.

        Shared subscriptions are left out: a shared message goes to a member that is online.
        """
        self.clear_offline(clientid)
        filters: list[str] = []
        for sub in subs:
            if sub.share_group is None and split_share(sub.topic_filter)[0] is None:
                self.offline.add(Subscription(clientid, sub.topic_filter, sub.qos, sub.no_local))
                filters.append(sub.topic_filter)
        if filters:
            self.offline_filters[clientid] = filters

    def clear_offline(self, clientid: str) -> None:
        """`clientid` is online again, moved, or its session ended."""
        for flt in self.offline_filters.pop(clientid, ()):
            self.offline.remove(clientid, flt)

    # --- the receiving side ----------------------------------------------------------------------

    def deliver_remote(self, msg: Message, groups: Iterable[GroupKey], now: float) -> list[Action]:
        """A message another node published and forwarded here: route it locally, never onwards."""
        out = Out()
        self.local.route(msg, now, out, frozenset(groups), tap=False)
        if msg.qos and (self.moved_to or self.arrived):
            self._after_moves(msg, now, out)
        return out.result()

    # --- sessions moved while online ---------------------------------------------------------------

    def handed_over(
        self, clientid: str, node: str, subs: Iterable[Subscription], until: float
    ) -> list[Action]:
        """`clientid`'s session, online here, went to `node`: until `until`, QoS 1/2 messages that
        arrive here for its (plain) subscriptions go on to it there (`Relay`), and this node keeps
        its routes for them, so that a node that hears of the move here before it hears of the
        session's new routes still forwards here, not nowhere."""
        out = Out()
        self._drop_moved(clientid, out)
        filters: list[str] = []
        for sub in subs:
            if sub.share_group is None and split_share(sub.topic_filter)[0] is None:
                self.moved.add(Subscription(clientid, sub.topic_filter, sub.qos, sub.no_local))
                filters.append(sub.topic_filter)
                self._count_up(sub.topic_filter, out)
        if filters:
            self.moved_to[clientid] = (node, until, filters)
        return out.result()

    def expire_moved(self, now: float) -> list[Action]:
        """Tombstones past their window go, with the routes they kept (also done while routing)."""
        out = Out()
        self._expire(now, out)
        return out.result()

    def moved_in(self, clientid: str, now: float, until: float) -> None:
        """`clientid`'s session arrived here from another node at `now`: until `until`, remember the
        QoS 1/2 messages routed here, so that one relayed after them is not delivered twice."""
        self.arrived[clientid] = (now, until)

    def relayed(self, clientid: str, msg: Message, now: float) -> bool:
        """A message relayed for `clientid` by the node its session left: True when it is to be
        delivered (this node did not route it since the session arrived)."""
        self._expire_arrived(now)
        window = self.arrived.get(clientid)
        at = self.routed_at.get(msg.id)
        if window is not None and at is not None and at >= window[0]:
            return False
        if window is not None:
            self.routed_at[msg.id] = now
        return True

    def _after_moves(self, msg: Message, now: float, out: Out) -> None:
        self._expire(now, out)
        if self.arrived:
            self.routed_at[msg.id] = now
        if not self.moved_to:
            return
        subs, _groups = self.moved.match(msg.topic)
        publisher = msg.publisher
        for cid in sorted({s.clientid for s in subs if not (s.no_local and s.clientid == publisher)}):
            if self.local.broker.sessions.get(cid) is None:  # not back here meanwhile
                out.actions.append(Relay(self.moved_to[cid][0], cid, msg))

    def _expire(self, now: float, out: Out) -> None:
        for cid in [c for c, (_node, until, _f) in self.moved_to.items() if until <= now]:
            self._drop_moved(cid, out)
        self._expire_arrived(now)

    def _expire_arrived(self, now: float) -> None:
        if self.arrived:
            for cid in [c for c, (_at, until) in self.arrived.items() if until <= now]:
                del self.arrived[cid]
            if not self.arrived:
                self.routed_at.clear()
            elif len(self.routed_at) > MAX_TARGETS:
                oldest = min(at for at, _until in self.arrived.values())
                self.routed_at = {k: t for k, t in self.routed_at.items() if t >= oldest}

    def _drop_moved(self, clientid: str, out: Out) -> None:
        moved = self.moved_to.pop(clientid, None)
        for flt in moved[2] if moved is not None else ():
            self.moved.remove(clientid, flt)
            self._count_down(flt, out)

    # --- the route table -------------------------------------------------------------------------

    def local_filters(self) -> list[str]:
        """This node's routes: every filter with at least one local subscriber (the full table)."""
        return list(self.counts)

    def node_seen(self, node: str) -> bool:
        """A node is alive (heartbeat or announcement); True when it was not known."""
        if node == self.node or node in self.nodes:
            return False
        self.nodes.add(node)
        return True

    def routes_added(self, node: str, filters: Iterable[str]) -> None:
        if node == self.node:
            return
        self.node_seen(node)
        for flt in filters:
            self.table.add(Subscription(node, flt, 0))

    def routes_removed(self, node: str, filters: Iterable[str]) -> None:
        if node == self.node:
            return
        for flt in filters:
            self.table.remove(node, flt)

    def routes_replaced(self, node: str, filters: Iterable[str]) -> None:
        """A node's full table (on join, after a reconnect): what it no longer has goes."""
        if node == self.node:
            return
        wanted = set(filters)
        stale = [
            sub.topic_filter for sub in self.table if sub.clientid == node and sub.topic_filter not in wanted
        ]
        self.routes_removed(node, stale)
        self.routes_added(node, wanted)

    def node_down(self, node: str) -> None:
        """A node left or fell silent: its routes go (its sessions are another matter)."""
        self.nodes.discard(node)
        self.routes_removed(node, [sub.topic_filter for sub in self.table if sub.clientid == node])

    def remote_routes(self) -> dict[str, set[str]]:
        """Filters per remote node, as this node knows them."""
        routes: dict[str, set[str]] = {}
        for sub in self.table:
            if sub.clientid != self.node:
                routes.setdefault(sub.clientid, set()).add(sub.topic_filter)
        return routes

    # --- internals -------------------------------------------------------------------------------

    def _count_up(self, topic_filter: str, out: Out) -> None:
        n = self.counts.get(topic_filter, 0)
        self.counts[topic_filter] = n + 1
        if n == 0:
            self.table.add(Subscription(self.node, topic_filter, 0))
            out.actions.append(RouteChanged(topic_filter, added=True))

    def _count_down(self, topic_filter: str, out: Out) -> None:
        left = self.counts[topic_filter] - 1
        if left:
            self.counts[topic_filter] = left
        else:
            del self.counts[topic_filter]
            self.table.remove(self.node, topic_filter)
            out.actions.append(RouteChanged(topic_filter, added=False))

    def _subscriptions_changed(self, clientid: str, out: Out) -> None:
        session = self.local.broker.sessions.get(clientid)
        if session is not None and session.is_persistent:
            out.actions.append(SessionChanged(clientid))

    def _store_offline(self, msg: Message, out: Out) -> None:
        subs, _groups = self.offline.match(msg.topic)
        publisher = msg.publisher
        clientids = sorted({s.clientid for s in subs if not (s.no_local and s.clientid == publisher)})
        if clientids:
            out.actions.append(StoreOffline(msg, tuple(clientids)))

    def _is_alive(self, node: str) -> bool:
        return node == self.node or node in self.nodes

    def _match(self, topic: str) -> _Targets:
        """Nodes with a plain subscriber of `topic`, and the shared groups (members: nodes) it matches."""
        table = self.table
        cache = self._targets
        if self._targets_generation != table.generation:
            cache.clear()
            self._targets_generation = table.generation
        found = cache.get(topic)
        if found is None:
            subs, groups = table.match(topic)
            if len(cache) >= MAX_TARGETS:
                cache.clear()
            found = cache[topic] = (frozenset(s.clientid for s in subs), groups)
        return found


def join(broker_router: LocalRouter, node: str) -> ClusterRouter:
    """Put a `ClusterRouter` in front of a broker's local router (after `restore`, before clients)."""
    router = ClusterRouter(broker_router, node)
    broker = broker_router.broker
    broker.router = router
    broker.claims = router
    return router
