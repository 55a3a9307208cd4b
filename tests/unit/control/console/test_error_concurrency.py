"""Console error pages never hold or wait for the database (issue #14, finding 1).

Runs the app on a real database of each backend (a SQLite file, PostgreSQL when configured), not on the
rolled-back test connection: what matters here is how separate connections lock each other.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient, Response
from tests.conftest import BACKENDS
from tests.unit.control.conftest import ROOT_PASSWORD
from tests.unit.control.console.conftest import csrf_of

from mqttcloud.control import migrations
from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.accounts.models import Role
from mqttcloud.control.api_keys import service as api_keys
from mqttcloud.control.app import create_app
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.projects import service as projects

FAST = 1.0  # seconds: "well under a second" with room for a busy 2-core machine


@pytest.fixture(params=BACKENDS)
async def real_database(
    request: pytest.FixtureRequest, fresh_database_url: Callable[[str], str]
) -> AsyncIterator[Database]:
    database = Database.from_url(fresh_database_url(request.param))
    migrations.upgrade(database.engine)
    with database.session() as session:
        root = accounts.ensure_root(session, password=ROOT_PASSWORD).account
        accounts.create_sub_account(
            session, actor=root, username="auditor", password="password-auditor", role=Role.AUDITOR
        )
    yield database
    database.dispose()


async def _signed_in(client: AsyncClient, username: str, password: str) -> None:
    form = await client.get("/console/login")
    response = await client.post(
        "/console/login",
        data={"csrf_token": csrf_of(form.text), "username": username, "password": password},
    )
    assert response.status_code == 303, response.text


async def _timed(call: Awaitable[Response]) -> tuple[float, Response]:
    started = time.monotonic()
    response = await call
    return time.monotonic() - started, response


def _write_project(database: Database, name: str) -> float:
    """A write from another connection (as the supervisor's status updates are): its duration."""
    started = time.monotonic()
    with database.session() as session:
        projects.create_project(session, name=name)
    return time.monotonic() - started


async def test_console_403_and_404_answer_fast_and_block_no_one(
    real_database: Database, data_dir: Path
) -> None:
    settings = Settings(data_dir=data_dir, use_tls=False, start_brokers=False)
    app = create_app(settings, database=real_database, supervisor_factory=None)
    with real_database.session() as session:
        root = accounts.get_root(session)
        created = api_keys.create_key(session, actor=root, description="reader")
        key = (created.api_key.key, created.secret)
    transport = ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://console.test") as root_client,
        AsyncClient(transport=transport, base_url="http://console.test") as auditor,
        AsyncClient(transport=transport, base_url="http://console.test", auth=key) as api,
    ):
        await _signed_in(root_client, "root", ROOT_PASSWORD)
        await _signed_in(auditor, "auditor", "password-auditor")
        key_form = csrf_of((await auditor.get("/console/account")).text)
        root_form = csrf_of((await root_client.get("/console/api-keys")).text)
        root_id = root.id

        errors = [
            _timed(root_client.get("/console/deployments/nosuch")),  # 404 after a read (GET)
            _timed(auditor.post("/console/api-keys", data={"csrf_token": key_form, "description": "x"})),
            _timed(  # 403 after a read in a write transaction (POST)
                root_client.post(f"/console/accounts/{root_id}/delete", data={"csrf_token": root_form})
            ),
        ]
        others = [_timed(api.get("/public_api/v1/projects")) for _ in range(3)]
        writes = [asyncio.to_thread(_write_project, real_database, f"p{i}") for i in range(3)]
        results = await asyncio.gather(*errors, *others)
        write_times = await asyncio.gather(*writes)

    statuses = [response.status_code for _elapsed, response in results]
    assert statuses == [404, 403, 403, 200, 200, 200], [r.text[:200] for _e, r in results]
    slowest = max(elapsed for elapsed, _response in results)
    assert slowest < FAST, f"slowest request took {slowest:.2f} s"
    assert max(write_times) < FAST, f"a concurrent write waited {max(write_times):.2f} s"


async def test_error_page_reuses_the_signed_in_page(real_database: Database, data_dir: Path) -> None:
    """A 404 answered to a signed-in account keeps its navigation (the account is shown)."""
    settings = Settings(data_dir=data_dir, use_tls=False, start_brokers=False)
    app = create_app(settings, database=real_database, supervisor_factory=None)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://console.test") as client,
    ):
        await _signed_in(client, "auditor", "password-auditor")
        response = await client.get("/console/deployments/nosuch")
    assert response.status_code == 404
    assert "auditor" in response.text
