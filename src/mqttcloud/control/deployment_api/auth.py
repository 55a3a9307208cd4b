"""Deployment API key verification: HTTP Basic App ID + App Secret → the deployment it belongs to.

`deployment_access(group)` is the one dependency of every Deployment API route. In order: 401 (missing or
bad credentials; identical for an unknown App ID and a wrong secret; a platform key is simply unknown
here), 403 (the key's permissions do not cover this HTTP method on this endpoint group), 429 (the
deployment's API rate, `quotas.Quotas.api_qps`). The deployment is resolved from the App ID, never from
the URL, so a key only ever reaches its own deployment.

A verified key (with its deployment's type, size and desired state) is cached for
`settings.key_cache_seconds`, and trusted only while the key revision (`api_keys/revisions.py`) is the
one read with it: editing or deleting a key or its deployment, in any process, ends it at once.
"""

import asyncio
import hmac
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import event
from sqlalchemy.orm import Session

from mqttcloud.control import audit
from mqttcloud.control.api_keys.revisions import KeyRevisions, read_generation
from mqttcloud.control.auth import parse_basic
from mqttcloud.control.db import Database
from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployment_api.keys.models import DeploymentApiKey
from mqttcloud.control.deployment_api.quotas import ApiRateLimiter, Quotas
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.models import Deployment
from mqttcloud.control.errors import Forbidden, Unauthorized
from mqttcloud.passwords import hash_api_secret

_BAD = "Invalid App ID or App Secret"
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="mqttcloud deployment"'}
_DUMMY_HASH = hash_api_secret("not-a-real-app-secret")


@dataclass(frozen=True, slots=True)
class DeploymentContext:
    """The verified key and the deployment it reaches."""

    app_id: str
    deployment_id: str
    permissions: tuple[str, ...] | None
    serverless: bool
    connections: int
    desired_running: bool

    @property
    def broker_id(self) -> str:
        return deployments.SERVERLESS_BROKER_ID if self.serverless else self.deployment_id

    @property
    def node(self) -> str:
        """The broker's node name (`BrokerSpec.node_name`, see `deployments/spec_builder.py`)."""
        return "emqx@serverless" if self.serverless else f"emqx@{self.deployment_id}"


@dataclass(frozen=True, slots=True)
class _Cached:
    secret_hash: str
    context: DeploymentContext
    expires: float
    generation: int  # the key revision read with the row: the entry is stale once it moved


class DeploymentKeyVerifier:
    def __init__(
        self,
        database: Database,
        *,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        revisions: KeyRevisions | None = None,
    ):
        self.database = database
        self.cache_seconds = cache_seconds
        self._clock = clock
        self.revisions = revisions or KeyRevisions(database, clock=clock)
        self._cache: dict[str, _Cached] = {}

    def watch_changes(self) -> None:
        """Forget cached keys as soon as a session of this database edits or deletes them, or their
        deployment (stopped, resized, deleted: the cached context carries its state). Other processes'
        changes are seen through the key revision instead."""

        def after_flush(session: Session, _context: Any) -> None:
            for instance in (*session.dirty, *session.deleted):
                if isinstance(instance, DeploymentApiKey):
                    self.invalidate(instance.app_id)
                elif isinstance(instance, Deployment):
                    self.invalidate_deployment(instance.id)

        event.listen(self.database.session_factory, "after_flush", after_flush)

    def invalidate_deployment(self, deployment_id: str) -> None:
        for app_id, cached in list(self._cache.items()):
            if cached.context.deployment_id == deployment_id:
                self._cache.pop(app_id, None)

    def invalidate(self, app_id: str | None = None) -> None:
        if app_id is None:
            self._cache.clear()
        else:
            self._cache.pop(app_id, None)

    async def verify(self, header: str | None) -> DeploymentContext:
        """Raises: Unauthorized (`BAD_API_KEY_OR_SECRET`)."""
        try:
            app_id, secret = parse_basic(header)
        except Unauthorized:
            raise Unauthorized(_BAD, code="BAD_API_KEY_OR_SECRET", headers=_CHALLENGE) from None
        now = self._clock()
        cached = self._cache.get(app_id)
        if cached is None or cached.expires <= now or cached.generation != await self.revisions.current():
            cached = await asyncio.to_thread(self._load, app_id, now)
        presented = hash_api_secret(secret).encode("ascii")
        expected = (cached.secret_hash if cached is not None else _DUMMY_HASH).encode("ascii")
        if not hmac.compare_digest(presented, expected) or cached is None:
            raise Unauthorized(_BAD, code="BAD_API_KEY_OR_SECRET", headers=_CHALLENGE)
        return cached.context

    def verify_cached(self, header: str | None) -> DeploymentContext | None:
        """The context when `header` carries a key already in the cache with the right secret, else None
        (no database access, never raises: for fast paths that hand every other case to `verify`)."""
        try:
            app_id, secret = parse_basic(header)
        except Unauthorized:
            return None
        cached = self._cache.get(app_id)
        if cached is None or cached.expires <= self._clock():
            return None
        presented = hash_api_secret(secret).encode("ascii")
        if not hmac.compare_digest(presented, cached.secret_hash.encode("ascii")):
            return None
        if self.revisions.peek() != cached.generation:
            return None
        return cached.context

    def _load(self, app_id: str, now: float) -> _Cached | None:
        with self.database.read_session() as session:
            generation = read_generation(session)  # first: a change committed after it is seen next time
            self.revisions.note(generation, read_at=now)
            key = keys.find_by_app_id(session, app_id=app_id)
            deployment = None if key is None else session.get(Deployment, key.deployment_id)
            if key is None or deployment is None:
                self._cache.pop(app_id, None)
                return None
            context = DeploymentContext(
                app_id=app_id,
                deployment_id=deployment.id,
                permissions=None if key.permissions is None else tuple(key.permissions),
                serverless=deployment.deployment_type.is_serverless,
                connections=deployment.connections,
                desired_running=deployment.desired_running,
            )
            cached = _Cached(key.secret_hash.lower(), context, now + self.cache_seconds, generation)
        self._cache[app_id] = cached
        return cached


def authorize(limiter: ApiRateLimiter, context: DeploymentContext, method: str, group: str) -> None:
    """The one permission and rate check of every Deployment API request, for the routes and the fast
    paths alike. Raises: Forbidden (the key's permissions lack `method` on `group`), RateLimited."""
    if not keys.allows(context.permissions, method, group):
        raise Forbidden(f"API key has no {method} permission on {group}", code="FORBIDDEN")
    limiter.hit(context.deployment_id)


def deployment_access(group: str) -> Callable[..., Coroutine[Any, Any, DeploymentContext]]:
    """Dependency: authenticate the deployment key, then `authorize` the call for `group`."""

    async def dependency(request: Request) -> DeploymentContext:
        state = request.app.state
        verifier: DeploymentKeyVerifier = state.deployment_key_verifier
        context = await verifier.verify(request.headers.get("authorization"))
        audit.attach(request.scope, audit.Actor(audit.ActorKind.DEPLOYMENT_KEY, context.app_id))
        authorize(state.deployment_api_limiter, context, request.method, group)
        return context

    return dependency


def quotas_of(request: Request) -> Quotas:
    quotas: Quotas = request.app.state.deployment_api_quotas
    return quotas
