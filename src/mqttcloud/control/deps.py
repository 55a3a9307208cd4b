"""Shared FastAPI dependencies, declared once as `Annotated` aliases."""

from typing import Annotated

from fastapi import Depends, Request

from mqttcloud.control.config import Settings
from mqttcloud.control.deployments.lifecycle import BrokerRuntime


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _runtime(request: Request) -> BrokerRuntime:
    runtime: BrokerRuntime = request.app.state.runtime
    return runtime


SettingsDep = Annotated[Settings, Depends(_settings)]
RuntimeDep = Annotated[BrokerRuntime, Depends(_runtime)]
