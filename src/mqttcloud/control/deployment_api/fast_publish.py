"""A measured fast path for the hottest Deployment API call, `POST /api/v5/publish`.

Measured with `bench/deployment_api.py` (10,000 connected clients, 32 keep-alive connections, the
2-core shared machine): the FastAPI route cost ~1,030 us of platform CPU per publish, most of it the
framework's routing, middleware and dependency solving; this pure ASGI middleware (installed on the
platform app by `deployment_api.install`, so it runs before the platform's router) answers the same
request with about half of that, the rest being HTTP parsing and the admin round trip (figures in the
commit messages).
Same reasoning as `control/deployments/fast_path.py` (STYLE §4: a measurement beats purity on the hot
path).

Rule: the fast path publishes only when everything is already known to be fine: the key is in the
verifier's cache with the right secret and may POST to `publish`, the rate limit lets the request
through, the body is one valid `PublishIn` whose payload and properties `common.publish_args` accepts,
and the deployment's broker is running. In every other case it hands the request (its body replayed) to
the FastAPI route unchanged, which answers exactly as it always does: errors have one code path. Only
what can go wrong after the message was handed to the broker (broker unavailable or reporting an error)
is answered here, with the same `live.call` mapping and the same error body as the route.
"""

import json
from typing import Any

import pydantic
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mqttcloud.control.deployment_api import common, live
from mqttcloud.control.deployment_api.auth import DeploymentKeyVerifier
from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployment_api.quotas import ApiRateLimiter
from mqttcloud.control.deployment_api.schemas import PublishIn
from mqttcloud.control.errors import ApiError, error_response

MAX_BODY = 2 * 1024 * 1024  # larger bodies go to the route (its payload check answers them)
_JSON = [(b"content-type", b"application/json")]
_NO_SUBSCRIBERS = json.dumps({"message": "no_matching_subscribers", "reason_code": 16}).encode()


class PublishFastPath:
    """Pure ASGI middleware in front of the platform app (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, state: Any, path: str) -> None:
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
        content_type = next((value for name, value in scope["headers"] if name == b"content-type"), b"")
        if not _is_json(content_type):
            return False  # the route decides (without a JSON content type it does not parse the body)
        verifier: DeploymentKeyVerifier = state.deployment_key_verifier
        header = next((value for name, value in scope["headers"] if name == b"authorization"), None)
        context = verifier.verify_cached(header.decode("latin-1") if header is not None else None)
        if context is None or not keys.allows(context.permissions, "POST", "publish"):
            return False
        limiter: ApiRateLimiter = state.deployment_api_limiter
        try:
            limiter.hit(context.deployment_id)
        except ApiError:
            return False  # the route counts again (the bucket is still empty) and renders the 429
        try:
            item = PublishIn.model_validate_json(body)
            args = common.publish_args(
                context.deployment_id,
                topic=item.topic,
                payload=item.payload,
                encoding=item.payload_encoding,
                qos=item.qos,
                retain=item.retain,
                clientid=item.clientid,
                properties=item.properties,
            )
            client = live.client_for(state.runtime, context)
        except (pydantic.ValidationError, ApiError):
            return False
        try:
            result = await live.call(client.publish(args))
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


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


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
