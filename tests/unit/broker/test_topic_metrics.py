"""Topic metrics (`broker/topic_metrics.py`): registered topics count messages in, out and dropped by QoS on
the publish path, rates follow EMQX's moving average, a reset zeroes them, and a cluster counts each
message once in and once per receiver out (summed over its nodes)."""

import pytest
from tests.unit.broker.pair import Harness, publish
from tests.unit.broker.test_cluster import Cluster
from tests.unit.broker.test_subscribe import subscribe

from mqttcloud import contracts
from mqttcloud.broker.topic_metrics import TICK, WINDOW, TopicMetrics
from mqttcloud.protocol.packets import Unsubscribe


def counts(metrics: TopicMetrics, topic: str) -> dict[str, int]:
    (found,) = metrics.report(topic).topics
    return dict(zip(contracts.TOPIC_METRIC_NAMES, found.counts, strict=True))


def register(h: Harness, *topics: str) -> None:
    spec = contracts.TenantSpec(
        tenant_id=contracts.TenantId("t1"), allow_anonymous=True, topic_metrics=list(topics)
    )
    h.perform(h.broker.update_spec(spec, h.now))


def test_counts_in_out_and_dropped_by_qos() -> None:
    h = Harness()
    register(h, "m/1")
    s1, _ = h.connect("s1")
    s2, _ = h.connect("s2")
    subscribe(s1, "m/+", qos=1)
    subscribe(s2, "m/1", qos=0)
    pub, _ = h.connect("pub")
    pub.send(publish("m/1", qos=1, packet_id=1))  # to s1 at QoS 1, to s2 at QoS 0
    pub.send(publish("m/1", qos=0))  # to both at QoS 0
    pub.send(publish("m/2", qos=0))  # not registered
    s1.send(Unsubscribe(packet_id=2, topic_filters=("m/+",)))
    s2.send(Unsubscribe(packet_id=2, topic_filters=("m/1",)))
    pub.send(publish("m/1", qos=2, packet_id=2))  # nobody: dropped
    got = counts(h.broker.topic_metrics, "m/1")
    assert got == {
        "messages.in": 3,
        "messages.out": 4,
        "messages.qos0.in": 1,
        "messages.qos0.out": 3,
        "messages.qos1.in": 1,
        "messages.qos1.out": 1,
        "messages.qos2.in": 1,
        "messages.qos2.out": 0,
        "messages.dropped": 1,
    }
    assert h.broker.topic_metrics.report("m/2").topics == []


def test_nothing_is_counted_or_scheduled_without_registered_topics() -> None:
    h = Harness()
    assert h.broker.next_deadline() is None
    pub, _ = h.connect("pub")
    pub.send(publish("m/1"))
    assert h.broker.topic_metrics.counters == {}
    assert h.broker.topic_metrics.report().topics == []


def test_rates_are_emqx_moving_averages_of_per_second_deltas() -> None:
    h = Harness()
    register(h, "r")
    assert h.broker.next_deadline() == h.now + TICK
    pub, _ = h.connect("pub")
    for _ in range(10):
        pub.send(publish("r"))
    h.tick(h.now + TICK)
    (first,) = h.broker.topic_metrics.report("r").topics
    assert first.rates[0] == pytest.approx(10 / WINDOW)  # messages.in: (0 * 4 + 10) / 5
    assert first.rates[8] == pytest.approx(10 / WINDOW)  # dropped (no subscriber)
    assert first.rates[1] == 0
    h.tick(h.now + TICK)  # a second with no message: the average decays
    (second,) = h.broker.topic_metrics.report("r").topics
    assert second.rates[0] == pytest.approx(10 / WINDOW * (WINDOW - 1) / WINDOW)
    assert h.broker.next_deadline() == h.now + TICK


def test_reset_zeroes_counts_and_rates_and_unregistering_stops_sampling() -> None:
    h = Harness()
    register(h, "a", "b")
    pub, _ = h.connect("pub")
    pub.send(publish("a"))
    pub.send(publish("b"))
    h.tick(h.now + TICK)
    assert h.broker.topic_metrics.reset("a") == ["a"]
    assert counts(h.broker.topic_metrics, "a")["messages.in"] == 0
    assert h.broker.topic_metrics.report("a").topics[0].rates == [0.0] * 9
    assert counts(h.broker.topic_metrics, "b")["messages.in"] == 1
    assert h.broker.topic_metrics.reset("nope") == []
    register(h, "b", "c")  # "b" keeps its counts, "a" goes, "c" starts at zero
    assert [t.topic for t in h.broker.topic_metrics.report().topics] == ["b", "c"]
    assert counts(h.broker.topic_metrics, "b")["messages.in"] == 1
    register(h)
    h.tick(h.now + TICK)
    assert h.broker.next_deadline() is None


def test_cluster_counts_in_on_the_publisher_and_out_where_delivered() -> None:
    c = Cluster()
    for h in c.harness.values():
        register(h, "t/1")
    sb = c.connect("b", "sb")
    subscribe(sb, "t/#", qos=1)
    pub = c.connect("a", "p")
    pub.send(publish("t/1", qos=1, packet_id=1))  # a has no subscriber: forwarded to b only
    pub.send(publish("t/2", qos=0))
    sums = dict.fromkeys(contracts.TOPIC_METRIC_NAMES, 0)
    for h in c.harness.values():
        for name, value in counts(h.broker.topic_metrics, "t/1").items():
            sums[name] += value
    assert sums["messages.in"] == 1
    assert sums["messages.qos1.in"] == 1
    assert sums["messages.out"] == 1
    assert sums["messages.qos1.out"] == 1
    assert sums["messages.dropped"] == 0
    assert counts(c.harness["a"].broker.topic_metrics, "t/1")["messages.in"] == 1
    assert counts(c.harness["b"].broker.topic_metrics, "t/1")["messages.out"] == 1
