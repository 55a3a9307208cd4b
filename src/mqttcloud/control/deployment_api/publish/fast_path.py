"""A fast path for the hottest Deployment API call, `POST /api/v5/publish`: a pure ASGI middleware in
front of the platform app, skipping the framework's routing and dependency solving (STYLE §4: a
measurement beats purity on the hot path; the figures are in bench/RESULTS.md).

Rule: it publishes only when everything is already known to be fine: the key is in the verifier's cache
with the right secret, `auth.authorize` (the routes' own check) lets it POST to `publish`, the body is one
valid `PublishIn` that `publish.service.message_args` accepts, and the deployment's broker is running.
In every other case it hands the request (its body replayed) to the route, which answers exactly as it
always does: errors have one code path. Only what can go wrong after the message was handed to the
broker is answered here, through the same `publish.service.publish` and the same error body.
"""

import json

import pydantic
from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mqttcloud.contracts import TenantId
from mqttcloud.control.deployment_api import live
from mqttcloud.control.deployment_api.auth import DeploymentKeyVerifier, authorize
from mqttcloud.control.deployment_api.publish import service as publishing
from mqttcloud.control.deployment_api.publish.schemas import PublishIn
from mqttcloud.control.errors import ApiError, error_response

MAX_BODY = 2 * 1024 * 1024  # larger bodies go to the route (its payload check answers them)
_JSON = [(b"content-type", b"application/json")]
_NO_SUBSCRIBERS = json.dumps({"message": "no_matching_subscribers", "reason_code": 16}).encode()


class PublishFastPath:
    """Pure ASGI middleware in front of the platform app (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, state: State, path: str) -> None:
        self.app = app
        self.state = state  # the platform's app.state: verifier, limiter and runtime are read per request
        self.path = path  # the full path, /api/v5/publish

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _route_path(scope) != self.path:
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(receive)
        if more or not await self._answer(scope, body, send):
            await self.app(scope, _replay(body, more, receive), send)

    async def _answer(self, scope: Scope, body: bytes, send: Send) -> bool:
        """Publish and answer; False (nothing sent, nothing published) hands the request to the route."""
        state = self.state
        verifier: DeploymentKeyVerifier = state.deployment_key_verifier
        header = next((value for name, value in scope["headers"] if name == b"authorization"), None)
        context = verifier.verify_cached(header.decode("latin-1") if header is not None else None)
        if context is None:
            return False
        try:
            authorize(state.deployment_api_limiter, context, "POST", "publish")
        except ApiError:
            return False  # the route checks again (the bucket is still empty) and renders the 403 / 429
        try:
            args = PublishIn.model_validate_json(body).args(TenantId(context.deployment_id))
            client = live.client_for(state.runtime, context)
        except (pydantic.ValidationError, ApiError):
            return False
        try:
            result = await publishing.publish(client, args)
        except ApiError as exc:
            await error_response(exc.status_code, exc.code, exc.message, exc.headers)(scope, _no_body, send)
            return True
        if result.matched == 0:
            status, answer = 202, _NO_SUBSCRIBERS
        else:
            status, answer = 200, b'{"id": "' + result.id.encode("ascii") + b'"}'
        headers = [*_JSON, (b"content-length", str(len(answer)).encode("ascii"))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
        return True


def _route_path(scope: Scope) -> str:
    """The path below the server's root path (`root_path` is empty unless the platform is mounted)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body; `more` is True when it is longer than MAX_BODY (the rest is left unread)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True  # a disconnect: the route sees it too
        chunk: bytes = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False
        if size > MAX_BODY:
            return b"".join(chunks), True


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A `receive` that first gives back what the fast path read, then the rest of the request."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
