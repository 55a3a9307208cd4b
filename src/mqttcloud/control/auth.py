"""Platform API key verification (HTTP Basic `key:secret`), scope checks and rate limiting.

One dependency per route, `platform_access(scope, rule)`, runs on the event loop and in order:
401 (no/bad credentials, the same answer whether the key exists or not), 403 (functionality scope),
429 (rate limit). Project scope is checked where the project is known (`Principal.require_project`); a
deployment of a project the key cannot see answers 404 exactly as a missing one does
(`Principal.require_deployment`): a key learns nothing about other projects' deployments.

Hot path: a verified key's row is cached for `key_cache_seconds`, so a request costs one SHA-256, a
dict lookup and a read of the key revision (`api_keys/revisions.py`: a cached key is trusted only while
no key has been deleted or changed since, by any process); `last_used_at` is written at most once per
`last_used_interval` per key, never per request.
"""

import asyncio
import base64
import binascii
import datetime as dt
import hmac
import logging
import time
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mqttcloud.control import audit
from mqttcloud.control.api_keys import service as api_keys
from mqttcloud.control.api_keys.models import ALL_PROJECTS, ApiKey, Scope
from mqttcloud.control.api_keys.revisions import KeyRevisions, read_generation
from mqttcloud.control.db import Database
from mqttcloud.control.errors import Forbidden, NotFound, Unauthorized
from mqttcloud.control.ratelimit import RateLimiter
from mqttcloud.passwords import hash_api_secret

logger = logging.getLogger(__name__)

_BAD_CREDENTIALS = "Invalid API key or secret"
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="mqttcloud"'}
# Compared against when the key does not exist, so both failures cost the same.
_DUMMY_HASH = hash_api_secret("not-a-real-secret")


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified platform key and what it may reach."""

    key: str
    scopes: frozenset[str]
    project_ids: frozenset[str] | None  # None: every project

    def require_scope(self, scope: Scope) -> None:
        if scope.value not in self.scopes:
            raise Forbidden(f"API key has no access to {scope.value} management", code="FORBIDDEN")

    def can_see_project(self, project_id: str) -> bool:
        return self.project_ids is None or project_id in self.project_ids

    def require_project(self, project_id: str) -> None:
        if not self.can_see_project(project_id):
            raise Forbidden("API key has no access to this project", code="FORBIDDEN")

    def require_deployment(self, deployment_id: str, project_id: str) -> None:
        """Raises: NotFound, the very answer for a deployment that does not exist, when the deployment's
        project is outside the key's project scope (no existence leak across projects)."""
        if not self.can_see_project(project_id):
            raise NotFound(f"Deployment {deployment_id} not found", code="DEPLOYMENT_NOT_FOUND")

    @property
    def visible_projects(self) -> Collection[str] | None:
        return self.project_ids


@dataclass(frozen=True, slots=True)
class _CachedKey:
    secret_hash: str
    principal: Principal
    expires: float
    generation: int  # the key revision read with the row: the entry is stale once it moved


def parse_basic(header: str | None) -> tuple[str, str]:
    """Split an `Authorization: Basic ...` header into (key, secret). Raises: Unauthorized."""
    if not header:
        raise Unauthorized("Missing API key credentials", headers=_CHALLENGE)
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise Unauthorized(_BAD_CREDENTIALS, headers=_CHALLENGE)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized(_BAD_CREDENTIALS, headers=_CHALLENGE) from None
    key, sep, secret = decoded.partition(":")
    if not sep or not key or not secret:
        raise Unauthorized(_BAD_CREDENTIALS, headers=_CHALLENGE)
    return key, secret


