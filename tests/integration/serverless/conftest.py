"""A real platform for Serverless tests: `create_app` with the real supervisor, run in a background thread.

The platform's lifespan, the supervisor and the shared Serverless broker process run on an event loop in
a thread; tests stay synchronous (paho, raw `ssl` sockets) and call the Platform API through
`RunningPlatform.api(...)`. The shared broker listens on two consecutive free ports of 127.0.0.1 (the
Serverless mqtts/wss ports are the first two of the broker port range).

Users of a Serverless tenant are created through its v5 Deployment API (App ID/App Secret minted with
the deployment keys service, as the operator's command line does).
"""

import asyncio
import concurrent.futures
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from tests.integration.serverless.wire import connect, open_tls

from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.api_keys import service as api_keys
from mqttcloud.control.app import PLATFORM_API_PREFIX, create_app
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.deployment_api.keys import service as deployment_keys
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deployments.spec_builder import SharedSecrets
from mqttcloud.control.platform_tls import platform_ca, serverless_tls

T = TypeVar("T")
DOMAIN = "mqtt.example.test"
PASSWORD = "tenant-secret"
TIMEOUT = 20.0
USERS = "/authentication/password_based:built_in_database/users"


def consecutive_free_ports() -> int:
    """A port p of 127.0.0.1 such that p and p + 1 are both free now."""
    for _attempt in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two consecutive free ports")


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class RunningPlatform:
    settings: Settings
    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    runtime: BrokerRuntime
    database: Database
    auth: tuple[str, str]
    ca_pem: str
    mqtts_port: int
    wss_port: int
    created: list[str] = field(default_factory=list)
    app_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    app: FastAPI | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("auth", self.auth)
        return self.run(self.client.request(method, f"{PLATFORM_API_PREFIX}{path}", **kwargs))

    def host(self, deployment_id: str) -> str:
        return f"{deployment_id}.{DOMAIN}"

    def status(self, deployment_id: str) -> str:
        response = self.api("GET", f"/deployments/{deployment_id}")
        assert response.status_code == 200, response.text
        return str(response.json()["status"])

    def create_serverless(self, *, connections: int = 1000, users: tuple[str, ...] = ("alice",)) -> str:
        """Create a Serverless deployment through the Platform API, give it users, wait until running."""
        response = self.api(
            "POST",
            "/deployments",
            json={"projectID": "default", "deploymentType": "serverless", "connections": connections},
        )
        assert response.status_code == 201, response.text
        deployment_id = str(response.json()["deploymentID"])
        self.created.append(deployment_id)
        wait_for(lambda: self.status(deployment_id) == "running", f"{deployment_id} running")
        self.app_keys[deployment_id] = self.new_app_key(deployment_id)
        for user in users:  # through the v5 Deployment API, as a customer would
            created = self.deployment_api(
                deployment_id, "POST", f"{USERS}", json={"user_id": user, "password": PASSWORD}
            )
            assert created.status_code == 201, created.text
        wait_for(lambda: self.status(deployment_id) == "running", f"{deployment_id} running")
        if users:  # the users reach the broker with a later spec generation than the tenant itself
            wait_for(lambda: self.can_login(deployment_id, users[0]), f"{deployment_id} users applied")
        return deployment_id

    def new_app_key(self, deployment_id: str) -> tuple[str, str]:
        with self.database.session() as session:
            created = deployment_keys.create_key(session, deployment_id=deployment_id, note="tests")
            return created.key.app_id, created.secret

    def deployment_api(self, deployment_id: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the v5 Deployment API of a deployment with its App ID / App Secret."""
        kwargs.setdefault("auth", self.app_keys[deployment_id])
        return self.run(self.client.request(method, f"/api/v5{path}", **kwargs))

    def can_login(self, deployment_id: str, username: str) -> bool:
        try:
            client = open_tls(self.mqtts_port, self.tls_context(), self.host(deployment_id))
        except (OSError, ssl.SSLError):
            return False
        with client:
            return connect(client, "login-probe", username=username, password=PASSWORD) == 0

    def download_ca(self) -> str:
        """The CA as a client gets it: `GET /public_api/v1/serverless/emqxsl-ca.crt` (no key needed)."""
        response = self.run(self.client.get(f"{PLATFORM_API_PREFIX}/serverless/emqxsl-ca.crt"))
        assert response.status_code == 200, response.text
        return response.text

    def tls_context(self) -> ssl.SSLContext:
        """A client context trusting the platform CA (verifies the wildcard certificate and host name)."""
        return ssl.create_default_context(cadata=self.ca_pem)


def _start_platform(
    data_dir: Path, configure: Callable[[Settings], Settings] = lambda s: s
) -> tuple[RunningPlatform, Callable[[], None]]:
    low = consecutive_free_ports()
    settings = configure(
        Settings(
            data_dir=data_dir,
            broker_port_low=low,
            broker_port_high=low + 1,
            rate_limit_profile="off",
            serverless_domain=DOMAIN,
            use_tls=False,
        )
    )
    shared = SharedSecrets("serverless-admin-token", serverless_tls(settings))
    app = create_app(settings, shared=shared)
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[httpx.AsyncClient] = concurrent.futures.Future()
    stop = asyncio.Event()

    async def main() -> None:
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://platform.test") as client:
                    started.set_result(client)
                    await stop.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    client = started.result(60)
    with app.state.database.session() as session:
        root = accounts.ensure_root(session, password="root-password-for-tests").account
        created = api_keys.create_key(session, actor=root, description="serverless tests")
        auth = (created.api_key.key, created.secret)

    def shutdown() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        loop.close()

    platform = RunningPlatform(
        settings=settings,
        loop=loop,
        client=client,
        runtime=app.state.runtime,
        database=app.state.database,
        auth=auth,
        ca_pem=platform_ca(settings).ca_pem,
        mqtts_port=low,
        wss_port=low + 1,
        app=app,
    )
    return platform, shutdown


def _broker_stderr(data_dir: Path) -> str:
    logs = sorted((data_dir / "brokers").glob("**/broker.log"))
    return "\n".join(f"---- {p} ----\n{p.read_text(errors='replace')[-20000:]}" for p in logs)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """One platform per test module; tests create their own deployments (unique ids)."""
    data_dir = tmp_path_factory.mktemp("serverless-platform")
    running, shutdown = _start_platform(data_dir)
    try:
        yield running
    finally:
        with contextlib.suppress(Exception):
            shutdown()
        print(_broker_stderr(data_dir))


@pytest.fixture(scope="module")
def two_tenants(platform: RunningPlatform) -> tuple[str, str]:
    """Two running Serverless deployments on the shared listener, each with user `alice`."""
    return platform.create_serverless(), platform.create_serverless()
