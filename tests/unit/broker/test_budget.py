"""Outbound memory budgets (`broker.budget`): a consumer that stops reading, through the pair harness."""

from collections.abc import Sequence

from tests.unit.broker.pair import Client, Harness, publish

from mqttcloud import contracts
from mqttcloud.protocol.packets import Disconnect, Packet, PubAck, Publish, QoS, Subscribe, Subscription
from mqttcloud.protocol.reason_codes import ReasonCode

PAYLOAD = 1000
SOFT = 10_000
HARD = 50_000


def limits(**kw: int) -> contracts.Limits:
    base = {"outbound_soft_budget": SOFT, "outbound_hard_budget": HARD, "tenant_outbound_budget": 0}
    base.update(kw)
    return contracts.Limits(**base)


def sub(client: Client, flt: str, qos: int = 0) -> None:
    client.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter=flt, qos=QoS(qos)),)))
    client.take()


def flood(pub: Client, n: int, qos: int = 0) -> None:
    for i in range(n):
        pub.send(publish("t", i.to_bytes(4, "big") * (PAYLOAD // 4), qos=qos, packet_id=i % 60000 + 1))


def seqs(packets: Sequence[Packet]) -> list[int]:
    return [int.from_bytes(p.payload[:4], "big") for p in packets if isinstance(p, Publish)]


def test_qos0_past_soft_budget_drops_oldest_and_keeps_connection() -> None:
    h = Harness(limits())
    pub, _ = h.connect("pub")
    slow, _ = h.connect("slow")
    sub(slow, "t")
    slow.stalled = True
    flood(pub, 200)
    assert not slow.is_closed()
    ch = slow.channel
    assert ch.unsent <= SOFT + PAYLOAD + 16  # the socket got one message past the soft budget at most
    assert ch.session is not None
    assert ch.session.queued_bytes <= SOFT  # the queue keeps at most the soft budget's worth
    dropped = h.broker.counters["delivery.dropped.qos0_msg"]
    assert dropped > 150
    assert h.broker.counters["delivery.dropped"] == dropped
    assert ch.counters.send_msg_dropped == dropped
    got = seqs(slow.read_all())
    assert len(got) + dropped == 200
    assert got[-1] == 199  # the newest survive: the oldest queued were dropped
    assert got == sorted(got)
    assert h.broker.unsent_total == 0


def test_qos0_under_soft_budget_all_delivered() -> None:
    h = Harness(limits())
    pub, _ = h.connect("pub")
    fast, _ = h.connect("fast")
    sub(fast, "t")
    flood(pub, 200)
    assert seqs(fast.take()) == list(range(200))
    assert h.broker.counters["delivery.dropped"] == 0


def test_qos1_past_hard_budget_disconnects_v5_with_0x97() -> None:
    h = Harness(limits(max_inflight=65535))
    pub, _ = h.connect("pub")
    slow, _ = h.connect("slow")
    sub(slow, "t", qos=1)
    slow.stalled = True
    flood(pub, 100, qos=1)
    assert slow.is_closed()
    assert h.broker.channel(slow.channel_id) is None
    assert h.broker.unsent_total == 0
    tail = slow.read_all()
    assert isinstance(tail[-1], Disconnect)
    assert tail[-1].reason_code == ReasonCode.QUOTA_EXCEEDED
    assert not pub.is_closed()
    assert all(isinstance(p, PubAck) for p in pub.take())


def test_qos1_past_hard_budget_closes_v311_without_disconnect() -> None:
    h = Harness(limits())
    pub, _ = h.connect("pub")
    slow, _ = h.connect("slow", version=4)
    sub(slow, "t", qos=1)
    slow.stalled = True
    flood(pub, 100, qos=1)
    assert slow.is_closed()
    assert not any(isinstance(p, Disconnect) for p in slow.read_all())


def test_queue_drains_when_the_socket_does() -> None:
    """QoS 1 deliveries held while congested go out once the client reads again, in order."""
    h = Harness(limits(max_inflight=65535))
    pub, _ = h.connect("pub")
    slow, _ = h.connect("slow")
    sub(slow, "t", qos=1)
    slow.stalled = True
    flood(pub, 30, qos=1)
    ch = slow.channel
    assert ch.congested
    assert ch.session is not None
    assert len(ch.session.queue) > 0
    assert seqs(slow.read_all()) == list(range(30))
    assert not ch.session.queue
    assert not ch.congested


def test_tenant_budget_cuts_off_congested_clients_only() -> None:
    h = Harness(limits(outbound_hard_budget=0, tenant_outbound_budget=3 * SOFT))
    pub, _ = h.connect("pub")
    fast, _ = h.connect("fast")
    sub(fast, "t")
    slow = []
    for i in range(4):
        c, _ = h.connect(f"slow{i}")
        sub(c, "t")
        c.stalled = True
        slow.append(c)
    flood(pub, 100)
    assert not fast.is_closed()
    assert seqs(fast.take()) == list(range(100))
    closed = [c for c in slow if c.is_closed()]
    assert closed, "the tenant budget cut off no congested client"
    assert h.broker.unsent_total <= 3 * SOFT + 4 * (PAYLOAD + 16)
    for c in closed:
        tail = c.read_all()
        assert isinstance(tail[-1], Disconnect)
        assert tail[-1].reason_code == ReasonCode.QUOTA_EXCEEDED


def test_zero_budgets_mean_no_budget() -> None:
    h = Harness(limits(outbound_soft_budget=0, outbound_hard_budget=0))
    pub, _ = h.connect("pub")
    slow, _ = h.connect("slow")
    sub(slow, "t")
    slow.stalled = True
    flood(pub, 100)
    assert not slow.is_closed()
    assert h.broker.counters["delivery.dropped"] == 0
    assert seqs(slow.read_all()) == list(range(100))
