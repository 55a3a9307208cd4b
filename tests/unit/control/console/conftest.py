"""In-process console fixtures: the app on a rolled-back database, a fake supervisor, signed-in clients.

The console is driven with httpx over ASGI, like a browser without JavaScript: it follows no redirects by
itself, keeps cookies, and reads the CSRF token out of each form it submits.
"""

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from tests.unit.control.conftest import ROOT_PASSWORD, FakeSupervisor

from mqttcloud.contracts import TlsSpec
from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.accounts.models import Account, Role
from mqttcloud.control.app import create_app
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deployments.spec_builder import SharedSecrets

BASE_URL = "http://console.test"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match is not None, "page has no form with a CSRF token"
    return match.group(1)


@dataclass
class Console:
    """A browser-like client of an in-process console."""

    client: AsyncClient
    database: Database
    settings: Settings
    supervisor: FakeSupervisor
    app: FastAPI

    async def get(self, path: str) -> Response:
        return await self.client.get(path)

    async def submit(self, form_page: str, action: str, data: Mapping[str, object]) -> Response:
        """GET `form_page`, take its CSRF token, POST `data` to `action`."""
        page = await self.client.get(form_page)
        assert page.status_code == 200, page.text
        return await self.client.post(action, data={"csrf_token": csrf_of(page.text), **data})

    async def login(self, username: str, password: str) -> Response:
        return await self.submit(
            "/console/login", "/console/login", {"username": username, "password": password}
        )

    def add_account(self, username: str, role: Role, projects: tuple[str, ...] = ()) -> Account:
        with self.database.session() as session:
            root = accounts.ensure_root(session, password=ROOT_PASSWORD).account
            return accounts.create_sub_account(
                session,
                actor=root,
                username=username,
                password="password-" + username,
                role=role,
                project_ids=projects,
            )


@pytest.fixture
async def console(database: Database, data_dir: Path, serverless_tls: TlsSpec) -> AsyncIterator[Console]:
    settings = Settings(data_dir=data_dir, broker_port_low=42000, broker_port_high=42999, use_tls=False)
    supervisors: list[FakeSupervisor] = []

    def factory(runtime: BrokerRuntime) -> FakeSupervisor:
        supervisors.append(FakeSupervisor(runtime))
        return supervisors[-1]

    app = create_app(
        settings,
        database=database,
        supervisor_factory=factory,
        shared=SharedSecrets("serverless-admin-token", serverless_tls),
    )
    with database.session() as session:
        accounts.ensure_root(session, password=ROOT_PASSWORD)
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield Console(client, database, settings, supervisors[0], app)


@pytest.fixture
async def root_console(console: Console) -> Console:
    response = await console.login("root", ROOT_PASSWORD)
    assert response.status_code == 303, response.text
    return console
