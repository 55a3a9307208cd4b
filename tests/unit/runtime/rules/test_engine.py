"""The rule engine on a real core (pair harness, no sockets): matching, columns, counters, republish."""

import asyncio
import json
import logging

import pytest
from tests.unit.broker.pair import Client, Harness, publish

from mqttcloud import contracts
from mqttcloud.protocol.packets import Disconnect, PubAck, Publish, QoS, Subscribe, Subscription, Unsubscribe
from mqttcloud.protocol.reason_codes import ReasonCode
from mqttcloud.runtime.events import disconnect_reason
from mqttcloud.runtime.rules import RuleEngine
from mqttcloud.runtime.rules.outputs import MAX_DEPTH
from mqttcloud.runtime.rules.sink import LOG_INTERVAL, ThrottledLog


def rule(rule_id: str, sql: str, *actions: contracts.RuleAction) -> contracts.RuleSpec:
    return contracts.RuleSpec(id=rule_id, sql=sql, actions=list(actions))


def republish(topic: str, payload: str = "", **kw: object) -> contracts.RepublishAction:
    return contracts.RepublishAction.model_validate({"topic": topic, "payload": payload, **kw})


def engine_for(h: Harness, *specs: contracts.RuleSpec) -> RuleEngine:
    engine = RuleEngine(h.broker, h.perform, now=lambda: h.now)
    assert engine.apply(specs) == []
    h.broker.tap = engine if engine.has_message_rules else None
    h.broker.events = engine if engine.has_event_rules else None
    return engine


def sub(client: Client, flt: str, qos: int = 0) -> None:
    client.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter=flt, qos=QoS(qos)),)))
    client.take()


async def received(client: Client) -> list[Publish]:
    await asyncio.sleep(0)  # the republisher routes on the next loop iteration
    return client.only(Publish)


def counters(engine: RuleEngine, rule_id: str) -> dict[str, int]:
    dumped: dict[str, int] = engine.metrics().rules[rule_id].model_dump(by_alias=True)
    return {k: v for k, v in dumped.items() if v}


async def test_a_rule_with_where_republishes_the_reshaped_message() -> None:
    h = Harness()
    engine = engine_for(
        h,
        rule(
            "r1",
            'SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30',
            republish("alerts/${clientid}", '{"t":${t}}', qos=1),
        ),
    )
    watcher, _ = h.connect("watcher")
    sub(watcher, "alerts/#", qos=1)
    device, _ = h.connect("dev1", username="alice")
    device.send(publish("sensors/1", b'{"temp": 35}'))
    device.send(publish("sensors/1", b'{"temp": 20}'))
    device.send(publish("other", b'{"temp": 99}'))
    got = await received(watcher)
    assert [(p.topic, p.payload, p.qos) for p in got] == [("alerts/dev1", b'{"t":35}', 1)]
    assert counters(engine, "r1") == {
        "matched": 2,
        "passed": 1,
        "failed": 1,
        "failed.no_result": 1,
        "actions.total": 1,
        "actions.success": 1,
    }


async def test_distinct_rules_on_one_message_each_get_their_own_outcome() -> None:
    """Rules share one decode of the payload and one outcome of an identical WHERE on the input, but a
    WHERE on an alias, and each rule's SELECT, stay their own."""
    h = Harness()
    shared = [
        rule(
            f"r{i}",
            f'SELECT payload.temp AS t, {i} AS r FROM "s/#" WHERE payload.temp > 30',
            republish(f"a/{i}", "${r}:${t}"),
        )
        for i in range(3)
    ]
    own = rule("own", 'SELECT payload.temp - 10 AS t FROM "s/#" WHERE t > 30', republish("a/own", "${t}"))
    engine = engine_for(h, *shared, own)
    watcher, _ = h.connect("watcher")
    sub(watcher, "a/#")
    device, _ = h.connect("dev1")
    device.send(publish("s/1", b'{"temp": 35}'))
    device.send(publish("s/1", b'{"temp": 45}'))
    got = await received(watcher)
    assert sorted((p.topic, p.payload) for p in got) == [
        ("a/0", b"0:35"),
        ("a/0", b"0:45"),
        ("a/1", b"1:35"),
        ("a/1", b"1:45"),
        ("a/2", b"2:35"),
        ("a/2", b"2:45"),
        ("a/own", b"35"),
    ]
    for rule_id in ("r0", "r1", "r2"):
        assert counters(engine, rule_id)["passed"] == 2
    assert counters(engine, "own") == {
        "matched": 2,
        "passed": 1,
        "failed": 1,
        "failed.no_result": 1,
        "actions.total": 1,
        "actions.success": 1,
    }


