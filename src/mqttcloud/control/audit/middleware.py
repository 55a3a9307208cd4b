"""`AuditMiddleware`: one pure ASGI middleware that records every write through the three HTTP surfaces.

Every request other than GET/HEAD/OPTIONS under the Platform API (`/public_api/`), the Deployment API
(`/api/`) and the console (`/console`) becomes one entry once its response is sent, whatever the outcome:
denied (401/403) and failed attempts included. Who: the actor the auth layer attached (actor.py), else
the key id presented in the Authorization header, unverified, else anonymous. What: the method and route
template, the path parameters and the ids a creation returned, and the redacted body (redaction.py).

Rule: messages published through the Deployment API (`PUBLISH_PATHS`) are data-plane traffic, not
changes to the platform: they are counted on `/metrics`, not audited. Nothing else is skipped.
"""

import datetime as dt
import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mqttcloud.control.audit.actor import ANONYMOUS, Actor, ActorKind, Interface, attached
from mqttcloud.control.audit.log import AuditLog
from mqttcloud.control.audit.redaction import created_ids, error_code, summarize
from mqttcloud.control.audit.service import NewEntry
from mqttcloud.control.auth import parse_basic
from mqttcloud.control.config import IPNetwork
from mqttcloud.control.errors import Unauthorized
from mqttcloud.control.health.http_metrics import route_template

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLISH_PATHS = frozenset(
    {"/api/v5/publish", "/api/v5/publish/bulk", "/api/mqtt/publish", "/api/mqtt/publish_batch"}
)
MAX_REQUEST_BODY = 64 * 1024  # bytes of a request body kept for the summary
MAX_RESPONSE_BODY = 16 * 1024  # bytes of a JSON response kept for its error code or created ids


def interface_of(path: str) -> Interface | None:
    if path.startswith("/public_api/"):
        return Interface.PLATFORM_API
    if path.startswith("/api/"):
        return Interface.DEPLOYMENT_API
    if path == "/console" or path.startswith("/console/"):
        return Interface.CONSOLE
    return None


def source_address(scope: Scope, trusted: Sequence[IPNetwork]) -> str | None:
    """The TCP peer, or behind a trusted proxy the right-most X-Forwarded-For hop it did not add."""
    client = scope.get("client")
    peer = str(client[0]) if client else None
    if peer is None or not _is_trusted(peer, trusted):
        return peer
    header = next((v for k, v in scope["headers"] if k == b"x-forwarded-for"), None)
    address = peer
    for hop in reversed(header.decode("latin-1").split(",") if header is not None else []):
        if not _is_trusted(hop.strip(), trusted, unparsable=False):
            return hop.strip()[:64] or address
        address = hop.strip()
    return address


def _is_trusted(address: str, trusted: Sequence[IPNetwork], *, unparsable: bool = False) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return unparsable
    return any(parsed in network for network in trusted)


def _presented_actor(scope: Scope, interface: Interface) -> Actor:
    """The key id of the Authorization header, unverified (a request refused before or by auth)."""
    if interface is Interface.CONSOLE:
        return ANONYMOUS
    header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
    try:
        key, _secret = parse_basic(None if header is None else header.decode("latin-1"))
    except Unauthorized:
        return ANONYMOUS
    kind = ActorKind.PLATFORM_KEY if interface is Interface.PLATFORM_API else ActorKind.DEPLOYMENT_KEY
    return Actor(kind, key[:128], authenticated=False)


class AuditMiddleware:
    """Pure ASGI middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, log: AuditLog, trusted_proxies: Sequence[IPNetwork] = ()) -> None:
        self.app = app
        self.log = log
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or scope["path"] in PUBLISH_PATHS:
            await self.app(scope, receive, send)
            return
        interface = interface_of(scope["path"])
        if interface is None:
            await self.app(scope, receive, send)
            return
        at = dt.datetime.now(dt.UTC)
        request_body = bytearray()
        request_truncated = False
        status = 500
        response_json = False
        response_body = bytearray()

        async def receive_wrapper() -> Message:
            nonlocal request_truncated
            message = await receive()
            if message["type"] == "http.request" and not request_truncated:
                chunk = message.get("body", b"")
                if len(request_body) + len(chunk) > MAX_REQUEST_BODY:
                    request_truncated = True
                request_body.extend(chunk[: MAX_REQUEST_BODY - len(request_body)])
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_json
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = next((v for k, v in message.get("headers", ()) if k == b"content-type"), b"")
                response_json = content_type.startswith(b"application/json")
            elif message["type"] == "http.response.body" and response_json:
                room = MAX_RESPONSE_BODY - len(response_body)
                if room > 0:
                    response_body.extend(message.get("body", b"")[:room])
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        finally:
            self.log.record(
                self._entry(
                    scope,
                    interface,
                    at=at,
                    status=status,
                    request_body=bytes(request_body),
                    truncated=request_truncated,
                    response_body=bytes(response_body),
                )
            )

    def _entry(
        self,
        scope: Scope,
        interface: Interface,
        *,
        at: dt.datetime,
        status: int,
        request_body: bytes,
        truncated: bool,
        response_body: bytes,
    ) -> NewEntry:
        actor = attached(scope) or _presented_actor(scope, interface)
        params: dict[str, object] = scope.get("path_params") or {}
        targets = [f"{name}={value}" for name, value in params.items()]
        if 200 <= status < 300 and response_body:  # what a creation returned, unless the path named it
            named = {str(value) for value in params.values()}
            targets.extend(f"{n}={v}" for n, v in created_ids(response_body) if v not in named)
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"").decode("latin-1")
        return NewEntry(
            at=at,
            interface=interface.value,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            authenticated=actor.authenticated,
            source_ip=source_address(scope, self.trusted_proxies),
            method=scope["method"],
            action=f"{scope['method']} {route_template(scope)}",
            target=" ".join(dict.fromkeys(targets)),
            summary=summarize(content_type, request_body, truncated=truncated),
            status=status,
            error_code=error_code(response_body) if status >= 400 and response_body else None,
        )
