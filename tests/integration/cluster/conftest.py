"""Fixtures for a real cluster: one `nats-server -js` and broker nodes joined with `--cluster`.

`nats` starts `nats-server -a 127.0.0.1 -p <free port> -js -sd <tmp>` (restartable on the same port);
`cluster(n)` starts n `mqttcloud broker --cluster ...` nodes, each on its own ephemeral TCP port, and
waits until every node knows every other (route tables exchanged). Every process is stopped at
teardown and its stderr printed, which pytest shows for failing tests. Tests are skipped when
`nats-server` is not installed.
"""

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from mqttcloud import contracts

ROOT = Path(__file__).resolve().parents[3]
NATS_SERVER = shutil.which("nats-server") or next(
    (p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if Path(p).exists()), None
)
CLUSTER = "clu"
NODE_TIMEOUT = 3.0
ADMIN_TOKEN = "cluster-test-admin"
TENANT = "default"  # the tenant of a broker started from flags


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class Nats:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = directory / "nats.stderr"

    def start(self) -> None:
        assert NATS_SERVER is not None
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [
                    NATS_SERVER,
                    "-a",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-js",
                    "-sd",
                    str(self.directory / "js"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Node:
    """One `mqttcloud broker --cluster` process."""

    def __init__(self, name: str, nats: Nats, directory: Path, nats_url: str | None = None) -> None:
        """`nats_url`: where the node reaches NATS when not `nats.url` (a proxy in front of it)."""
        self.name = name
        self.nats = nats
        self.nats_url = nats_url or nats.url
        self.directory = directory / name
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ready_file = self.directory / "ready.json"
        self.stderr_path = self.directory / "broker.stderr"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.admin_port = 0

    def start(self, timeout: float = 20.0) -> None:
        self.ready_file.unlink(missing_ok=True)
        argv = [
            sys.executable, "-m", "mqttcloud", "broker", "--broker-id", CLUSTER,
            "--cluster", self.nats_url, "--node-name", self.name, "--node-timeout", str(NODE_TIMEOUT),
            "--listen", "tcp://127.0.0.1:0", "--allow-anonymous", "--data-dir", str(self.directory / "data"),
            "--ready-file", str(self.ready_file), "--admin-token", ADMIN_TOKEN,
        ]  # fmt: skip
        with self.stderr_path.open("ab") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited {self.proc.returncode}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {self.name} not ready:\n{self.stderr()}")
            time.sleep(0.05)
        ready = contracts.ReadyFile.model_validate_json(self.ready_file.read_text())
        self.port = ready.listeners[0].port
        self.admin_port = ready.admin.port

    def admin(self, op: str, **args: object) -> dict[str, Any]:
        """Call an admin op on this node; its result (AssertionError with the answer otherwise)."""
        with socket.create_connection(("127.0.0.1", self.admin_port), timeout=10) as sock:
            request = {"id": 1, "token": ADMIN_TOKEN, "op": op, "args": args}
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        answer: dict[str, Any] = json.loads(data)
        assert answer["ok"], answer
        result = answer["result"]
        assert isinstance(result, dict)
        return result

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[Nats]:
    if NATS_SERVER is None:
        pytest.skip("nats-server is not installed")
    server = Nats(tmp_path)
    server.start()
    yield server
    server.stop()
    text = server.log.read_text(errors="replace") if server.log.exists() else ""
    if text:
        print(f"---- nats-server stderr ----\n{text[-5000:]}")


class StartNodes(Protocol):
    def __call__(self, n: int, nats_url: str | None = None) -> list[Node]: ...


@pytest.fixture
def cluster(nats: Nats, tmp_path: Path) -> Iterator[StartNodes]:
    """`cluster(n)`: n more nodes (n0, n1, ...) joined to `nats` (or through `nats_url`), in order."""
    started: list[Node] = []

    def start(n: int, nats_url: str | None = None) -> list[Node]:
        nodes = [Node(f"n{len(started) + i}", nats, tmp_path, nats_url) for i in range(n)]
        for node in nodes:
            started.append(node)
            node.start()
        return nodes

    yield start
    for node in started:
        node.stop()
        text = node.stderr()
        if text:
            print(f"---- {node.name} stderr ----\n{text[-20000:]}")
