"""The admin channel against a running broker: every op, errors, and live `apply_spec` changes."""

import base64
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.broker import mqtt_wire as w
from tests.integration.broker.harness import TENANT, TOKEN, BrokerProcess, listener, make_spec

from mqttcloud import contracts

Factory = Callable[[contracts.BrokerSpec], BrokerProcess]


def test_ping_reports_pid_and_tenants(broker: BrokerProcess) -> None:
    result = broker.admin("ping")
    assert broker.proc is not None
    assert result["pid"] == broker.proc.pid
    assert result["broker_id"] == "test-broker"
    assert result["tenants"] == [TENANT]
    assert result["loop_stall_ms"] == result["loop_stall_cpu_ms"] == 0.0  # no probe unless asked


def _connect_burst(port: int, count: int) -> None:
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    for i, sock in enumerate(socks):
        sock.sendall(w.connect(f"burst-{i}", version=4))
    for sock in socks:
        assert sock.recv(4)[:1] == b"\x20"  # CONNACK
        sock.close()


def test_the_loop_lag_probe_runs_only_when_the_spec_asks(broker_factory: Factory, tmp_path: Path) -> None:
    """With `loop_lag_probe` the broker's timer measures how long a burst of connects held its loop."""
    for name in ("off", "on"):
        (tmp_path / name).mkdir()
    quiet = broker_factory(make_spec(tmp_path / "off"))
    probed = broker_factory(make_spec(tmp_path / "on").model_copy(update={"loop_lag_probe": True}))
    for proc in (quiet, probed):
        proc.admin("ping")  # a new window
        _connect_burst(proc.port(), 300)
    assert quiet.admin("ping")["loop_stall_ms"] == 0.0
    result = probed.admin("ping")
    assert 0.0 < result["loop_stall_ms"] < 5000.0  # the longest event-loop stall since the last ping
    assert 0.0 <= result["loop_stall_cpu_ms"] <= result["loop_stall_ms"] + 10.0


def test_bad_token_is_unauthorized_and_closes(broker: BrokerProcess) -> None:
    assert broker.ready is not None
    with socket.create_connection(("127.0.0.1", broker.ready.admin.port), timeout=5) as sock:
        sock.sendall(json.dumps({"id": 9, "token": "wrong", "op": "ping", "args": {}}).encode() + b"\n")
        reader = sock.makefile("rb")
        answer = json.loads(reader.readline())
        assert answer["id"] == 9
        assert answer["ok"] is False
        assert answer["error"]["code"] == "UNAUTHORIZED"
        assert reader.readline() == b""  # closed


def test_requests_on_one_connection_are_answered_in_order(broker: BrokerProcess) -> None:
    assert broker.ready is not None
    with socket.create_connection(("127.0.0.1", broker.ready.admin.port), timeout=5) as sock:
        lines = b"".join(
            json.dumps({"id": i, "token": TOKEN, "op": "ping", "args": {}}).encode() + b"\n"
            for i in range(1, 6)
        )
        sock.sendall(lines)
        reader = sock.makefile("rb")
        assert [json.loads(reader.readline())["id"] for _ in range(5)] == [1, 2, 3, 4, 5]


def test_invalid_args_are_bad_request(broker: BrokerProcess) -> None:
    assert broker.admin_error("list_clients", tenant=TENANT, page=0)["code"] == "BAD_REQUEST"
    answer = broker.admin_raw({"id": 3, "token": TOKEN, "op": "nope", "args": {}})
    assert answer["ok"] is False


def test_unknown_tenant_is_not_found(broker: BrokerProcess) -> None:
    assert broker.admin_error("stats", tenant="nope")["code"] == "NOT_FOUND"


def test_list_get_and_kick_client(broker: BrokerProcess) -> None:
    with w.connected(broker.port(), "adm-c1", version=5) as c:
        listing = broker.admin("list_clients", tenant=TENANT, filter={"clientid": "adm-c1"})
        assert listing["count"] == 1
        data = listing["data"]
        assert isinstance(data, list)
        assert data[0]["listener"] == "tcp:default"
        assert data[0]["ip_address"] == "127.0.0.1"
        info = broker.admin("get_client", tenant=TENANT, clientid="adm-c1")
        assert info["connected"] is True
        assert info["proto_ver"] == 5
        broker.admin("kick", tenant=TENANT, clientid="adm-c1")
        reply = c.recv_packet()
        assert reply[0] == 0xE0
        assert reply[2] == 0x98  # DISCONNECT 0x98 administrative action
        assert c.is_closed()
    assert broker.admin_error("get_client", tenant=TENANT, clientid="adm-c1")["code"] == "CLIENTID_NOT_FOUND"
    assert broker.admin_error("kick", tenant=TENANT, clientid="adm-c1")["code"] == "CLIENTID_NOT_FOUND"


