"""Mounting the Deployment API: `install(app)` puts its two routers (`/api/v5`, `/api`) in the platform app.

Rule: only the app factory imports this module. It sits on top of every router, so nothing below it (a
domain's store, service or presenter) can reach it, and assembling the API cannot close an import cycle.
"""

import re

from fastapi import FastAPI
from starlette.routing import Mount

from mqttcloud.control.deployment_api import v4, v5
from mqttcloud.control.deployment_api.auth import DeploymentKeyVerifier
from mqttcloud.control.deployment_api.body import JsonBodies
from mqttcloud.control.deployment_api.publish.fast_path import PublishFastPath
from mqttcloud.control.deployment_api.quotas import ApiRateLimiter, Quotas
from mqttcloud.control.deployment_api.shadows import v4 as shadows_v4
from mqttcloud.control.errors import install_error_handlers

V5_PREFIX = "/api/v5"
V4_PREFIX = "/api"

__all__ = ["V4_PREFIX", "V5_PREFIX", "install"]


def install(app: FastAPI, quotas: Quotas | None = None) -> FastAPI:
    """Mount the Deployment API on `app` at `/api` as its own FastAPI application, and return it.

    A mounted application keeps request routing cheap (the platform's routes see one prefix check, and
    the Deployment API matches only its own routes) and gives the Deployment API its own OpenAPI
    document at `/api/v5/openapi.json`. It shares `app.state` (database, settings, the broker runtime set
    by the lifespan) and uses the control plane's error handlers; v4 routes render their own errors.
    Inside, `/v5` comes first: each router ends with its own 404 catch-all.
    """
    chosen = quotas or Quotas()
    app.state.deployment_api_quotas = chosen
    app.state.deployment_api_limiter = ApiRateLimiter(chosen.api_qps, chosen.api_burst)
    app.state.deployment_key_verifier = verifier = DeploymentKeyVerifier(
        app.state.database, cache_seconds=app.state.settings.key_cache_seconds
    )
    verifier.watch_changes()
    api = FastAPI(
        title="mqttcloud Deployment API",
        version="5",
        description=(
            "EMQX Platform compatible Deployment API: the v5 shape under /api/v5 and the Dedicated v4 shape "
            "under /api. Authenticate with HTTP Basic: a deployment API key's App ID and App Secret."
        ),
        openapi_url="/v5/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    api.state = app.state  # one State: the lifespan's `app.state.runtime` is seen here too
    install_error_handlers(api)
    api.include_router(v5.router, prefix="/v5")
    api.include_router(shadows_v4.router)
    api.include_router(v4.router)
    api.add_middleware(JsonBodies)
    mount = Mount(V4_PREFIX, app=api)
    # Starlette's `$` also matches before a trailing newline, so `/api/v5/clients/%0A` would reach the
    # Deployment API as `v5/clients/` (no leading slash, routed nowhere): match the whole path instead.
    mount.path_regex = re.compile(rf"^{V4_PREFIX}/(?P<path>.*)\Z", re.DOTALL)
    app.router.routes.append(mount)
    # POST /api/v5/publish is answered by a pure ASGI middleware when everything is known to be fine,
    # before the platform's middleware stack and router (publish/fast_path.py).
    app.add_middleware(PublishFastPath, state=app.state, path=V5_PREFIX + "/publish")
    return api
