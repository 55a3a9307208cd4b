"""A real `mqttcloud serve` process for integration tests: start, wait for its banner, keys, stop."""

import json
import os
import random
import re
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT = 60.0
T = TypeVar("T")


def poll(
    check: Callable[[], T | None], *, within: float = 30.0, interval: float = 0.1, what: str = "condition"
) -> T:
    """Call `check` until it returns something other than None/False; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        time.sleep(interval)


def free_port_range(size: int = 100) -> tuple[int, int]:
    """A random window below the Linux ephemeral range, so parallel runs rarely meet."""
    low = random.randrange(20000, 29000, size)
    return low, low + size - 1


@dataclass
class ServeProcess:
    """One `mqttcloud serve` on 127.0.0.1:0 over HTTPS, on `data_dir` (and `database_url` if set)."""

    data_dir: Path
    env: dict[str, str]
    port: int = 0  # 0: any free port; set it to the first start's port to restart on the same one
    args: tuple[str, ...] = ()  # more `serve` flags
    process: subprocess.Popen[str] | None = None
    base_url: str = ""
    banner: str = ""
    stderr_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.stderr_path = self.data_dir.parent / f"{self.data_dir.name}-serve.log"

    @property
    def ca_path(self) -> Path:
        return self.data_dir / "pki" / "ca.pem"

    @property
    def api(self) -> str:
        return f"{self.base_url}/public_api/v1"

    def start(self) -> "ServeProcess":
        stderr = self.stderr_path.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mqttcloud",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
                *self.args,
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=self.env,
            cwd=ROOT,
        )
        stderr.close()
        lines: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()  # the banner is the only stdout output
            if not line:
                break
            lines.append(line)
            if line.strip().startswith("Platform CA:"):
                break
        self.banner = "".join(lines)
        match = re.search(r"Platform API:\s+(https://[^/\s]+)/public_api/v1", self.banner)
        if match is None:
            self.stop()
            raise AssertionError(f"serve did not start:\n{self.banner}\n{self.stderr()}")
        self.base_url = match.group(1)
        return self

    @property
    def bound_port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: brokers are left running."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def stderr(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path.exists() else ""

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        code = self.process.returncode
        self.process = None
        return code

    def client(self) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.ca_path))
        return httpx.Client(base_url=self.api, verify=context, timeout=10.0)

    def create_key(self, *args: str) -> tuple[str, str]:
        """Run `mqttcloud apikey create` against the running platform's folder/database."""
        result = subprocess.run(
            [sys.executable, "-m", "mqttcloud", "apikey", "create", "--data-dir", str(self.data_dir),
             "--description", "integration", *args],
            capture_output=True, text=True, env=self.env, cwd=ROOT, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        printed = json.loads(result.stdout)
        return printed["key"], printed["secret"]

    def create_deployment_key(self, deployment_id: str, *args: str) -> tuple[str, str]:
        """A Deployment API key (App ID, App Secret) of `deployment_id`, through the same command."""
        result = subprocess.run(
            [sys.executable, "-m", "mqttcloud", "apikey", "create", "--data-dir", str(self.data_dir),
             "--deployment", deployment_id, "--description", "integration", *args],
            capture_output=True, text=True, env=self.env, cwd=ROOT, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        printed = json.loads(result.stdout)
        return printed["app_id"], printed["app_secret"]


def running_deployment(client: httpx.Client, key: tuple[str, str], project_id: str = "default") -> str:
    """Create a Dedicated deployment with the Platform API and wait until it runs; its id."""
    created = client.post("/deployments", json={"projectID": project_id}, auth=key)
    assert created.status_code == 201, created.text
    deployment_id: str = created.json()["deploymentID"]
    poll(
        lambda: client.get(f"/deployments/{deployment_id}", auth=key).json()["status"] == "running",
        within=30,
        what=f"{deployment_id} running",
    )
    return deployment_id


def serve_env(
    database_url: str | None, ports: tuple[int, int], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MQTTCLOUD_")}
    env["MQTTCLOUD_BROKER_PORTS"] = f"{ports[0]}-{ports[1]}"
    env["MQTTCLOUD_ROOT_PASSWORD"] = "integration-root-password"
    if database_url is not None:
        env["MQTTCLOUD_DATABASE_URL"] = database_url
    env.update(extra or {})
    return env
