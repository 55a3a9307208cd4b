"""The rule engine in a real broker process: paho clients, a real local HTTP server, `rule_metrics`."""

import json
import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.broker.harness import TENANT, BrokerProcess, make_spec
from tests.integration.broker.webhook import Paho, WebhookServer, free_port

from mqttcloud import contracts

BrokerFactory = Callable[[contracts.BrokerSpec], BrokerProcess]


def tenant(*rules: contracts.RuleSpec) -> contracts.TenantSpec:
    return contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True, rules=list(rules))


def rule(rule_id: str, sql: str, *actions: contracts.RuleAction) -> contracts.RuleSpec:
    return contracts.RuleSpec(id=rule_id, sql=sql, actions=list(actions))


def http_action(url: str, **kw: Any) -> contracts.HttpAction:
    return contracts.HttpAction.model_validate({"name": "http:hook", "url": url, **kw})


def metrics(broker: BrokerProcess) -> dict[str, Any]:
    return broker.admin("rule_metrics", tenant=TENANT)


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.close()


def test_a_rule_with_where_republishes_the_reshaped_message(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    republish = contracts.RepublishAction(
        topic="alerts/${clientid}", payload='{"t":${t},"who":"${u}"}', qos=1
    )
    sql = 'SELECT payload.temp AS t, username AS u, clientid FROM "sensors/+" WHERE payload.temp > 30'
    broker = broker_factory(make_spec(tmp_path, tenants=[tenant(rule("hot", sql, republish))]))
    sub = Paho(broker.port(), "watcher")
    pub = Paho(broker.port(), "dev1", username="alice")
    try:
        sub.subscribe("alerts/#", 1)
        pub.publish("sensors/a", b'{"temp": 20}', 1)
        pub.publish("sensors/a", b'{"temp": 35}', 1)
        msg = sub.get()
        assert (msg.topic, msg.qos) == ("alerts/dev1", 1)
        assert json.loads(msg.payload) == {"t": 35, "who": "alice"}
        counters = metrics(broker)["rules"]["hot"]
        assert (counters["matched"], counters["passed"], counters["failed.no_result"]) == (2, 1, 1)
        assert counters["actions.success"] == 1
    finally:
        sub.close()
        pub.close()


def test_an_http_rule_posts_each_output_to_a_real_server(
    broker_factory: BrokerFactory, tmp_path: Path, webhook: WebhookServer
) -> None:
    """The rules arrive with apply_spec on a running broker, as the control plane sends them."""
    broker = broker_factory(make_spec(tmp_path, tenants=[tenant()]))
    action = http_action(
        webhook.url + "/hook/${clientid}",
        headers={"x-token": "s3cret"},
        body='{"temp": ${payload.temp}, "topic": "${topic}"}',
    )
    broker.apply(make_spec(tmp_path, tenants=[tenant(rule("hook", 'SELECT * FROM "t/#"', action))]), 2)
    pub = Paho(broker.port(), "dev7")
    try:
        pub.publish("t/1", b'{"temp": 21.5}', 1)
        request = webhook.get()
        assert (request.method, request.path) == ("POST", "/hook/dev7")
        assert request.headers["x-token"] == "s3cret"
        assert request.headers["content-type"] == "application/json"
        assert request.json() == {"temp": 21.5, "topic": "t/1"}
        wait_until(lambda: metrics(broker)["actions"]["http:hook"]["success"] == 1)
        got = metrics(broker)["actions"]["http:hook"]
        assert (got["matched"], got["failed"], got["status"]) == (1, 0, "connected")
        # a new spec without the rule stops it
        broker.apply(make_spec(tmp_path, tenants=[tenant()]), 3)
        pub.publish("t/1", b'{"temp": 1}', 1)
        assert metrics(broker) == {"rules": {}, "actions": {}}
        with pytest.raises(queue.Empty):
            webhook.get(timeout=0.5)
    finally:
        pub.close()


def test_client_connected_and_disconnected_rules_fire_with_emqx_fields(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    rules = [
        rule(
            "conn",
            "SELECT clientid, username, proto_ver, keepalive, peername, sockname"
            ' FROM "$events/client_connected"',
            contracts.RepublishAction(topic="ev/connected"),
        ),
        rule(
            "disc",
            'SELECT clientid, reason, disconnected_at FROM "$events/client_disconnected"',
            contracts.RepublishAction(topic="ev/disconnected"),
        ),
    ]
    broker = broker_factory(make_spec(tmp_path, tenants=[tenant(*rules)]))
    watcher = Paho(broker.port(), "watcher")
    try:
        watcher.subscribe("ev/#")
        before = time.time()
        device = Paho(broker.port(), "dev9", username="carol", version=4)
        connected = json.loads(watcher.get().payload)
        assert connected["clientid"] == "dev9"
        assert (connected["username"], connected["proto_ver"], connected["keepalive"]) == ("carol", 4, 30)
        assert connected["peername"].startswith("127.0.0.1:")
        assert connected["sockname"] == f"127.0.0.1:{broker.port()}"
        device.close()
        disconnected = json.loads(watcher.get().payload)
        assert (disconnected["clientid"], disconnected["reason"]) == ("dev9", "normal")
        assert disconnected["disconnected_at"] >= int(before * 1000)
    finally:
        watcher.close()


def round_trip(pub: Paho, sub: Paho, topic: str) -> float:
    started = time.perf_counter()
    pub.publish(topic, b"ping", 1)
    assert sub.get().payload == b"ping"
    return time.perf_counter() - started


def test_a_target_that_is_down_queues_drops_past_the_bound_and_recovers(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    port = free_port()
    action = http_action(f"http://127.0.0.1:{port}/in", max_queue=5, pool_size=2, connect_timeout=1)
    broker = broker_factory(
        make_spec(tmp_path, tenants=[tenant(rule("hook", 'SELECT payload FROM "data/#"', action))])
    )
    pub = Paho(broker.port(), "dev1")
    sub = Paho(broker.port(), "other-sub")
    server: WebhookServer | None = None
    try:
        sub.subscribe("other/#", 1)
        wait_until(lambda: metrics(broker)["actions"]["http:hook"]["status"] == "disconnected")
        reason = metrics(broker)["actions"]["http:hook"]["status_reason"]
        assert "refused" in reason.lower() or "errno" in reason.lower(), reason
        for i in range(8):
            pub.publish("data/x", json.dumps({"n": i}).encode(), 1)
        wait_until(lambda: metrics(broker)["actions"]["http:hook"]["matched"] == 8)
        got = metrics(broker)["actions"]["http:hook"]
        assert (got["queuing"], got["dropped"], got["success"]) == (5, 3, 0)
        # MQTT traffic elsewhere keeps flowing while the action fails
        trips = [round_trip(pub, sub, "other/rt") for _ in range(20)]
        assert max(trips) < 0.5, trips
        server = WebhookServer(port)
        bodies = sorted(server.get().json()["payload"] for _ in range(5))
        assert bodies == sorted(json.dumps({"n": i}) for i in range(5))
        wait_until(lambda: metrics(broker)["actions"]["http:hook"]["success"] == 5)
        got = metrics(broker)["actions"]["http:hook"]
        assert (got["status"], got["status_reason"], got["queuing"], got["failed"]) == ("connected", "", 0, 0)
        pub.publish("data/x", b'{"n": 99}', 1)
        assert server.get().json()["payload"] == '{"n": 99}'
    finally:
        pub.close()
        sub.close()
        if server is not None:
            server.close()


def test_server_errors_are_retried_then_counted_failed(
    broker_factory: BrokerFactory, tmp_path: Path, webhook: WebhookServer
) -> None:
    webhook.status = 503
    action = http_action(webhook.url, max_retries=2)
    broker = broker_factory(make_spec(tmp_path, tenants=[tenant(rule("hook", 'SELECT * FROM "t"', action))]))
    pub = Paho(broker.port(), "dev1")
    try:
        pub.publish("t", b"x", 1)
        for _ in range(3):  # the first try and two retries
            webhook.get()
        wait_until(lambda: metrics(broker)["actions"]["http:hook"]["failed"] == 1)
        got = metrics(broker)["actions"]["http:hook"]
        assert (got["retried"], got["success"], got["status"]) == (2, 0, "connected")
    finally:
        pub.close()
