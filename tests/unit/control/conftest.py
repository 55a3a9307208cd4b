"""In-process fixtures for the Platform API: the app on a rolled-back database, a fake supervisor, keys."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from tests.certs import make_leaf, make_root_ca

from mqttcloud.contracts import BrokerSpec, ReadyFile, TlsSpec
from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.api_keys import service as api_keys
from mqttcloud.control.api_keys.models import ALL_PROJECTS, Scope
from mqttcloud.control.app import create_app
from mqttcloud.control.broker_client import BrokerClient
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deployments.spec_builder import SharedSecrets
from mqttcloud.control.supervisor import BrokerStatus

ROOT_PASSWORD = "root-password-for-tests"


class FakeSupervisor:
    """Stands in for `control.supervisor.Supervisor`: records the desired specs and, when `auto`,
    reports what a healthy supervisor would (starting → running + applied, stopping → stopped) before
    `set_desired` returns, so tests see final states without waiting."""

    def __init__(self, runtime: BrokerRuntime):
        self.runtime = runtime
        self.auto = True
        self.desired: dict[str, BrokerSpec] = {}
        self.generations: dict[str, int] = {}
        self.statuses: dict[str, BrokerStatus] = {}
        self.retried: list[str] = []
        self.calls = 0
        self.broker: BrokerClient | None = None  # no broker process runs in-process: live calls answer 503

    async def __aenter__(self) -> "FakeSupervisor":
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def set_desired(self, specs: Sequence[BrokerSpec]) -> dict[str, int]:
        self.calls += 1
        new = {spec.broker_id: spec for spec in specs}
        changed = [b for b, spec in new.items() if self.desired.get(b) != spec]
        added = [b for b in new if b not in self.desired]
        removed = [b for b in self.desired if b not in new]
        for broker_id in changed:
            self.generations[broker_id] = self.generations.get(broker_id, 0) + 1
        self.desired = new
        if self.auto:
            for broker_id in added:
                await self.report(broker_id, BrokerStatus.STARTING)
                await self.report(broker_id, BrokerStatus.RUNNING)
            for broker_id in changed:
                await self.runtime.on_applied(broker_id, self.generations[broker_id])
            for broker_id in removed:
                await self.report(broker_id, BrokerStatus.STOPPING)
                await self.report(broker_id, BrokerStatus.STOPPED)
        return {broker_id: self.generations[broker_id] for broker_id in new}

    async def report(self, broker_id: str, status: BrokerStatus, detail: str = "") -> None:
        self.statuses[broker_id] = status
        await self.runtime.on_status(broker_id, status, detail)

    def client(self, broker_id: str) -> BrokerClient | None:
        """`broker` (a stand-in set by a test) for a broker this supervisor runs; None: 503."""
        return self.broker if broker_id in self.desired else None

    def ready(self, broker_id: str) -> ReadyFile | None:
        return None

    async def retry(self, broker_id: str) -> bool:
        self.retried.append(broker_id)
        if self.statuses.get(broker_id) is not BrokerStatus.FAILED:
            return False
        if self.auto:
            await self.report(broker_id, BrokerStatus.STARTING)
            await self.report(broker_id, BrokerStatus.RUNNING)
        return True

    def status(self, broker_id: str) -> BrokerStatus | None:
        return self.statuses.get(broker_id)


@dataclass
class Platform:
    """An in-process platform: HTTP client, its database, fake supervisor and settings."""

    client: AsyncClient
    database: Database
    settings: Settings
    supervisor: FakeSupervisor

    def key(
        self, *, scopes: Sequence[str] = tuple(Scope), projects: Sequence[str] = (ALL_PROJECTS,)
    ) -> tuple[str, str]:
        with self.database.session() as session:
            root = accounts.ensure_root(session, password=ROOT_PASSWORD).account
            created = api_keys.create_key(
                session, actor=root, description="test", scopes=scopes, project_ids=projects
            )
            return created.api_key.key, created.secret


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with its production cost takes ~0.3 s per hash on a busy 2-core machine; tests need speed."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def serverless_tls() -> TlsSpec:
    root = make_root_ca("serverless test CA")
    leaf = make_leaf(root, "*.serverless.localhost", hosts=("*.serverless.localhost",))
    return TlsSpec(cert_pem=leaf.cert_pem + root.cert_pem, key_pem=leaf.key_pem)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    base = Settings(data_dir=data_dir, broker_port_low=41000, broker_port_high=41999)
    return base.with_overrides(**overrides)


def build_app(
    database: Database, settings: Settings, serverless_tls: TlsSpec
) -> tuple[FastAPI, list[FakeSupervisor]]:
    supervisors: list[FakeSupervisor] = []

    def factory(runtime: BrokerRuntime) -> FakeSupervisor:
        supervisor = FakeSupervisor(runtime)
        supervisors.append(supervisor)
        return supervisor

    app = create_app(
        settings,
        database=database,
        supervisor_factory=factory,
        shared=SharedSecrets("serverless-admin-token", serverless_tls),
    )
    return app, supervisors


async def open_platform(
    database: Database, settings: Settings, serverless_tls: TlsSpec, *, raise_app_exceptions: bool = True
) -> AsyncIterator[Platform]:
    """Run the app's lifespan and yield a client talking to it in process (httpx ASGITransport)."""
    app, supervisors = build_app(database, settings, serverless_tls)
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with AsyncClient(transport=transport, base_url="http://platform.test") as client:
            yield Platform(client, database, settings, supervisors[0])


@pytest.fixture
async def platform(database: Database, data_dir: Path, serverless_tls: TlsSpec) -> AsyncIterator[Platform]:
    async for opened in open_platform(database, make_settings(data_dir), serverless_tls):
        yield opened
