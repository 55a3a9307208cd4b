"""SubscriptionTrie: topic filters by level, matched against topic names; shared-subscription groups.

Owns: which client subscribed to which filter with which options, and `$share/<group>/<filter>`
groups with round-robin choice. It does not know about sessions or delivery.

Rules:
- [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic name starting with `$`.
- (spec 4.8.2) a shared subscription `$share/g/f` is one subscription per (group, filter); each
  message goes to one member. Shared subscriptions work the same for 3.1.1 clients (EMQX does this).
- One subscription per (client, filter as subscribed); a new SUBSCRIBE for the same filter replaces
  the options [MQTT-3.8.4-3].
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mqttcloud.protocol.topics import match


@dataclass(frozen=True, slots=True)
class Subscription:
    clientid: str
    topic_filter: str  # as subscribed, including "$share/group/"
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0
    subscription_id: int | None = None
    share_group: str | None = None

    @property
    def real_filter(self) -> str:
        """The filter without the `$share/<group>/` prefix."""
        return split_share(self.topic_filter)[1]


def split_share(topic_filter: str) -> tuple[str | None, str]:
    """`$share/g/a/b` -> ("g", "a/b"); EMQX's `$queue/a/b` -> ("$queue", "a/b"); else (None, filter).

    Validation is elsewhere (`protocol.topics.validate_topic_filter`).
    """
    if topic_filter.startswith("$share/"):
        rest = topic_filter[7:]
        group, sep, flt = rest.partition("/")
        if sep:
            return group, flt
    elif topic_filter.startswith("$queue/") and len(topic_filter) > 7:
        return "$queue", topic_filter[7:]
    return None, topic_filter


@dataclass(slots=True)
class SharedGroup:
    """Members of one `$share/<name>/<filter>`; `pick` rotates through them."""

    name: str
    topic_filter: str = ""  # the real filter (without `$share/<name>/`): with `name`, the group's key
    members: dict[str, Subscription] = field(default_factory=dict)
    cursor: int = 0

    def pick(self, is_online: Callable[[str], bool]) -> Subscription | None:
        """Round-robin over members, preferring members that are connected."""
        if not self.members:
            return None
        subs = list(self.members.values())
        n = len(subs)
        for step in range(n):
            sub = subs[(self.cursor + step) % n]
            if is_online(sub.clientid):
                self.cursor = (self.cursor + step + 1) % n
                return sub
        sub = subs[self.cursor % n]
        self.cursor = (self.cursor + 1) % n
        return sub


@dataclass(slots=True)
class _Node:
    children: dict[str, "_Node"] = field(default_factory=dict)
    subs: dict[str, Subscription] = field(default_factory=dict)  # clientid -> subscription
    shared: dict[str, SharedGroup] = field(default_factory=dict)  # group name -> group

    def is_empty(self) -> bool:
        return not (self.children or self.subs or self.shared)


class SubscriptionTrie:
    """Filters stored level by level; `match(topic)` walks only the branches that can match."""

    def __init__(self) -> None:
        self._root = _Node()
        self._count = 0
        self._shared_count = 0
        self._filters: dict[str, int] = {}  # real filter -> number of subscriptions (topics.count)
        #: Bumped by every `add` and successful `remove`: what was derived from `match` before is stale.
        self.generation = 0

    @property
    def count(self) -> int:
        return self._count

    @property
    def shared_count(self) -> int:
        return self._shared_count

    @property
    def topics_count(self) -> int:
        """Distinct filters with at least one subscriber (EMQX `topics.count`)."""
        return len(self._filters)

    def add(self, sub: Subscription) -> bool:
        """Add or replace; returns True when the subscription is new."""
        self.generation += 1
        group, flt = split_share(sub.topic_filter)
        node = self._root
        for level in flt.split("/"):
            node = node.children.setdefault(level, _Node())
        if group is None:
            is_new = sub.clientid not in node.subs
            node.subs[sub.clientid] = sub
        else:
            grp = node.shared.get(group)
            if grp is None:
                grp = node.shared[group] = SharedGroup(group, flt)
            is_new = sub.clientid not in grp.members
            grp.members[sub.clientid] = sub
            if is_new:
                self._shared_count += 1
        if is_new:
            self._count += 1
            self._filters[flt] = self._filters.get(flt, 0) + 1
        return is_new

    def remove(self, clientid: str, topic_filter: str) -> bool:
        """Remove one subscription; returns False when it did not exist."""
        group, flt = split_share(topic_filter)
        path: list[tuple[_Node, str]] = []
        node = self._root
        for level in flt.split("/"):
            child = node.children.get(level)
            if child is None:
                return False
            path.append((node, level))
            node = child
        if group is None:
            if node.subs.pop(clientid, None) is None:
                return False
        else:
            grp = node.shared.get(group)
            if grp is None or grp.members.pop(clientid, None) is None:
                return False
            self._shared_count -= 1
            if not grp.members:
                del node.shared[group]
        self._count -= 1
        self.generation += 1
        left = self._filters[flt] - 1
        if left:
            self._filters[flt] = left
        else:
            del self._filters[flt]
        # prune empty nodes bottom-up so the trie does not grow without bound
        for parent, level in reversed(path):
            if not node.is_empty():
                break
            del parent.children[level]
            node = parent
        return True

    def match(self, topic: str) -> tuple[list[Subscription], list[SharedGroup]]:
        """All non-shared subscriptions and all shared groups whose filter matches `topic`.

        Walks level by level with a frontier of nodes (no recursion, no per-node tuples).
        """
        subs: list[Subscription] = []
        groups: list[SharedGroup] = []
        frontier = [self._root]
        # [MQTT-4.7.2-1] wildcards in the first level never match a $-topic
        wild_ok = not topic.startswith("$")
        for level in topic.split("/"):
            nxt: list[_Node] = []
            for node in frontier:
                children = node.children
                if not children:
                    continue
                if wild_ok:
                    hash_node = children.get("#")
                    if hash_node is not None:  # "#" matches this level and everything below
                        if hash_node.subs:
                            subs.extend(hash_node.subs.values())
                        if hash_node.shared:
                            groups.extend(hash_node.shared.values())
                    plus = children.get("+")
                    if plus is not None:
                        nxt.append(plus)
                exact = children.get(level)
                if exact is not None:
                    nxt.append(exact)
            if not nxt:
                return subs, groups
            frontier = nxt
            wild_ok = True
        for node in frontier:
            if node.subs:
                subs.extend(node.subs.values())
            if node.shared:
                groups.extend(node.shared.values())
            hash_node = node.children.get("#") if node.children else None
            if hash_node is not None:  # "a/#" also matches "a" (spec 4.7.1.2)
                if hash_node.subs:
                    subs.extend(hash_node.subs.values())
                if hash_node.shared:
                    groups.extend(hash_node.shared.values())
        return subs, groups

    def __iter__(self) -> Iterator[Subscription]:
        stack = [self._root]
        while stack:
            node = stack.pop()
            yield from node.subs.values()
            for grp in node.shared.values():
                yield from grp.members.values()
            stack.extend(node.children.values())


def filter_matches(topic_filter: str, topic: str) -> bool:
    """Does the filter (with or without `$share/g/`) match the topic name? Same rules as the trie."""
    return match(split_share(topic_filter)[1], topic)
