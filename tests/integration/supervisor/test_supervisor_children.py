"""The supervisor against real child processes (the stand-in `fake_broker.py`), with short timeouts.

Modelled on uvicorn `tests/supervisors/test_multiprocess.py`: spawn, kill, watch it come back.
"""

import asyncio
import os
import signal
import socket
import stat
import sys
import time
from pathlib import Path

import pytest
import uvloop
from tests.integration.supervisor.harness import FAKE_BROKER, Harness, poll

from mqttcloud.contracts import BrokerSpec, ReadyFile
from mqttcloud.control.supervisor import BrokerStatus, RestartPolicy, Supervisor, processes

RUNNING = {BrokerStatus.RUNNING}


def ready_of(sup: Supervisor, broker_id: str = "d1") -> ReadyFile:
    ready = sup.ready(broker_id)
    assert ready is not None
    return ready


def connect_refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_new_broker_reports_starting_then_running_with_its_actual_ports(harness: Harness) -> None:
    sup = await harness.start()
    generations = await sup.set_desired([harness.spec("d1")])
    assert generations == {"d1": 1}
    await sup.wait_for_status("d1", RUNNING, within=10)
    ready = ready_of(sup)
    assert ready.broker_id == "d1"
    assert ready.spec_generation == 1
    assert ready.listeners[0].port != 0
    with socket.create_connection(("127.0.0.1", ready.listeners[0].port), timeout=2.0):
        pass
    client = sup.client("d1")
    assert client is not None
    assert (await client.ping()).pid == ready.pid
    assert [status for status, _ in harness.events.of("d1")] == [BrokerStatus.STARTING, BrokerStatus.RUNNING]
    assert harness.events.applied == [("d1", 1)]


async def test_spec_file_is_private_and_the_child_logs_to_its_directory(harness: Harness) -> None:
    sup = await harness.start()
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    spec_path = sup.broker_dir("d1") / "spec.json"
    assert BrokerSpec.model_validate_json(spec_path.read_text()) == harness.spec("d1")
    assert stat.S_IMODE(spec_path.stat().st_mode) == 0o600
    assert "spawn:" in (sup.broker_dir("d1") / "broker.log").read_text()


async def test_child_runs_in_its_own_process_group(harness: Harness) -> None:
    sup = await harness.start()
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    pid = ready_of(sup).pid
    assert os.getpgid(pid) == pid
    assert os.getpgid(pid) != os.getpgid(0)


async def test_killed_broker_is_restarted_with_a_new_pid(harness: Harness) -> None:
    sup = await harness.start()
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    old_pid = ready_of(sup).pid
    os.kill(old_pid, signal.SIGKILL)
    await poll(lambda: sup.ready("d1") is not None and ready_of(sup).pid != old_pid, what="a new broker pid")
    assert not pid_alive(old_pid)
    details = [detail for status, detail in harness.events.of("d1") if status is BrokerStatus.STARTING]
    assert any("exited with code -9" in detail for detail in details)
    assert harness.events.applied == [("d1", 1), ("d1", 1)]
    assert harness.starts() == 2


async def test_changed_users_are_applied_live_without_a_restart(harness: Harness) -> None:
    sup = await harness.start()
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    pid = ready_of(sup).pid
    generations = await sup.set_desired([harness.spec("d1", tenants=("t1", "t2"))])
    assert generations == {"d1": 2}
    await poll(lambda: ("d1", 2) in harness.events.applied, what="generation 2 applied")
    assert ready_of(sup).pid == pid
    assert ready_of(sup).spec_generation == 2
    client = sup.client("d1")
    assert client is not None
    ping = await client.ping()
    assert (ping.pid, ping.spec_generation, ping.tenants) == (pid, 2, ["t1", "t2"])
    assert harness.starts() == 1
    assert BrokerStatus.STOPPING not in [status for status, _ in harness.events.of("d1")]


async def test_unchanged_spec_keeps_its_generation_and_does_nothing(harness: Harness) -> None:
    sup = await harness.start()
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    assert await sup.set_desired([harness.spec("d1")]) == {"d1": 1}
    assert harness.events.applied == [("d1", 1)]