def test_subscribe_on_behalf_then_publish_via_api(broker: BrokerProcess) -> None:
    with w.connected(broker.port(), "adm-sub") as c:
        info = broker.admin("subscribe", tenant=TENANT, clientid="adm-sub", topic="adm/t", qos=0)
        assert info["topic"] == "adm/t"
        subs = broker.admin("client_subscriptions", tenant=TENANT, clientid="adm-sub")
        assert subs["count"] == 1
        listed = broker.admin("list_subscriptions", tenant=TENANT, filter={"match_topic": "adm/t"})
        assert listed["count"] == 1
        result = broker.admin(
            "publish", tenant=TENANT, topic="adm/t", payload_b64=base64.b64encode(b"hi").decode()
        )
        assert result["matched"] == 1
        assert isinstance(result["id"], str)
        assert len(result["id"]) == 32
        c.expect(w.publish("adm/t", b"hi"))
        broker.admin("unsubscribe", tenant=TENANT, clientid="adm-sub", topic="adm/t")
        assert broker.admin("client_subscriptions", tenant=TENANT, clientid="adm-sub")["count"] == 0


def test_publish_with_bad_topic_is_bad_request(broker: BrokerProcess) -> None:
    assert broker.admin_error("publish", tenant=TENANT, topic="a/#")["code"] == "BAD_REQUEST"


def test_stats_and_metrics(broker: BrokerProcess) -> None:
    with w.connected(broker.port(), "adm-stats"):
        stats = broker.admin("stats", tenant=TENANT)["values"]
        assert isinstance(stats, dict)
        assert stats["connections.count"] >= 1
        metrics = broker.admin("metrics", tenant=TENANT)["values"]
        assert isinstance(metrics, dict)
        assert metrics["packets.connect.received"] >= 1


def _wait(predicate: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_apply_spec_opens_and_closes_listeners(broker_factory: Factory, tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    b = broker_factory(spec)
    tcp_port = b.port()
    with w.connected(tcp_port, "stay"):
        spec2 = spec.model_copy(update={"listeners": [*spec.listeners, listener("ws:default", "ws")]})
        result = b.apply(spec2, 2)
        assert result["generation"] == 2
        names = {entry["name"]: entry["port"] for entry in result["listeners"]}
        assert names["tcp:default"] == tcp_port  # kept listener keeps its port
        assert b.reload_ready().spec_generation == 2
        spec3 = spec.model_copy(update={"listeners": [listener("ws:default", "ws")]})
        b.apply(spec3, 3)
    try:
        socket.create_connection(("127.0.0.1", tcp_port), timeout=1).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    assert refused
    assert b.admin("ping")["spec_generation"] == 3


def test_apply_spec_disabling_tenant_disconnects_v5_clients(broker_factory: Factory, tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    b = broker_factory(spec)
    with w.connected(b.port(), "dis5", version=5) as c:
        tenant = spec.tenants[0].model_copy(update={"enabled": False})
        b.apply(spec.model_copy(update={"tenants": [tenant]}), 2)
        reply = c.recv_packet()
        assert reply[0] == 0xE0
        assert c.is_closed()
    with w.Client(b.port()) as c:
        c.send(w.connect("again"))
        c.expect(b"\x20\x02\x00\x03")  # v3.1.1 server unavailable


def test_apply_spec_new_ban_kicks_connected_client(broker_factory: Factory, tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    b = broker_factory(spec)
    with w.connected(b.port(), "victim") as victim, w.connected(b.port(), "bystander") as other:
        ban = contracts.BanRecord(kind=contracts.BanKind.CLIENTID, who="victim", at=time.time())
        tenant = spec.tenants[0].model_copy(update={"banned": [ban]})
        started = time.monotonic()
        b.apply(spec.model_copy(update={"tenants": [tenant]}), 2)
        assert victim.is_closed(within=1.0)
        assert time.monotonic() - started < 1.5
        other.send(w.PINGREQ)
        other.expect(w.PINGRESP)
    with w.Client(b.port()) as c:
        c.send(w.connect("victim"))
        c.expect(b"\x20\x02\x00\x05")  # banned → v3.1.1 not authorized


def test_apply_spec_acl_change_applies_to_next_subscribe(broker_factory: Factory, tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    b = broker_factory(spec)
    with w.connected(b.port(), "acl") as c:
        rule = contracts.AclRule(topic="secret/#", permission=contracts.AclPermission.DENY)
        tenant = spec.tenants[0].model_copy(update={"acl": [rule]})
        b.apply(spec.model_copy(update={"tenants": [tenant]}), 2)
        c.send(w.subscribe(1, "secret/x", 0))
        c.expect(b"\x90\x03\x00\x01\x80")  # refused
        c.send(w.subscribe(2, "open/x", 0))
        c.expect(b"\x90\x03\x00\x02\x00")


def test_apply_spec_adds_and_removes_tenants(broker_factory: Factory, tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    b = broker_factory(spec)
    t2 = contracts.TenantSpec(tenant_id=contracts.TenantId("t2"), allow_anonymous=True)
    spec2 = spec.model_copy(
        update={
            "tenants": [*spec.tenants, t2],
            "listeners": [*spec.listeners, listener("tcp:t2", "tcp", tenant="t2")],
        }
    )
    b.apply(spec2, 2)
    port2 = {e.name: e.port for e in b.reload_ready().listeners}["tcp:t2"]
    with w.connected(port2, "in-t2", version=5) as c:
        assert b.admin("list_clients", tenant="t2")["count"] == 1
        assert b.admin("list_clients", tenant=TENANT)["count"] == 0
        b.apply(spec2.model_copy(update={"tenants": spec.tenants}), 3)
        assert c.is_closed()
    assert b.admin_error("stats", tenant="t2")["code"] == "NOT_FOUND"
    _wait(lambda: b.admin("ping")["tenants"] == [TENANT])
