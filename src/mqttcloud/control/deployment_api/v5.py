"""The v5 shape of the Deployment API at `/api/v5` (spec §2.2, §2.4; EMQX 5 conventions): the domains'
v5 presenters, then a 404 catch-all in the v5 error shape.

Success is the HTTP status (200/201/202/204) with bare objects or `{"data", "meta"}` pages, no `code`;
errors are `{"code": "UPPER_SNAKE", "message"}` from the control plane's one handler. Live endpoints
(clients, subscriptions, publish, metrics, stats) answer 503 SERVICE_UNAVAILABLE while the deployment is
stopped; users, ACL rules and bans are stored data, editable at any time and pushed to the running broker
after each write.
"""

from fastapi import APIRouter, Response

from mqttcloud.control.alarms import routes as alarm_routes
from mqttcloud.control.deployment_api.acl import v5 as acl
from mqttcloud.control.deployment_api.authn import v5 as authn
from mqttcloud.control.deployment_api.banned import v5 as banned
from mqttcloud.control.deployment_api.clients import v5 as clients
from mqttcloud.control.deployment_api.integration import v5 as integration
from mqttcloud.control.deployment_api.metrics import v5 as metrics
from mqttcloud.control.deployment_api.paths import ANY_PATH
from mqttcloud.control.deployment_api.publish import v5 as publish
from mqttcloud.control.deployment_api.retained import v5 as retained
from mqttcloud.control.deployment_api.subscriptions import v5 as subscriptions
from mqttcloud.control.deployment_api.topic_metrics import v5 as topic_metrics
from mqttcloud.control.errors import NotFound
from mqttcloud.control.events import v5 as event_history
from mqttcloud.control.monitoring import api as monitoring
from mqttcloud.control.trace import routes as trace

router = APIRouter(tags=["deployment API v5"])
for domain in (publish, clients, subscriptions, authn, acl, banned, metrics, integration, event_history):
    router.include_router(domain.router)
router.include_router(retained.router)  # /mqtt/retainer/... (deployment_api/retained/)
router.include_router(topic_metrics.router)  # /mqtt/topic_metrics (deployment_api/topic_metrics/)
router.include_router(monitoring.router)  # stored history: /monitor, /monitor_current (monitoring/api.py)

router.include_router(trace.router)  # log traces (control/trace/)
router.include_router(alarm_routes.v5_router)  # alarms (control/alarms/)


@router.api_route(
    f"/{{path:{ANY_PATH}}}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False
)
async def not_found(path: str) -> Response:
    """Unknown `/api/v5/...` paths: 404 in the v5 shape (before the v4 catch-all could claim them)."""
    raise NotFound("Path not found", code="NOT_FOUND")