async def test_message_columns_carry_emqx_names_and_the_publisher() -> None:
    h = Harness()
    engine_for(h, rule("r1", 'SELECT * FROM "t/#"', republish("out")))
    watcher, _ = h.connect("watcher")
    sub(watcher, "out")
    device, _ = h.connect("dev1", username="alice")
    device.send(publish("t/1", b"hello", retain=True))
    (out,) = await received(watcher)
    columns = json.loads(out.payload)
    assert columns["event"] == "message.publish"
    assert (columns["clientid"], columns["username"], columns["peerhost"]) == ("dev1", "alice", "127.0.0.1")
    assert (columns["topic"], columns["payload"], columns["qos"]) == ("t/1", "hello", 0)
    assert columns["flags"] == {"retain": True, "dup": False}
    assert columns["node"] == "n1@127.0.0.1"
    assert columns["publish_received_at"] == columns["timestamp"] == int(h.now * 1000)
    assert len(columns["id"]) == 32


async def test_a_payload_that_is_not_json_counts_failed_exception() -> None:
    h = Harness()
    engine = engine_for(h, rule("r1", 'SELECT payload.x FROM "t"', republish("out")))
    device, _ = h.connect("dev1")
    device.send(publish("t", b"not json"))
    assert counters(engine, "r1") == {"matched": 1, "failed": 1, "failed.exception": 1}


async def test_rules_that_feed_each_other_stop_at_the_depth_limit() -> None:
    """A rule republishing into its own FROM sees its republished messages (as EMQX does) until MAX_DEPTH."""
    h = Harness()
    engine = engine_for(h, rule("loop", 'SELECT * FROM "loop/#"', republish("loop/again")))
    device, _ = h.connect("dev1")
    device.send(publish("loop/start", b"{}"))
    for _ in range(MAX_DEPTH + 3):
        await asyncio.sleep(0)
    got = counters(engine, "loop")
    assert got["matched"] == MAX_DEPTH + 1  # the client's message and MAX_DEPTH republished ones
    assert got["actions.success"] == MAX_DEPTH
    assert got["actions.failed"] == got["actions.failed.unknown"] == 1


async def test_a_republish_to_an_invalid_topic_fails_the_action_not_the_rule() -> None:
    h = Harness()
    engine = engine_for(h, rule("r1", 'SELECT payload.to AS to FROM "t"', republish("out/${to}")))
    device, _ = h.connect("dev1")
    device.send(publish("t", b'{"to": "a/#"}'))
    assert counters(engine, "r1") == {
        "matched": 1,
        "passed": 1,
        "actions.total": 1,
        "actions.failed": 1,
        "actions.failed.unknown": 1,
    }


