"""The platform's local nats-server: started on first need, restarted after kill -9, stopped by close."""

import asyncio
import os
import signal
import socket
from pathlib import Path

import pytest

from mqttcloud.control.supervisor.nats import PID_FILE, LocalNats, NatsUnavailable, find_binary
from mqttcloud.control.supervisor.policy import RestartPolicy

pytestmark = pytest.mark.skipif(find_binary("nats-server") is None, reason="nats-server is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def nats_info(url: str) -> bytes:
    """The INFO line a NATS server sends first: proof that a NATS server answers there."""
    host, port = url.removeprefix("nats://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        return await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()


async def test_started_on_first_use_with_jetstream_and_restarted_after_kill(tmp_path: Path) -> None:
    nats = LocalNats(tmp_path / "nats", port=free_port(), restart_policy=RestartPolicy(backoff_base=0.1))
    assert not (tmp_path / "nats").exists()  # nothing runs before a deployment needs it
    try:
        url = await nats.url()
        info = await nats_info(url)
        assert info.startswith(b"INFO ")
        assert b'"jetstream":true' in info
        first = nats.process
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)
        for _ in range(100):
            await asyncio.sleep(0.05)
            if nats.process is not None and nats.process.pid != first.pid and nats.restarts == 1:
                break
        assert await nats.url() == url
        assert (await nats_info(url)).startswith(b"INFO ")
        assert (tmp_path / "nats" / "jetstream").is_dir()
    finally:
        await nats.close()
    with pytest.raises(ConnectionRefusedError):
        await nats_info(url)


async def test_missing_program_says_what_to_do(tmp_path: Path) -> None:
    nats = LocalNats(tmp_path / "nats", port=free_port(), binary=str(tmp_path / "nats-server"))
    with pytest.raises(NatsUnavailable, match=r"not installed.*MQTTCLOUD_NATS_URL"):
        await nats.url()
    await nats.close()


async def test_a_server_left_by_a_dead_platform_is_replaced(tmp_path: Path) -> None:
    """A nats-server of this store directory still runs (its platform was killed): it holds the port."""
    port, store = free_port(), tmp_path / "nats"
    store.mkdir()
    binary = find_binary("nats-server")
    assert binary is not None
    argv = [binary, "-js", "-sd", str(store), "-a", "127.0.0.1", "-p", str(port), "-P", str(store / PID_FILE)]
    leftover = await asyncio.create_subprocess_exec(*argv, start_new_session=True)
    fresh = LocalNats(store, port=port)
    try:
        for _ in range(100):
            if (store / PID_FILE).exists():
                break
            await asyncio.sleep(0.05)
        await fresh.url()
        assert fresh.process is not None
        assert fresh.process.pid != leftover.pid
        assert await asyncio.wait_for(leftover.wait(), 10) is not None
        assert (await nats_info(fresh.address)).startswith(b"INFO ")
    finally:
        await fresh.close()
        if leftover.returncode is None:
            leftover.kill()
            await leftover.wait()
