"""The Deployment API: what EMQX Platform customers script against, per deployment (spec §2.2-§2.4).

Two shapes on the same routes' services: v5 at `/api/v5` (`v5.py`) and v4 at `/api` (`v4.py`), both
authenticated with a deployment API key (`auth.py`, keys in `keys/`). Stored data lives in `authn/`,
`acl/` and `banned/` and reaches the broker through `access.tenant_contents` (called when the control
plane builds broker specs) and `BrokerRuntime.reconcile()` after every write; live data comes from the
broker's admin channel (`live.py`).

Public API for the rest of the control plane:
    install(app, quotas=None)                 include both routers and their state in a FastAPI app
    tenant_contents(session) / access_spec    users, ACL rules and bans for broker specs
    keys.service.create_key / list_keys / delete_key     deployment API keys (console, CLI)
"""

from fastapi import FastAPI

from mqttcloud.control.deployment_api.access import access_spec, tenant_contents
from mqttcloud.control.deployment_api.auth import DeploymentKeyVerifier
from mqttcloud.control.deployment_api.quotas import ApiRateLimiter, Quotas

V5_PREFIX = "/api/v5"
V4_PREFIX = "/api"

__all__ = ["V4_PREFIX", "V5_PREFIX", "Quotas", "access_spec", "install", "tenant_contents"]


def install(app: FastAPI, quotas: Quotas | None = None) -> None:
    """Mount `/api/v5` and `/api` (in that order: each ends with its own 404 catch-all) on `app`.

    Needs `app.state.database`, `app.state.settings` and `app.state.runtime` (set by `create_app`).
    """
    from mqttcloud.control.deployment_api import v4, v5  # noqa: PLC0415  (routers import this package)

    chosen = quotas or Quotas()
    app.state.deployment_api_quotas = chosen
    app.state.deployment_api_limiter = ApiRateLimiter(chosen.api_qps, chosen.api_burst)
    app.state.deployment_key_verifier = DeploymentKeyVerifier(
        app.state.database, cache_seconds=app.state.settings.key_cache_seconds
    )
    app.include_router(v5.router, prefix=V5_PREFIX)
    app.include_router(v4.router, prefix=V4_PREFIX)