async def test_rejected_apply_keeps_the_broker_running_and_says_why(harness: Harness) -> None:
    sup = await harness.start()
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    await sup.set_desired([harness.spec("d1", tenants=("t1", "reject"))])
    await poll(
        lambda: any("failed" in detail for _, detail in harness.events.of("d1")), what="apply failure report"
    )
    assert sup.status("d1") is BrokerStatus.RUNNING
    assert harness.events.applied == [("d1", 1)]
    assert ready_of(sup).spec_generation == 1


async def test_admin_setting_change_restarts_the_process_without_counting_a_crash(harness: Harness) -> None:
    sup = await harness.start()
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    old_pid = ready_of(sup).pid
    await sup.set_desired([harness.spec("d1", data_dir=str(harness.tmp_path / "moved"))])
    await poll(lambda: ("d1", 2) in harness.events.applied, what="generation 2 running")
    assert ready_of(sup).pid != old_pid
    assert not any("restarting in" in detail for _, detail in harness.events.of("d1"))


async def test_crashing_broker_backs_off_then_is_failed_and_left_alone(harness: Harness) -> None:
    rules = RestartPolicy(backoff_base=0.2, backoff_cap=1.0, max_crashes=3, crash_window=60.0)
    sup = await harness.start("crash", restart_policy=rules)
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", {BrokerStatus.FAILED}, within=20)
    assert harness.starts() == 3
    starting_times = [t for t, _, status, _ in harness.events.statuses if status is BrokerStatus.STARTING]
    spawn_times = starting_times[::2]  # each crash reports "restarting in", then "generation 1" on spawn
    assert len(spawn_times) == 3
    assert spawn_times[1] - spawn_times[0] >= 0.2 * 0.9
    assert spawn_times[2] - spawn_times[1] >= 0.4 * 0.9
    assert "3 crashes" in harness.events.of("d1")[-1][1]
    # Failed means no more restarts: give it more than the longest backoff and count starts again.
    await asyncio.sleep(rules.backoff_cap * 1.5)
    assert harness.starts() == 3
    assert sup.client("d1") is None


async def test_failed_broker_starts_again_when_its_spec_changes(harness: Harness) -> None:
    sup = await harness.start("crash-first:3")
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", {BrokerStatus.FAILED}, within=20)
    assert await sup.set_desired([harness.spec("d1")]) == {"d1": 1}  # same spec: stays failed
    assert sup.status("d1") is BrokerStatus.FAILED
    await sup.set_desired([harness.spec("d1", tenants=("t9",))])
    await sup.wait_for_status("d1", RUNNING, within=10)
    assert harness.starts() == 4
    assert harness.events.applied == [("d1", 2)]


async def test_retry_starts_a_failed_broker_again(harness: Harness) -> None:
    sup = await harness.start("crash-first:3")
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", {BrokerStatus.FAILED}, within=20)
    assert await sup.retry("d1")
    await sup.wait_for_status("d1", RUNNING, within=10)
    assert not await sup.retry("d1")  # running: nothing to retry


async def test_broker_that_crashes_a_few_times_recovers(harness: Harness) -> None:
    sup = await harness.start("crash-first:2")
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", RUNNING, within=20)
    assert harness.starts() == 3
    assert BrokerStatus.FAILED not in [status for status, _ in harness.events.of("d1")]


async def test_broker_without_a_ready_file_counts_as_a_crash(harness: Harness) -> None:
    sup = await harness.start("no-ready", ready_timeout=0.5)
    await sup.set_desired([harness.spec("d1")])
    await poll(lambda: harness.starts() >= 2, what="a second start")
    assert any("not ready within 0.5 s" in detail for _, detail in harness.events.of("d1"))


async def test_broker_that_stops_answering_pings_is_restarted(harness: Harness) -> None:
    sup = await harness.start("mute-after:3", ping_timeout=0.3)
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    first_pid = ready_of(sup).pid
    await poll(lambda: harness.starts() >= 2, what="a restart")
    assert not pid_alive(first_pid)
    assert any("stopped answering pings" in detail for _, detail in harness.events.of("d1"))


