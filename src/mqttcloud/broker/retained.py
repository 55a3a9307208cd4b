"""RetainedStore: the last retained message per topic name.

Rules:
- [MQTT-3.3.1-5] a retained PUBLISH replaces the stored message for its topic;
  [MQTT-3.3.1-6]/[MQTT-3.3.1-7] a retained PUBLISH with an empty payload deletes it and is not stored.
- `Limits.max_retained` (count) and `max_retained_size` (payload bytes) bound the store; a message
  over either bound is not stored (it is still routed). 0 means unlimited.
- Expired messages [MQTT-3.3.2-5] are never returned and are dropped lazily.
"""

from collections.abc import Iterator

from mqttcloud.broker.message import Message
from mqttcloud.broker.subscriptions import split_share
from mqttcloud.protocol.topics import match


class RetainedStore:
    def __init__(self, max_count: int = 0, max_size: int = 0) -> None:
        self._by_topic: dict[str, Message] = {}
        self.max_count = max_count
        self.max_size = max_size

    def __len__(self) -> int:
        return len(self._by_topic)

    def __iter__(self) -> Iterator[Message]:
        return iter(list(self._by_topic.values()))

    def get(self, topic: str) -> Message | None:
        return self._by_topic.get(topic)

    def store(self, msg: Message) -> bool | None:
        """Apply a retained PUBLISH. Returns True if stored, False if deleted, None if refused/no-op."""
        if not msg.payload:
            return False if self._by_topic.pop(msg.topic, None) is not None else None
        if self.max_size and len(msg.payload) > self.max_size:
            return None
        if self.max_count and msg.topic not in self._by_topic and len(self._by_topic) >= self.max_count:
            return None
        self._by_topic[msg.topic] = msg
        return True

    def delete(self, topic: str) -> bool:
        return self._by_topic.pop(topic, None) is not None

    def match(self, topic_filter: str, now: float) -> list[Message]:
        """Retained messages whose topic matches the filter (without `$share/`), expired ones dropped."""
        flt = split_share(topic_filter)[1]
        if "+" not in flt and "#" not in flt:
            msg = self._by_topic.get(flt)
            candidates = [] if msg is None else [msg]
        else:
            candidates = [m for t, m in self._by_topic.items() if match(flt, t)]
        out: list[Message] = []
        for m in candidates:
            if m.is_expired(now):
                del self._by_topic[m.topic]
            else:
                out.append(m)
        return out
