"""The v4 shape of the Deployment API at `/api` (spec §2.3, rows 1-39 of §2.3.0; EMQX 4 conventions): the
domains' v4 presenters, then a 404 catch-all in the v4 error shape.

Every answer is an object with an integer `code` (0 = success); pages are
`{"meta": {"page", "limit", "count"[, "hasnext"]}, "data": [...], "code": 0}`. Errors carry the v4 result
code and a `message`, with the HTTP status of the v5 shape (choice for spec §5 item 12, see `errors.py`);
`errors.V4Route` renders them, so the control plane's v5-style handler never sees a v4 route's error.
Batch operations answer 200 / `code` 0 with a per-item `code` (112: client not online).
"""

from fastapi import APIRouter, Response

from mqttcloud.control.deployment_api.acl import v4 as acl
from mqttcloud.control.deployment_api.authn import v4 as authn
from mqttcloud.control.deployment_api.banned import v4 as banned
from mqttcloud.control.deployment_api.clients import v4 as clients
from mqttcloud.control.deployment_api.errors import V4Route
from mqttcloud.control.deployment_api.integration import v4 as integration
from mqttcloud.control.deployment_api.metrics import v4 as metrics
from mqttcloud.control.deployment_api.paths import ANY_PATH
from mqttcloud.control.deployment_api.publish import v4 as publish
from mqttcloud.control.deployment_api.subscriptions import v4 as subscriptions
from mqttcloud.control.errors import NotFound

router = APIRouter(tags=["deployment API v4"], route_class=V4Route)
for domain in (authn, acl, clients, banned, subscriptions, publish, metrics, integration):
    router.include_router(domain.router)


@router.api_route(
    f"/{{path:{ANY_PATH}}}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False
)
async def not_found(path: str) -> Response:
    raise NotFound("Path not found", code="NOT_FOUND")