async def test_an_action_failing_in_a_loop_is_counted_each_time_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness()
    engine = engine_for(h, rule("r1", 'SELECT payload.to AS to FROM "t"', republish("out/${to}")))
    device, _ = h.connect("dev1")
    with caplog.at_level(logging.WARNING):
        for _ in range(50):
            device.send(publish("t", b'{"to": "a/#"}'))
    assert counters(engine, "r1")["actions.failed"] == 50
    lines = [r.getMessage() for r in caplog.records if "r1" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "out/a/#" in lines[0]


def test_throttled_log_says_how_many_lines_it_held_back(caplog: pytest.LogCaptureFixture) -> None:
    clock = [100.0]
    throttled = ThrottledLog("pgsql action p", clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING):
        for n in range(5):
            throttled.warning(f"failure {n}")
        clock[0] += LOG_INTERVAL
        throttled.warning("failure 5")
    assert [r.getMessage() for r in caplog.records] == [
        "pgsql action p: failure 0",
        "pgsql action p: failure 5 (and 4 more failures not logged)",
    ]


async def test_republish_qos_and_retain_come_from_templates() -> None:
    h = Harness()
    engine_for(
        h,
        rule(
            "r1", 'SELECT qos, payload FROM "t"', republish("out", "${payload}", qos="${qos}", retain="true")
        ),
    )
    watcher, _ = h.connect("watcher")
    sub(watcher, "out", qos=2)
    device, _ = h.connect("dev1")
    device.send(publish("t", b"abc", qos=1, packet_id=7))
    watcher.take()
    (out,) = await received(watcher)
    assert (out.payload, out.qos) == (b"abc", 1)
    assert h.broker.retained.match("out", h.now)[0].payload == b"abc"


async def test_emqx_default_qos_and_retain_templates_fall_back_to_0_and_false() -> None:
    """`${qos}` / `${flags.retain}` (EMQX 5's defaults) keep the message's flags when the SELECT keeps
    them, and give QoS 0 and no retain when it does not, as EMQX renders a missing variable."""
    h = Harness()
    defaults = {"qos": "${qos}", "retain": "${flags.retain}"}
    engine = engine_for(
        h,
        rule("all", 'SELECT * FROM "t"', republish("all", "${payload}", **defaults)),
        rule("some", 'SELECT payload FROM "t"', republish("some", "${payload}", **defaults)),
    )
    watcher, _ = h.connect("watcher")
    sub(watcher, "all", qos=2)
    sub(watcher, "some", qos=2)
    device, _ = h.connect("dev1")
    device.send(publish("t", b"abc", qos=1, packet_id=7, retain=True))
    watcher.take()
    got = {p.topic: (p.qos, p.retain) for p in await received(watcher)}
    assert got == {"all": (1, False), "some": (0, False)}  # retain is cleared towards live subscribers
    assert sorted(m.topic for m in h.broker.retained.match("#", h.now)) == ["all", "t"]
    assert counters(engine, "some")["actions.success"] == 1


async def test_client_connected_and_disconnected_events_carry_emqx_fields() -> None:
    h = Harness()
    engine = engine_for(
        h,
        rule("conn", 'SELECT * FROM "$events/client_connected"', republish("ev/conn")),
        rule("disc", 'SELECT * FROM "$events/client_disconnected"', republish("ev/disc")),
    )
    watcher, _ = h.connect("watcher")
    sub(watcher, "ev/#")
    await received(watcher)
    device, _ = h.connect("dev1", username="bob", keep_alive=30, version=4)
    (connected,) = await received(watcher)
    columns = json.loads(connected.payload)
    assert columns["event"] == "client.connected"
    assert (columns["clientid"], columns["username"], columns["proto_ver"]) == ("dev1", "bob", 4)
    assert (columns["keepalive"], columns["clean_start"], columns["proto_name"]) == (30, True, "MQTT")
    assert columns["peername"] == f"127.0.0.1:{device.channel.peer.port}"
    assert columns["connected_at"] == int(h.now * 1000)
    device.send(Disconnect())
    (disconnected,) = await received(watcher)
    columns = json.loads(disconnected.payload)
    assert (columns["event"], columns["clientid"], columns["reason"]) == (
        "client.disconnected",
        "dev1",
        "normal",
    )
    assert counters(engine, "disc")["passed"] == 1


async def test_a_disconnect_reason_is_named_as_the_event_history_names_it() -> None:
    """One mapping (runtime/events.py): a v5 DISCONNECT 0x04 is EMQX's `disconnect_with_will_message`."""
    h = Harness()
    engine_for(h, rule("disc", 'SELECT reason FROM "$events/client_disconnected"', republish("ev/disc")))
    watcher, _ = h.connect("watcher")
    sub(watcher, "ev/#")
    device, _ = h.connect("dev1")
    device.send(Disconnect(reason_code=ReasonCode.DISCONNECT_WITH_WILL_MESSAGE))
    (disconnected,) = await received(watcher)
    reason = json.loads(disconnected.payload)["reason"]
    assert reason == "disconnect_with_will_message"
    assert reason == disconnect_reason("DISCONNECT DISCONNECT_WITH_WILL_MESSAGE")[0]


async def test_session_and_message_events() -> None:
    h = Harness()
    sources = (
        "session_subscribed",
        "session_unsubscribed",
        "message_delivered",
        "message_acked",
        "message_dropped",
    )
    # WHERE keeps the rules off the events of their own republished messages
    engine = engine_for(
        h,
        *(
            rule(
                name, f"SELECT * FROM \"$events/{name}\" WHERE not (topic =~ 'ev/+')", republish(f"ev/{name}")
            )
            for name in sources
        ),
    )
    watcher, _ = h.connect("watcher")
    sub(watcher, "ev/+")
    await received(watcher)
    device, _ = h.connect("dev1")
    device.send(Subscribe(packet_id=2, subscriptions=(Subscription(topic_filter="in/+", qos=QoS(1)),)))
    device.send(Unsubscribe(packet_id=3, topic_filters=("in/+",)))
    sub(device, "data", qos=1)
    device.send(publish("nobody/listens", b"x"))
    publisher, _ = h.connect("pub")
    publisher.send(publish("data", b"d", qos=1, packet_id=5))
    (delivery,) = device.only(Publish)
    assert delivery.packet_id is not None
    device.send(PubAck(packet_id=delivery.packet_id))
    got = await received(watcher)
    by_topic = {p.topic: json.loads(p.payload) for p in got}
    assert by_topic["ev/session_subscribed"]["topic"] == "data"  # the last of two subscribes
    assert by_topic["ev/session_unsubscribed"]["topic"] == "in/+"
    assert by_topic["ev/message_dropped"]["reason"] == "no_subscribers"
    delivered = by_topic["ev/message_delivered"]
    assert (delivered["from_clientid"], delivered["clientid"], delivered["topic"]) == ("pub", "dev1", "data")
    assert by_topic["ev/message_acked"]["clientid"] == "dev1"
    assert counters(engine, "session_subscribed") == {
        "matched": 3,  # the watcher's "ev/+" too
        "passed": 2,
        "failed": 1,
        "failed.no_result": 1,
        "actions.total": 2,
        "actions.success": 2,
    }
    assert counters(engine, "message_delivered")["passed"] == 1


async def test_sql_that_does_not_parse_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    engine = engine_for(h, rule("bad", "SELECT FROM WHERE"), rule("ok", 'SELECT * FROM "t"'))
    assert list(engine.metrics().rules) == ["ok"]
    assert "rule bad: skipped" in caplog.text


async def test_a_disabled_rule_does_not_run_and_no_rules_means_no_taps() -> None:
    h = Harness()
    spec = contracts.RuleSpec(id="off", sql='SELECT * FROM "t"', enabled=False)
    engine = engine_for(h, spec)
    assert not engine.has_message_rules
    assert not engine.has_event_rules
    assert (h.broker.tap, h.broker.events) == (None, None)


async def test_counters_survive_a_new_rule_set_when_the_rule_stays() -> None:
    h = Harness()
    engine = engine_for(h, rule("r1", 'SELECT * FROM "t"'))
    device, _ = h.connect("dev1")
    device.send(publish("t"))
    engine.apply([rule("r1", 'SELECT * FROM "t" WHERE false'), rule("r2", 'SELECT * FROM "t"')])
    device.send(publish("t"))
    assert counters(engine, "r1") == {"matched": 2, "passed": 1, "failed": 1, "failed.no_result": 1}
    assert counters(engine, "r2") == {"matched": 1, "passed": 1}


async def test_foreach_gives_one_output_per_item() -> None:
    h = Harness()
    engine = engine_for(
        h,
        rule("r1", 'FOREACH payload.items AS i DO i.v AS v FROM "t"', republish("out", "${v}")),
    )
    watcher, _ = h.connect("watcher")
    sub(watcher, "out")
    device, _ = h.connect("dev1")
    device.send(publish("t", b'{"items": [{"v": 1}, {"v": 2}]}'))
    device.send(publish("t", b'{"items": []}'))
    assert [p.payload for p in await received(watcher)] == [b"1", b"2"]
    assert counters(engine, "r1") == {
        "matched": 2,
        "passed": 1,
        "failed": 1,
        "failed.no_result": 1,
        "actions.total": 2,
        "actions.success": 2,
    }


async def test_console_logs_each_output(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="mqttcloud.runtime.rules.outputs")
    h = Harness()
    engine_for(h, rule("r1", 'SELECT payload FROM "t"', contracts.ConsoleAction()))
    device, _ = h.connect("dev1")
    device.send(publish("t", b"hi"))
    assert 'rule r1 output: {"payload":"hi"}' in caplog.text


async def test_rules_with_the_same_sql_are_each_counted_and_run_their_own_actions() -> None:
    h = Harness()
    sql = 'SELECT payload.v AS v FROM "t" WHERE payload.v > 1'
    engine = engine_for(
        h, rule("a", sql, republish("out/a", "${v}")), rule("b", sql, republish("out/b", "${v}"))
    )
    watcher, _ = h.connect("watcher")
    sub(watcher, "out/+")
    device, _ = h.connect("dev1")
    device.send(publish("t", b'{"v": 2}'))
    device.send(publish("t", b'{"v": 0}'))
    assert sorted((p.topic, p.payload) for p in await received(watcher)) == [("out/a", b"2"), ("out/b", b"2")]
    for rule_id in ("a", "b"):
        assert counters(engine, rule_id) == {
            "matched": 2,
            "passed": 1,
            "failed": 1,
            "failed.no_result": 1,
            "actions.total": 1,
            "actions.success": 1,
        }


async def test_a_rule_naming_its_columns_sees_the_same_values_as_select_star() -> None:
    h = Harness()
    sql = 'SELECT clientid, username, topic, qos, payload, peerhost, node FROM "t"'
    engine_for(
        h, rule("some", sql, republish("out/some")), rule("all", 'SELECT * FROM "t"', republish("out/all"))
    )
    watcher, _ = h.connect("watcher")
    sub(watcher, "out/+")
    device, _ = h.connect("dev1", username="alice")
    device.send(publish("t", b"hi", qos=1, packet_id=3))
    by_topic = {p.topic: json.loads(p.payload) for p in await received(watcher)}
    some, everything = by_topic["out/some"], by_topic["out/all"]
    assert some == {key: everything[key] for key in some}
    assert set(some) == {"clientid", "username", "topic", "qos", "payload", "peerhost", "node"}
