"""Log traces in the runtime (runtime/trace.py) against fake transports: what is written, and for whom."""

import asyncio
import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.runtime.fakes import TENANT, MockTransport, connect, publish_qos1, subscribe, tick

from mqttcloud import contracts
from mqttcloud.broker.access import Access
from mqttcloud.runtime.connection import MqttConnection
from mqttcloud.runtime.hub import Hub
from mqttcloud.runtime.listeners import ListenerRuntime
from mqttcloud.runtime.store import Store
from mqttcloud.runtime.tenants import TenantRegistry, TenantRuntime
from mqttcloud.runtime.trace import TracingAuthorizer

USERS = [
    contracts.UserRecord(user_id=name, password_hash="secret-pw", algorithm=contracts.HashAlgorithm.PLAIN)
    for name in ("u1", "u2")
]


def trace(
    name: str, kind: str, value: str, *, start: float = -60, end: float = 600, **kw: object
) -> contracts.TraceSpec:
    now = time.time()
    return contracts.TraceSpec.model_validate(
        {"name": name, "type": kind, "filter": value, "start_at": now + start, "end_at": now + end, **kw}
    )


class TraceEnv:
    def __init__(self, tmp_path: Path, traces: list[contracts.TraceSpec]) -> None:
        self.hub = Hub()
        self.store = Store.open(tmp_path / "store")
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self.dir = tmp_path / "trace"
        self.spec = contracts.TenantSpec(tenant_id=TENANT, users=USERS, traces=traces)
        self.tenant = TenantRuntime(
            self.spec,
            hub=self.hub,
            store=self.store,
            node_name="n",
            sys_interval=0.0,
            auth_executor=self.executor,
            trace_dir=self.dir,
        )
        registry = TenantRegistry()
        registry.by_id[TENANT] = self.tenant
        self.listener = ListenerRuntime(
            contracts.ListenerSpec(
                name="tcp:default", kind=contracts.ListenerKind.TCP, port=0, tenant=TENANT
            ),
            registry,
        )

    def open(self) -> tuple[MqttConnection, MockTransport]:
        conn = MqttConnection(self.hub, self.listener)
        transport = MockTransport(conn)
        conn.connection_made(transport)
        return conn, transport

    def close(self) -> None:
        if self.tenant.traces is not None:
            self.tenant.traces.close()
        self.executor.shutdown(wait=True)
        self.store.close_sync()


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[list[TraceEnv]]:
    envs: list[TraceEnv] = []
    yield envs
    for env in envs:
        env.close()


async def _session(env: TraceEnv, clientid: str, username: str) -> None:
    conn, _transport = env.open()
    conn.data_received(connect(clientid, username=username, password="secret-pw"))
    await tick()
    conn.data_received(
        subscribe(f"s/{clientid}", 1) + publish_qos1(f"t/{clientid}", b"hello-" + clientid.encode(), 7)
    )
    await tick()
    await asyncio.sleep(0.01)


async def test_clientid_trace_writes_that_clients_packets_and_decisions_only(
    tmp_path: Path, make_env: list[TraceEnv]
) -> None:
    env = TraceEnv(tmp_path, [trace("c1trace", "clientid", "c1")])
    make_env.append(env)
    await _session(env, "c1", "u1")
    await _session(env, "c2", "u2")
    await tick()
    text = (env.dir / "c1trace.log").read_text()
    assert "c1@127.0.0.1:50000 msg: mqtt_packet_received, packet: CONNECT(client_id=c1" in text
    assert "password=******" in text
    assert "secret-pw" not in text
    assert "msg: authentication_result, username: u1, result: allow" in text
    assert "msg: mqtt_packet_sent, packet: CONNACK(" in text
    assert "packet: SUBSCRIBE(" in text
    assert "topic_filter=s/c1" in text
    assert "action: subscribe, topic: s/c1, result: allow" in text
    assert "packet: PUBLISH(topic=t/c1, payload=hello-c1, qos=1" in text
    assert "action: publish, topic: t/c1, result: allow" in text
    assert "packet: PUBACK(packet_id=7" in text
    assert "c2" not in text


async def test_topic_trace_writes_matching_publishes_of_any_client(
    tmp_path: Path, make_env: list[TraceEnv]
) -> None:
    env = TraceEnv(tmp_path, [trace("topics", "topic", "t/#")])
    make_env.append(env)
    await _session(env, "c1", "u1")
    await tick()
    text = (env.dir / "topics.log").read_text()
    assert "packet: PUBLISH(topic=t/c1" in text
    assert "CONNECT" not in text
    assert "SUBSCRIBE" not in text


async def test_no_running_trace_leaves_connections_and_authorizer_untouched(
    tmp_path: Path, make_env: list[TraceEnv]
) -> None:
    env = TraceEnv(tmp_path, [trace("later", "clientid", "c1", start=3600, end=7200)])
    make_env.append(env)
    conn, _transport = env.open()
    assert env.tenant.tracer is None
    assert conn.trace is None
    assert isinstance(env.tenant.broker.authorizer, Access)
    await _session(env, "c1", "u1")
    assert not (env.dir / "later.log").exists()


async def test_a_trace_starts_and_stops_at_its_window_edges(tmp_path: Path, make_env: list[TraceEnv]) -> None:
    env = TraceEnv(tmp_path, [trace("soon", "clientid", "c1", start=0.2, end=0.5)])
    make_env.append(env)
    conn, _transport = env.open()
    traced: list[bool] = [conn.trace is not None]
    await asyncio.sleep(0.3)
    traced.append(conn.trace is not None)
    assert isinstance(env.tenant.broker.authorizer, TracingAuthorizer)
    await asyncio.sleep(0.35)
    traced.append(conn.trace is not None)
    assert traced == [False, True, False]
    assert isinstance(env.tenant.broker.authorizer, Access)


async def test_the_file_stops_at_max_bytes_with_one_full_line(
    tmp_path: Path, make_env: list[TraceEnv]
) -> None:
    env = TraceEnv(tmp_path, [trace("small", "clientid", "c1", max_bytes=1024)])
    make_env.append(env)
    for _ in range(5):
        await _session(env, "c1", "u1")
    await tick()
    data = (env.dir / "small.log").read_bytes()
    assert len(data) <= 1024
    assert data.decode().count("trace file is full") == 1


async def test_removing_a_trace_from_the_spec_deletes_its_file(
    tmp_path: Path, make_env: list[TraceEnv]
) -> None:
    env = TraceEnv(tmp_path, [trace("gone", "ip_address", "127.0.0.1")])
    make_env.append(env)
    await _session(env, "c1", "u1")
    await tick()
    assert (env.dir / "gone.log").stat().st_size > 0
    env.tenant.update(env.spec.model_copy(update={"traces": []}))
    assert not (env.dir / "gone.log").exists()
    assert env.tenant.tracer is None
