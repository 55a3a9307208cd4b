"""The real broker process for integration tests: spec builders, start/stop, admin calls."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from itertools import count
from pathlib import Path
from typing import Any

from mqttcloud import contracts

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "test-admin-token"
TENANT = contracts.TenantId("t1")


def listener(
    name: str, kind: str, *, tenant: str | None = "t1", selector: str = "fixed"
) -> contracts.ListenerSpec:
    return contracts.ListenerSpec(
        name=name,
        kind=contracts.ListenerKind(kind),
        port=0,
        tenant=None if tenant is None else contracts.TenantId(tenant),
        tenant_selector=contracts.TenantSelector(selector),
    )


def make_spec(
    directory: Path,
    *,
    listeners: list[contracts.ListenerSpec] | None = None,
    tenants: list[contracts.TenantSpec] | None = None,
    tls: contracts.TlsSpec | None = None,
    sys_interval: float = 0.0,
) -> contracts.BrokerSpec:
    return contracts.BrokerSpec(
        broker_id="test-broker",
        data_dir=str(directory / "data"),
        ready_file=str(directory / "ready.json"),
        admin=contracts.AdminSpec(token=TOKEN),
        listeners=listeners if listeners is not None else [listener("tcp:default", "tcp")],
        tenants=tenants
        if tenants is not None
        else [contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True)],
        tls=tls,
        sys_interval=sys_interval,
    )


class BrokerProcess:
    def __init__(self, spec: contracts.BrokerSpec, directory: Path) -> None:
        self.spec = spec
        self.directory = directory
        self.stderr_path = directory / "broker.stderr"
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: contracts.ReadyFile | None = None
        self._ids = count(1)

    def start(self, timeout: float = 20.0) -> None:
        Path(self.spec.ready_file).unlink(missing_ok=True)
        spec_path = self.directory / "spec.json"
        spec_path.write_text(self.spec.model_dump_json())
        with self.stderr_path.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mqttcloud", "broker", "--config", str(spec_path)],
                stderr=err,
                stdout=subprocess.DEVNULL,
                cwd=ROOT,
            )
        deadline = time.monotonic() + timeout
        ready = Path(self.spec.ready_file)
        while time.monotonic() < deadline:
            if ready.exists():
                self.ready = contracts.ReadyFile.model_validate_json(ready.read_text())
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}:\n{self.stderr()}")
            time.sleep(0.02)
        raise RuntimeError(f"broker not ready within {timeout}s:\n{self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def port(self, name: str = "tcp:default") -> int:
        assert self.ready is not None
        for address in self.ready.listeners:
            if address.name == name:
                return address.port
        raise KeyError(name)

    def reload_ready(self) -> contracts.ReadyFile:
        self.ready = contracts.ReadyFile.model_validate_json(Path(self.spec.ready_file).read_text())
        return self.ready

    def admin_raw(self, request: dict[str, object], timeout: float = 10.0) -> dict[str, Any]:
        assert self.ready is not None
        with socket.create_connection(("127.0.0.1", self.ready.admin.port), timeout=timeout) as sock:
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        answer: dict[str, Any] = json.loads(data)
        return answer

    def admin(self, op: str, **args: object) -> dict[str, Any]:
        """Call an admin op; returns the result, raises AssertionError with the error body otherwise."""
        answer = self.admin_raw({"id": next(self._ids), "token": TOKEN, "op": op, "args": args})
        assert answer["ok"], answer
        result = answer["result"]
        assert isinstance(result, dict)
        return result

    def admin_error(self, op: str, **args: object) -> dict[str, Any]:
        answer = self.admin_raw({"id": next(self._ids), "token": TOKEN, "op": op, "args": args})
        assert not answer["ok"], answer
        error = answer["error"]
        assert isinstance(error, dict)
        return error

    def apply(self, spec: contracts.BrokerSpec, generation: int) -> dict[str, Any]:
        self.spec = spec
        result = self.admin("apply_spec", spec=spec.model_dump(mode="json"), generation=generation)
        self.reload_ready()  # rewritten before the answer: new listeners and their ports
        return result

    def stop(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