class KeyVerifier:
    """Verifies platform keys against the database with a short cache; records last use lazily."""

    def __init__(
        self,
        database: Database,
        *,
        cache_seconds: float = 5.0,
        last_used_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        revisions: KeyRevisions | None = None,
    ):
        self.database = database
        self.cache_seconds = cache_seconds
        self.last_used_interval = last_used_interval
        self._clock = clock
        self.revisions = revisions or KeyRevisions(database, clock=clock)
        self._cache: dict[str, _CachedKey] = {}
        self._last_written: dict[str, float] = {}

    def watch_changes(self) -> None:
        """Forget a key as soon as a session of this database edits or deletes it (console, CLI services).
        Other processes' changes are seen through the key revision instead."""

        def after_flush(session: Session, _context: Any) -> None:
            for instance in (*session.dirty, *session.deleted):
                if isinstance(instance, ApiKey):
                    self.invalidate(instance.key)

        event.listen(self.database.session_factory, "after_flush", after_flush)

    def invalidate(self, key: str | None = None) -> None:
        """Forget a key (after an edit or delete in this process), or every key."""
        if key is None:
            self._cache.clear()
        else:
            self._cache.pop(key, None)

    async def verify(self, header: str | None) -> Principal:
        """Raises: Unauthorized, identical for an unknown key and a wrong secret."""
        key, secret = parse_basic(header)
        now = self._clock()
        presented = hash_api_secret(secret).encode("ascii")
        cached = self._cache.get(key)
        if (
            cached is not None
            and cached.expires > now
            and self._matches(presented, cached)
            and cached.generation == await self.revisions.current()
        ):
            pass  # a current cache hit with the right secret: no read of the key
        else:
            # Every refusal takes this branch: one database read, one comparison, whether the key is
            # unknown or the secret wrong (a cached key is re-read too), so both cost the same.
            cached = await asyncio.to_thread(self._load, key, now)
            if not self._matches(presented, cached):
                raise Unauthorized(_BAD_CREDENTIALS, headers=_CHALLENGE)
        assert cached is not None  # _matches(presented, None) is False
        if now - self._last_written.get(key, -self.last_used_interval) >= self.last_used_interval:
            self._last_written[key] = now
            await asyncio.to_thread(self._record_use, key, dt.datetime.now(dt.UTC))
        return cached.principal

    @staticmethod
    def _matches(presented: bytes, cached: _CachedKey | None) -> bool:
        """Constant-time comparison; an unknown key is compared against a dummy digest and fails."""
        expected = _DUMMY_HASH if cached is None else cached.secret_hash
        return hmac.compare_digest(presented, expected.encode("ascii")) and cached is not None

    def verify_cached(self, header: str | None) -> Principal | None:
        """The principal when this request can be decided from the cache alone, else None.

        None means "ask `verify`" (missing or malformed header, key not cached, expired or stale, wrong
        secret, or a last-use write due): it never decides a failure, so every refusal keeps one path.
        """
        try:
            key, secret = parse_basic(header)
        except Unauthorized:
            return None
        now = self._clock()
        cached = self._cache.get(key)
        if cached is None or cached.expires <= now:
            return None
        if now - self._last_written.get(key, -self.last_used_interval) >= self.last_used_interval:
            return None
        presented = hash_api_secret(secret).encode("ascii")
        if not hmac.compare_digest(presented, cached.secret_hash.encode("ascii")):
            return None
        if self.revisions.peek() != cached.generation:
            return None
        return cached.principal

    def _load(self, key: str, now: float) -> _CachedKey | None:
        with self.database.read_session() as session:
            generation = read_generation(session)  # first: a change committed after it is seen next time
            self.revisions.note(generation, read_at=now)
            row = api_keys.find_by_key(session, key=key)
            if row is None:
                self._cache.pop(key, None)
                return None
            projects = None if ALL_PROJECTS in row.project_ids else frozenset(row.project_ids)
            principal = Principal(key=row.key, scopes=frozenset(row.scopes), project_ids=projects)
            cached = _CachedKey(row.secret_hash.lower(), principal, now + self.cache_seconds, generation)
        self._cache[key] = cached
        return cached

    def _record_use(self, key: str, when: dt.datetime) -> None:
        """Best effort: a busy or failing database must not fail the request that merely used the key."""
        try:
            with self.database.session() as session:
                api_keys.record_last_used(session, used={key: when})
        except SQLAlchemyError:
            logger.warning("could not record the last use of platform key %s", key, exc_info=True)


async def platform_key(request: Request) -> Principal:
    """Authenticate the platform key (no scope check): 401 on failure."""
    verifier: KeyVerifier = request.app.state.key_verifier
    principal = await verifier.verify(request.headers.get("authorization"))
    audit.attach(request.scope, audit.Actor(audit.ActorKind.PLATFORM_KEY, principal.key))
    return principal


PlatformKeyDep = Annotated[Principal, Depends(platform_key)]


def platform_access(scope: Scope, rule: str) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency that authenticates the platform key, checks `scope` and counts `rule`.

    Use as `Annotated[Principal, Depends(platform_access(Scope.TLS, "tls.get"))]`. One flat dependency
    (no sub-dependencies): this runs on every request. The OpenAPI security scheme is added by
    `document_security`.
    """

    async def dependency(request: Request) -> Principal:
        verifier: KeyVerifier = request.app.state.key_verifier
        principal = await verifier.verify(request.headers.get("authorization"))
        audit.attach(request.scope, audit.Actor(audit.ActorKind.PLATFORM_KEY, principal.key))
        authorize(
            request.app.state.rate_limiter,
            principal,
            scope,
            rule,
            request.path_params.get("deployment_id", ""),
        )
        return principal

    return dependency


def authorize(
    limiter: RateLimiter, principal: Principal, scope: Scope, rule: str, deployment_id: str
) -> None:
    """The one scope and rate check of every Platform API request, for the routes and the fast path
    alike (project scope is checked where the project is known: `Principal.require_deployment`).

    Raises: Forbidden (the key lacks `scope`), RateLimited."""
    principal.require_scope(scope)
    limiter.hit(rule, principal.key, deployment_id)


def document_security(schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Declare HTTP Basic (platform Key / Secret) on every operation under `prefix` in an OpenAPI schema."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})["HTTPBasic"] = {
        "type": "http",
        "scheme": "basic",
        "description": "Platform API Key as user name, Secret as password",
    }
    for path, operations in schema.get("paths", {}).items():
        if path.startswith(prefix):
            for operation in operations.values():
                operation["security"] = [{"HTTPBasic": []}]
    return schema
