"""The durable log driven by a real tenant core: compaction through `Broker.snapshot`, then replay."""

from pathlib import Path

from tests.unit.runtime.fakes import TENANT, Env, connect, publish_qos1, subscribe, tick

from mqttcloud import contracts
from mqttcloud.runtime.store import Store

SPEC = contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True)


async def _offline_subscriber_with_messages(env: Env, count: int) -> None:
    sub, _t = env.open()
    sub.data_received(connect("persist", clean=False) + subscribe("p/#", 1))
    await tick()
    sub.data_received(b"\xe0\x00")
    await tick()
    pub, _pt = env.open()
    pub.data_received(connect("pub"))
    for i in range(count):
        pub.data_received(publish_qos1("p/t", f"m{i}".encode(), i % 65535 + 1))
    await env.store.flush()


async def test_compaction_keeps_queued_messages_across_restart(tmp_path: Path) -> None:
    env = Env(tmp_path, SPEC)
    try:
        await _offline_subscriber_with_messages(env, 50)
        generation = env.store.generation
        env.store.snapshot_source = env.tenant.snapshot_entries
        env.store.compact_now()
        await env.store.close()
        assert env.store.generation == generation + 1
    finally:
        env.executor.shutdown()
    # A new process: replay the compacted log into a fresh core and reconnect the subscriber.
    again = Env(tmp_path, SPEC)
    try:
        replayed = [payload for key, payload in again.store.replayed if key == TENANT]
        assert again.tenant.restore(replayed) > 0
        conn, transport = again.open()
        conn.data_received(connect("persist", clean=False))
        await again.store.flush()  # the resumed session is logged before its CONNACK goes out
        await tick()
        data = transport.written()
        assert data.startswith(b"\x20\x02\x01\x00")  # session present
        assert data.count(b"p/t") == 32  # the in-flight window (max_inflight) is refilled at once
        assert b"m0" in data
    finally:
        again.close()


def test_store_open_on_empty_directory_has_nothing_to_replay(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    assert store.replayed == []
    store.close_sync()
