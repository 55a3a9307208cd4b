"""The event history's recording (`runtime/events.py`) driven by the real broker core, no sockets."""

import pytest
from tests.unit.broker.pair import Harness, publish

from mqttcloud.broker.hooks import ConnectDecision
from mqttcloud.contracts import ClientEvent, EventKind
from mqttcloud.protocol.packets import Disconnect, QoS, Subscribe, Subscription, Unsubscribe
from mqttcloud.protocol.reason_codes import ReasonCode
from mqttcloud.runtime.events import EventHistory, as_dicts, disconnect_reason


def recording(capacity: int = 1000) -> tuple[Harness, EventHistory]:
    h = Harness()
    history = EventHistory(capacity)
    h.broker.history = history
    return h, history


def taken(history: EventHistory, max_events: int = 1000) -> list[ClientEvent]:
    records, _shed = history.take(max_events)
    return [ClientEvent.model_validate(d) for d in as_dicts(records)]


def test_connected_carries_ip_protocol_keepalive_and_clean_start() -> None:
    h, history = recording()
    h.connect("dev1", keep_alive=30, clean_start=False, username="alice")
    [event] = taken(history)
    assert event.event is EventKind.CONNECTED
    assert (event.clientid, event.username, event.ip_address) == ("dev1", "alice", "127.0.0.1")
    assert event.detail["proto_ver"] == 5
    assert event.detail["keepalive"] == 30
    assert event.detail["clean_start"] is False


def test_bad_password_is_a_connack_event_with_0x86_and_why() -> None:
    h, history = recording()
    h.decide = lambda _req: ConnectDecision(
        allowed=False, reason_code=ReasonCode.BAD_USER_NAME_OR_PASSWORD, reason_string="bad password"
    )
    h.connect("dev1", username="alice")
    [event] = taken(history)
    assert event.event is EventKind.CONNACK
    assert event.reason_code == 0x86
    assert event.reason == "bad_user_name_or_password"
    assert event.detail["reason_string"] == "bad password"


def test_kick_is_a_disconnect_0x98_naming_who_kicked() -> None:
    h, history = recording()
    h.connect("dev1")
    history.kicked_by["dev1"] = "deployment_key:app1"
    _found, actions = h.broker.kick("dev1", h.now)
    h.perform(actions)
    events = taken(history)
    assert [e.event for e in events] == [EventKind.CONNECTED, EventKind.DISCONNECTED]
    assert events[1].reason == "kicked"
    assert events[1].reason_code == 0x98
    assert events[1].detail["kicked_by"] == "deployment_key:app1"


def test_takeover_records_takenover_0x8e_on_the_old_connection() -> None:
    h, history = recording()
    old, _ = h.connect("dev1")
    h.connect("dev1", clean_start=False)
    events = taken(history)
    kinds = [e.event for e in events]
    assert kinds == [EventKind.CONNECTED, EventKind.TAKENOVER, EventKind.DISCONNECTED, EventKind.CONNECTED]
    assert events[2].reason == "takenover"
    assert events[2].reason_code == 0x8E
    assert events[2].port == 40000 + old.channel_id


def test_client_disconnect_subscribe_and_unsubscribe() -> None:
    h, history = recording()
    client, _ = h.connect("dev1")
    client.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="a/+", qos=QoS(1)),)))
    client.send(Unsubscribe(packet_id=2, topic_filters=("a/+",)))
    client.send(Disconnect(reason_code=ReasonCode.DISCONNECT_WITH_WILL_MESSAGE))
    events = taken(history)
    assert [e.event for e in events][1:] == [
        EventKind.SUBSCRIBED,
        EventKind.UNSUBSCRIBED,
        EventKind.DISCONNECTED,
    ]
    assert events[1].detail == {"topic": "a/+", "qos": 1}
    assert (events[3].reason, events[3].reason_code) == ("disconnect_with_will_message", 0x04)


def test_denied_publishes_are_one_counted_drop_event() -> None:
    h = Harness(authorizer=_DenyPublish())
    history = EventHistory(1000)
    h.broker.history = history
    client, _ = h.connect("dev1")
    taken(history)
    for _ in range(3):
        client.send(publish("secret/x"))
    [event] = taken(history)
    assert event.event is EventKind.DROPPED
    assert event.reason == "not_authorized"
    assert event.detail["count"] == 3
    assert event.detail["topic"] == "secret/x"


def test_publishes_nobody_subscribes_to_are_one_counted_drop_event_per_topic() -> None:
    h, history = recording()
    client, _ = h.connect("dev1")
    watcher, _ = h.connect("watcher")
    watcher.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="read/#", qos=QoS(0)),)))
    taken(history)
    for _ in range(5):
        client.send(publish("nobody/reads"))
    client.send(publish("read/this"))  # delivered: no drop
    [event] = taken(history)
    assert (event.event, event.clientid, event.reason) == (EventKind.DROPPED, "dev1", "no_subscribers")
    assert event.detail["topic"] == "nobody/reads"
    assert event.detail["count"] == 5


def test_a_full_buffer_sheds_the_oldest_and_counts_it() -> None:
    h, history = recording(capacity=3)
    for i in range(5):
        h.connect(f"dev{i}")
    records, shed = history.take(100)
    assert shed == 2
    assert [r[2] for r in records] == ["dev2", "dev3", "dev4"]
    assert history.recorded == 5
    assert history.take(100) == ([], 0)  # the count was reported once


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("DISCONNECT SUCCESS", ("normal", ReasonCode.NORMAL_DISCONNECTION)),
        ("keep alive timeout", ("keepalive_timeout", ReasonCode.KEEP_ALIVE_TIMEOUT)),
        ("connection closed by peer", ("tcp_closed", None)),
        ("PROTOCOL_ERROR: bad packet", ("protocol_error", ReasonCode.PROTOCOL_ERROR)),
        (
            "outbound budget exceeded (10 bytes unsent or queued)",
            ("quota_exceeded", ReasonCode.QUOTA_EXCEEDED),
        ),
    ],
)
def test_disconnect_reasons_map_to_emqx_names_and_codes(
    reason: str, expected: tuple[str, ReasonCode | None]
) -> None:
    name, code, _text = disconnect_reason(reason)
    assert (name, code) == expected


def test_keep_alive_timeout_is_recorded_with_0x8d() -> None:
    h, history = recording()
    h.connect("dev1", keep_alive=10)
    h.tick(h.now + 16)
    events = taken(history)
    assert (events[-1].event, events[-1].reason_code) == (EventKind.DISCONNECTED, 0x8D)


class _DenyPublish:
    def can_publish(self, client: object, topic: str) -> bool:
        return not topic.startswith("secret/")

    def can_subscribe(self, client: object, topic_filter: str) -> bool:
        return True


def test_disconnects_are_counted_by_emqx_reason() -> None:
    h, history = recording()
    h.connect("dev1")
    h.connect("dev1", clean_start=False)
    _found, actions = h.broker.kick("dev1", h.now)
    h.perform(actions)
    assert history.disconnect_reasons == {"takenover": 1, "kicked": 1}
