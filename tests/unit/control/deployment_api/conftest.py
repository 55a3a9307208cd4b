"""The in-process platform, plus its FastAPI app (to reach `app.state`)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from tests.unit.control.conftest import Platform, build_app, make_settings

from mqttcloud.contracts import TlsSpec
from mqttcloud.control.db import Database


@dataclass
class Api:
    platform: Platform
    app: FastAPI


@pytest.fixture
async def api(database: Database, data_dir: Path, serverless_tls: TlsSpec) -> AsyncIterator[Api]:
    settings = make_settings(data_dir)
    app, supervisors = build_app(database, settings, serverless_tls)
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://platform.test") as client:
            yield Api(Platform(client, database, settings, supervisors[0]), app)
