"""A deployment's plan usage: what it uses against each quota of its plan, Serverless or Dedicated.

Quotas come from where they are enforced, never from a copy: connections and sessions from the
deployment's `connections` (the broker's `max_connections`, the session tier), users and ACL rules from
`deployment_api.quotas` (via `Target`), connectors, rules and actions from `Quotas.integration`, shadow
models from `Quotas.max_shadows`, retained messages from the `Limits` the broker is given (Serverless:
with the operator's overrides), the message rate from the deployment's `tps`. Use is counted in the
database for stored objects, asked from the running broker for connections, sessions and retained
messages, and read from the newest monitoring sample for the message rate.

Rule: a number that cannot be known now (the deployment is not running, no fresh sample) is shown as
unknown, never as 0.
"""

import time
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from mqttcloud.contracts import Limits
from mqttcloud.control.config import Settings
from mqttcloud.control.console.pages import PREFIX, ConsoleRoute, run
from mqttcloud.control.console.sections import SectionDep, render_section
from mqttcloud.control.deployment_api import live
from mqttcloud.control.deployment_api.acl import store as acl
from mqttcloud.control.deployment_api.authn import store as authn
from mqttcloud.control.deployment_api.integration import store as integration
from mqttcloud.control.deployment_api.shadows import service as shadows
from mqttcloud.control.deployment_api.target import Target
from mqttcloud.control.deployments.spec_builder import SERVERLESS_LIMITS
from mqttcloud.control.errors import ApiError
from mqttcloud.control.monitoring import service as monitoring
from mqttcloud.control.serverless.plans import apply_overrides

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

WARN_PERCENT = 80  # a row at or above this share of its quota is highlighted


@dataclass(frozen=True, slots=True)
class Usage:
    """One quota of the plan and what the deployment uses of it."""

    key: str  # element id suffix: usage-<key>
    label: str  # a message id (translated by the template)
    used: int | None  # None: unknown now
    limit: int  # 0: unlimited

    @property
    def percent(self) -> int | None:
        if self.used is None or self.limit <= 0:
            return None
        return min(100, round(100 * self.used / self.limit))

    @property
    def is_high(self) -> bool:
        return self.percent is not None and self.percent >= WARN_PERCENT


@dataclass(frozen=True, slots=True)
class _Stored:
    users: int
    acl: int
    connectors: int
    rules: int
    actions: int
    shadows: int
    received_rate: float | None  # messages in per second, from the newest fresh sample


def _stored(session: Session, deployment_id: str, finest: int) -> _Stored:
    point = monitoring.current(session, deployment_id=deployment_id, now=time.time(), finest=finest)
    _rows, shadow_count = shadows.page(session, deployment_id=deployment_id, page=1, limit=1)
    return _Stored(
        users=authn.count(session, deployment_id=deployment_id),
        acl=acl.count(session, deployment_id=deployment_id),
        connectors=len(integration.resource_types(session, deployment_id=deployment_id)),
        rules=len(integration.rules(session, deployment_id=deployment_id)),
        actions=len(integration.actions_of(session, deployment_id=deployment_id)),
        shadows=shadow_count,
        received_rate=None if point is None else point.rates.get("received"),
    )


async def _live_counts(target: Target) -> dict[str, int] | None:
    """The broker's counters (summed over the nodes), or None when it does not answer."""
    try:
        stats = await live.call(target.broker().stats(target.tenant))
    except ApiError:
        return None
    return stats.values


def _retained_limit(settings: Settings, *, serverless: bool) -> int:
    """The retained-message limit the broker is given (0: unlimited), as `spec_builder` builds it."""
    if not serverless:
        return Limits().max_retained
    return apply_overrides(SERVERLESS_LIMITS, settings.serverless_limits).max_retained


def usage_rows(
    target: Target, stored: _Stored, counts: dict[str, int] | None, *, retained: int, tps: int
) -> list[Usage]:
    """Every quota row of the deployment's plan, in the order the page shows them."""
    serverless = target.deployment.serverless
    connections = target.deployment.connections
    connectors, rules, actions = target.quotas.integration(serverless=serverless)

    def live_count(name: str) -> int | None:
        return None if counts is None else int(counts.get(name, 0))

    rate = None if stored.received_rate is None else round(stored.received_rate)
    rows = [
        Usage("connections", "Connections", live_count("connections.count"), connections),
        Usage("sessions", "Sessions", live_count("sessions.count"), connections),
        Usage("message-rate", "Messages in per second", rate, tps),
        Usage("retained", "Retained messages", live_count("retained.count"), retained),
        Usage("users", "Authentication users", stored.users, target.auth_entries()),
        Usage("acl", "ACL rules", stored.acl, target.acl_entries()),
        Usage("connectors", "Connectors", stored.connectors, connectors),
        Usage("rules", "Rules", stored.rules, rules),
        Usage("actions", "Actions (data integration)", stored.actions, actions),
    ]
    if not serverless:
        rows.append(Usage("shadows", "Shadow models", stored.shadows, target.quotas.max_shadows))
    return rows


@router.get("/deployments/{deployment_id}/usage", response_class=HTMLResponse)
async def usage_page(deployment_id: str, section: SectionDep) -> Response:
    page = section.page
    view = await section.view(deployment_id)
    target = section.target(view)
    stored = await run(_stored, section.session, deployment_id, page.state.settings.monitor_interval)
    counts = await _live_counts(target)
    serverless = view.deployment.deployment_type.is_serverless
    rows = usage_rows(
        target,
        stored,
        counts,
        retained=_retained_limit(page.state.settings, serverless=serverless),
        tps=view.deployment.tps,
    )
    return render_section(page, view, "usage.html", tab="usage", rows=rows, live=counts is not None)
