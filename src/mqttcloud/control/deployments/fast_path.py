"""A fast path for the hottest Platform API call, `GET /public_api/v1/deployments/{id}`: a pure ASGI
middleware that skips the framework's middleware stack and dependency solving (STYLE §4: a measurement
beats purity on the hot path; the figures are in the commit history and bench/RESULTS.md).

Rule: it answers only when everything is already known and positive: the deployment object is in the
view cache, the key is in the verifier's cache with the right secret, the key may see the deployment's
project (`Principal.require_deployment`), and `auth.authorize`, the routes' own scope and rate check, lets
the request through. In every other case (cache miss, any error, a 429) it hands the request to the
FastAPI route unchanged, which answers exactly as it always does: errors have one code path only.
"""

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from mqttcloud.control.api_keys.models import Scope as KeyScope
from mqttcloud.control.auth import KeyVerifier, authorize
from mqttcloud.control.deployments.cache import ViewCache
from mqttcloud.control.errors import ApiError
from mqttcloud.control.ratelimit import RateLimiter

_RULE = "deployments.get"


class DeploymentReadFastPath:
    """Pure ASGI middleware in front of the FastAPI app (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, *, prefix: str, verifier: KeyVerifier, limiter: RateLimiter, cache: ViewCache
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.limiter = limiter
        self.cache = cache
        self._path = re.compile(re.escape(prefix) + r"/deployments/([A-Za-z0-9_-]{1,64})")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and await self._answer(scope, send):
            return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> bool:
        match = self._path.fullmatch(scope["path"])
        if match is None or scope.get("query_string"):
            return False
        deployment_id = match.group(1)
        view = self.cache.get(deployment_id)
        if view is None:
            return False
        header = next((value for name, value in scope["headers"] if name == b"authorization"), None)
        principal = self.verifier.verify_cached(header.decode("latin-1") if header is not None else None)
        if principal is None:
            return False
        try:
            principal.require_deployment(deployment_id, view.project_id)  # before a token is taken
            authorize(self.limiter, principal, KeyScope.DEPLOYMENTS, _RULE, deployment_id)
        except ApiError:
            return False  # the route checks again and renders the 403 / 404 / 429
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(view.body)).encode("ascii")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": view.body})
        return True