async def test_removed_broker_is_stopped_and_its_port_refuses_connections(harness: Harness) -> None:
    sup = await harness.start()
    await sup.set_desired([harness.spec("d1"), harness.spec("d2")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    await sup.wait_for_status("d2", RUNNING, within=10)
    ready = ready_of(sup, "d1")
    await sup.set_desired([harness.spec("d2")])
    await poll(
        lambda: (BrokerStatus.STOPPED, "exited with code 0") in harness.events.of("d1"), what="stopped"
    )
    assert sup.status("d1") is None
    assert sup.client("d1") is None
    assert not pid_alive(ready.pid)
    assert connect_refused(ready.listeners[0].port)
    assert connect_refused(ready.admin.port)
    assert sup.status("d2") is BrokerStatus.RUNNING
    assert [s for s, _ in harness.events.of("d1")][-2:] == [BrokerStatus.STOPPING, BrokerStatus.STOPPED]


async def test_broker_removed_and_added_back_gets_a_fresh_process(harness: Harness) -> None:
    sup = await harness.start()
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    old_pid = ready_of(sup).pid
    await sup.set_desired([])
    assert await sup.set_desired([harness.spec("d1")]) == {"d1": 2}
    await poll(lambda: sup.ready("d1") is not None and ready_of(sup).pid != old_pid, what="a new process")
    assert not pid_alive(old_pid)


async def test_close_stops_every_broker_gracefully(harness: Harness) -> None:
    sup = await harness.start()
    await sup.set_desired([harness.spec("d1"), harness.spec("d2")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    await sup.wait_for_status("d2", RUNNING, within=10)
    pids = [ready_of(sup, "d1").pid, ready_of(sup, "d2").pid]
    await sup.close()
    assert not any(pid_alive(pid) for pid in pids)
    for broker_id in ("d1", "d2"):
        assert harness.events.of(broker_id)[-1] == (BrokerStatus.STOPPED, "exited with code 0")
    with pytest.raises(RuntimeError):
        await sup.set_desired([harness.spec("d1")])


async def test_broker_ignoring_sigterm_is_killed_after_the_stop_deadline(harness: Harness) -> None:
    sup = await harness.start("stubborn", stop_timeout=0.3)
    await sup.set_desired([harness.spec("d1")])
    await sup.wait_for_status("d1", RUNNING, within=10)
    started = time.monotonic()
    await sup.close()
    assert time.monotonic() - started < 5.0
    assert harness.events.of("d1")[-1] == (BrokerStatus.STOPPED, "exited with code -9")


async def test_duplicate_broker_ids_are_refused(harness: Harness) -> None:
    sup = await harness.start()
    with pytest.raises(ValueError, match="duplicate"):
        await sup.set_desired([harness.spec("d1"), harness.spec("d1")])
    with pytest.raises(ValueError, match="safe directory"):
        await sup.set_desired([harness.spec("../escape")])
    assert harness.starts() == 0


async def _orphan(harness: Harness, spec: BrokerSpec) -> asyncio.subprocess.Process:
    """A broker as a platform killed with SIGKILL leaves it: running its spec file, in its own session."""
    spec_path = processes.write_spec(harness.run_dir / spec.broker_id, spec)
    orphan = await asyncio.create_subprocess_exec(
        sys.executable, str(FAKE_BROKER), "--config", str(spec_path), start_new_session=True
    )
    await poll(lambda: processes.read_ready(Path(spec.ready_file)) is not None, what="orphan ready")
    return orphan


async def test_broker_left_over_with_another_spec_is_stopped_before_spawning(harness: Harness) -> None:
    """A platform killed with SIGKILL leaves its brokers running; the next one must not fight them."""
    orphan = await _orphan(harness, harness.spec("d1", sys_interval=0.0))
    try:
        sup = await harness.start()
        await sup.set_desired([harness.spec("d1")])
        await sup.wait_for_status("d1", RUNNING, within=15)
        assert ready_of(sup).pid != orphan.pid
        async with asyncio.timeout(5):
            assert await orphan.wait() == 0  # stopped with SIGTERM, not killed
    finally:
        if orphan.returncode is None:
            orphan.kill()
            await orphan.wait()


async def test_broker_left_over_with_the_same_spec_is_adopted_and_stopped_on_close(
    harness: Harness,
) -> None:
    """Adopted, it keeps its pid and clients; it is then watched and stopped like a child."""
    spec = harness.spec("d1")
    orphan = await _orphan(harness, spec)
    try:
        sup = await harness.start()
        await sup.set_desired([spec])
        await sup.wait_for_status("d1", RUNNING, within=15)
        assert ready_of(sup).pid == orphan.pid
        assert harness.starts() == 0  # no new process
        assert harness.events.of("d1")[-1] == (BrokerStatus.RUNNING, f"pid {orphan.pid} (adopted)")
        client = sup.client("d1")
        assert client is not None
        await client.ping()
        await sup.close()
        async with asyncio.timeout(5):
            assert await orphan.wait() == 0  # SIGTERM through its pidfd
        assert harness.events.of("d1")[-1] == (BrokerStatus.STOPPED, "exited with code -1")
    finally:
        if orphan.returncode is None:
            orphan.kill()
            await orphan.wait()


async def test_adopted_broker_that_dies_is_restarted_as_a_child(harness: Harness) -> None:
    spec = harness.spec("d1")
    orphan = await _orphan(harness, spec)
    try:
        sup = await harness.start()
        await sup.set_desired([spec])
        await sup.wait_for_status("d1", RUNNING, within=15)
        orphan.kill()
        await orphan.wait()
        await poll(lambda: sup.ready("d1") is not None and ready_of(sup).pid != orphan.pid, what="restart")
        assert harness.starts() == 1
    finally:
        if orphan.returncode is None:
            orphan.kill()
            await orphan.wait()


def test_supervisor_works_under_uvloop(tmp_path: Path) -> None:
    """uvicorn runs the platform on uvloop when it is installed; its subprocess support differs."""

    async def scenario() -> None:
        harness = Harness(tmp_path)
        sup = await harness.start()
        try:
            await sup.set_desired([harness.spec("d1")])
            await sup.wait_for_status("d1", RUNNING, within=10)
            pid = ready_of(sup).pid
            assert os.getpgid(pid) == pid
            os.kill(pid, signal.SIGKILL)
            await poll(lambda: sup.ready("d1") is not None and ready_of(sup).pid != pid, what="restart")
        finally:
            await sup.close()
            harness.dump_logs()
        assert harness.events.of("d1")[-1] == (BrokerStatus.STOPPED, "exited with code 0")

    uvloop.run(scenario())


async def test_stop_while_waiting_for_ready_does_not_wait_out_the_deadline(harness: Harness) -> None:
    sup = await harness.start("no-ready", ready_timeout=60.0)
    await sup.set_desired([harness.spec("d1")])
    await poll(lambda: harness.starts() == 1, what="the child to start")
    started = time.monotonic()
    await sup.close()
    assert time.monotonic() - started < 10.0
    assert harness.events.of("d1")[-1] == (BrokerStatus.STOPPED, "exited with code 0")
    assert not any("crash" in detail for _, detail in harness.events.of("d1"))


def test_broker_inherits_no_platform_socket_even_one_marked_inheritable(tmp_path: Path) -> None:
    """uvloop (what uvicorn runs) ignores close_fds: a platform socket must still not reach a broker."""

    async def scenario() -> None:
        harness = Harness(tmp_path)
        platform = socket.create_server(("127.0.0.1", 0))
        platform.set_inheritable(True)
        sup = await harness.start()
        try:
            await sup.set_desired([harness.spec("d1")])
            await sup.wait_for_status("d1", RUNNING, within=10)
            fds = f"/proc/{ready_of(sup).pid}/fd"
            held = {os.readlink(f"{fds}/{fd}") for fd in os.listdir(fds)}
            assert f"socket:[{os.fstat(platform.fileno()).st_ino}]" not in held
        finally:
            await sup.close()
            platform.close()

    uvloop.run(scenario())
