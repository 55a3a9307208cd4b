"""`mqttcloud broker` with the compiled core (`mqttcloud compile`, which `scripts/setup.sh` runs): it
runs the extensions and serves real clients, and a build that no longer matches the source is never
used. `scripts/test.sh` sets MQTTCLOUD_CORE=compiled, so every broker of the suite runs compiled and
this file cannot skip there; elsewhere it skips until `mqttcloud compile` has been run."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.integration.broker.harness import ROOT

from mqttcloud import compiled

try:
    _STATUS, _FILES = compiled.decide()
except compiled.CoreError as exc:  # MQTTCLOUD_CORE=compiled without a fresh build: fail, do not skip
    _STATUS, _FILES = compiled.CoreStatus("interpreted", str(exc)), {}
    if os.environ.get(compiled.CORE_ENV) != "compiled":
        raise
if not _FILES and os.environ.get(compiled.CORE_ENV) != "compiled":
    pytest.skip(f"no usable compiled core: {_STATUS.reason}", allow_module_level=True)


class Started:
    def __init__(self, proc: subprocess.Popen[bytes], ready: dict[str, object], log: Path) -> None:
        self.proc = proc
        self.ready = ready
        self.log = log

    @property
    def port(self) -> int:
        listeners = self.ready["listeners"]
        assert isinstance(listeners, list)
        return int(listeners[0]["port"])


def start(tmp_path: Path, env: dict[str, str]) -> Started:
    tmp_path.mkdir(parents=True, exist_ok=True)
    ready = tmp_path / "ready.json"
    log = tmp_path / "broker.log"
    argv = [sys.executable, "-m", "mqttcloud", "broker", "--listen", "tcp://127.0.0.1:0"]
    argv += ["--allow-anonymous", "--data-dir", str(tmp_path / "data"), "--ready-file", str(ready)]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    info = json.loads(ready.read_text()) if ready.exists() else {}
    return Started(proc, info, log)


def stop(started: Started) -> None:
    if started.proc.poll() is None:
        started.proc.terminate()
        started.proc.wait(10)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != compiled.CORE_ENV}
    return {**env, **extra}


def test_the_broker_runs_the_compiled_core_for_real_clients(tmp_path: Path) -> None:
    broker = start(tmp_path, _env(MQTTCLOUD_CORE="compiled"))
    try:
        assert broker.ready.get("core") == "mypyc", broker.log.read_text()
        assert "broker core: mypyc" in broker.log.read_text()
        port = str(broker.port)
        sub = subprocess.Popen(
            ["mosquitto_sub", "-p", port, "-t", "c/#", "-q", "1", "-C", "2", "-v", "-V", "mqttv5"],
            stdout=subprocess.PIPE,
        )
        time.sleep(0.5)
        for payload in ("one", "two"):
            subprocess.run(["mosquitto_pub", "-p", port, "-t", "c/x", "-q", "1", "-m", payload], check=True)
        out, _ = sub.communicate(timeout=10)
        assert out.decode().splitlines() == ["c/x one", "c/x two"]
    finally:
        stop(broker)
    assert broker.proc.returncode == 0


def test_a_build_that_does_not_match_the_source_is_never_used(tmp_path: Path) -> None:
    stale = tmp_path / "stale-core"
    shutil.copytree(compiled.core_dir(_env()), stale)
    manifest = json.loads((stale / compiled.MANIFEST).read_text())
    manifest["modules"]["mqttcloud.broker.channel"]["sha256"] = "0" * 64  # as if channel.py was edited
    (stale / compiled.MANIFEST).write_text(json.dumps(manifest))

    broker = start(tmp_path / "auto", _env(MQTTCLOUD_CORE_DIR=str(stale)))
    try:
        assert broker.ready.get("core") == "interpreted", broker.log.read_text()
        assert "mqttcloud/broker/channel.py changed since the core was compiled" in broker.log.read_text()
    finally:
        stop(broker)

    refused = start(tmp_path / "required", _env(MQTTCLOUD_CORE_DIR=str(stale), MQTTCLOUD_CORE="compiled"))
    assert refused.proc.wait(10) == 1
    assert refused.ready == {}
    assert "MQTTCLOUD_CORE=compiled: mqttcloud/broker/channel.py changed" in refused.log.read_text()
