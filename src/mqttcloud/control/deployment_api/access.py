"""What the broker must enforce for each deployment, read from this package's tables.

`tenant_contents(session)` is the one function the control plane calls when it builds broker specs
(`deployments/lifecycle.py`): users, ACL rules, active bans and data-integration rules per deployment id.
"""

import datetime as dt

from sqlalchemy.orm import Session

from mqttcloud.control.deployment_api.acl import store as acl
from mqttcloud.control.deployment_api.authn import store as authn
from mqttcloud.control.deployment_api.banned import store as banned
from mqttcloud.control.deployment_api.integration import store as integration
from mqttcloud.control.deployment_api.topic_metrics import store as topic_metrics
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.spec_builder import TenantContent
from mqttcloud.control.trace import store as traces


def access_spec(session: Session, deployment_id: str, *, now: dt.datetime | None = None) -> TenantContent:
    """Users, ACL rules, active bans and rules (actions resolved) of one deployment."""
    moment = now or dt.datetime.now(dt.UTC)
    return TenantContent(
        users=authn.records(session, deployment_id=deployment_id),
        acl=acl.records(session, deployment_id=deployment_id),
        banned=banned.records(session, deployment_id=deployment_id, now=moment),
        rules=integration.records(session, deployment_id=deployment_id),
        traces=traces.records(session, deployment_id=deployment_id),
        topic_metrics=topic_metrics.records(session, deployment_id=deployment_id),
    )


def tenant_contents(session: Session) -> dict[str, TenantContent]:
    """`access_spec` of every deployment, by deployment id."""
    now = dt.datetime.now(dt.UTC)
    return {d.id: access_spec(session, d.id, now=now) for d in deployments.desired_deployments(session)}
