"""The file side of `supervisor.processes`: broker directories, the spec file, ReadyFile parsing, logs."""

import json
import os
import stat
from pathlib import Path

import pytest

from mqttcloud.contracts import AdminSpec, BrokerSpec, ListenerAddress, ListenerKind, ReadyFile
from mqttcloud.control.supervisor import processes


def make_spec() -> BrokerSpec:
    return BrokerSpec(broker_id="d1", data_dir="/d", ready_file="/r", admin=AdminSpec(token="secret"))


@pytest.mark.parametrize("broker_id", ["", "..", "../etc", "a/b", ".hidden", "-flag", "x" * 129, "d1\n"])
def test_broker_dir_refuses_ids_that_are_not_one_safe_path_component(tmp_path: Path, broker_id: str) -> None:
    with pytest.raises(ValueError, match="safe directory"):
        processes.broker_dir(tmp_path, broker_id)


@pytest.mark.parametrize("broker_id", ["serverless", "d1", "a1b2c3d4", "dep_1.x-y"])
def test_broker_dir_is_one_level_under_the_run_dir(tmp_path: Path, broker_id: str) -> None:
    assert processes.broker_dir(tmp_path, broker_id) == tmp_path / broker_id


def test_spec_file_round_trips_and_is_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = processes.write_spec(tmp_path / "d1", make_spec())
    assert BrokerSpec.model_validate_json(path.read_text()) == make_spec()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "d1").stat().st_mode) == 0o700
    assert [p.name for p in (tmp_path / "d1").iterdir()] == ["spec.json"]  # no temp file left behind


def test_spec_file_is_replaced_not_appended(tmp_path: Path) -> None:
    processes.write_spec(tmp_path, make_spec())
    changed = make_spec().model_copy(update={"sys_interval": 0.0})
    path = processes.write_spec(tmp_path, changed)
    assert BrokerSpec.model_validate_json(path.read_text()) == changed


def ready_json(pid: int = 7) -> str:
    admin = ListenerAddress(name="admin", kind=ListenerKind.TCP, host="127.0.0.1", port=4000)
    return ReadyFile(pid=pid, broker_id="d1", admin=admin, listeners=[]).model_dump_json()


def test_read_ready_parses_a_complete_file(tmp_path: Path) -> None:
    (tmp_path / "ready.json").write_text(ready_json(pid=7))
    ready = processes.read_ready(tmp_path / "ready.json")
    assert ready is not None
    assert (ready.pid, ready.admin.port) == (7, 4000)


@pytest.mark.parametrize("content", ["", '{"pid": 7', "[]", json.dumps({"pid": 7})])
def test_read_ready_treats_partial_or_foreign_files_as_not_ready(tmp_path: Path, content: str) -> None:
    (tmp_path / "ready.json").write_text(content)
    assert processes.read_ready(tmp_path / "ready.json") is None


def test_read_ready_of_a_missing_file_is_none(tmp_path: Path) -> None:
    assert processes.read_ready(tmp_path / "nope" / "ready.json") is None


def test_log_is_appended_with_a_header_per_spawn_and_rotated_when_large(tmp_path: Path) -> None:
    for _ in range(2):
        os.close(processes._open_log(tmp_path, ["broker", "--config", "x"], max_bytes=10_000))
    log = tmp_path / processes.LOG_FILE
    assert log.read_text().count("spawn: broker --config x") == 2
    log.write_text("x" * 20_000)
    os.close(processes._open_log(tmp_path, ["broker"], max_bytes=10_000))
    assert (tmp_path / f"{processes.LOG_FILE}.1").stat().st_size == 20_000
    assert log.read_text().startswith("--- ")
