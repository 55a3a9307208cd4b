"""`ServerlessLifecycle`: applies the lifecycle policy (lifecycle_policy.py) on each alarm check.

It runs as one of the alarm checker's `extra_checks`, after the checker has read each running
deployment's stats: a Serverless tenant with live connections then is active, and its
`serverless_activity.last_active_at` moves to now (no broker round trip of its own). It then stops, or
deletes, what the policy says is due, through the deployments use cases (`service.stop_deployment`,
`service.delete_deployment`, then a reconcile) with an audit entry whose actor is the system, and
returns the lifecycle alarms that hold (warnings before each step), which the checker raises, clears,
publishes on `$SYS` and POSTs to the webhook like any other.

Rules: a deployment with no `serverless_activity` row starts its idle clock at its creation; starting a
deployment the policy stopped restarts the clock; while its owner keeps it stopped the clock waits.
"""

import asyncio
import datetime as dt
import json
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from mqttcloud.control.alarms.checker import AlarmChecker
from mqttcloud.control.alarms.conditions import Condition
from mqttcloud.control.audit import service as audit
from mqttcloud.control.audit.actor import ActorKind, Interface
from mqttcloud.control.db import Database
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deployments.models import Deployment, DeploymentType
from mqttcloud.control.errors import ApiError
from mqttcloud.control.serverless import lifecycle_policy as policy
from mqttcloud.control.serverless.lifecycle_policy import Activity, LifecycleSettings, Step
from mqttcloud.control.serverless.models import ServerlessActivity

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "serverless-lifecycle"


class ServerlessLifecycle:
    def __init__(
        self, runtime: BrokerRuntime, database: Database, settings: LifecycleSettings, *, audited: bool
    ) -> None:
        self.runtime = runtime
        self.database = database
        self.settings = settings
        self.audited = audited
        self._checker: AlarmChecker | None = None

    def attach(self, checker: AlarmChecker) -> None:
        """Run on each of `checker`'s checks, from its connection counts."""
        self._checker = checker
        checker.extra_checks.append(self.check)

    async def check(self) -> list[Condition]:
        """Record activity, take the due steps, return the lifecycle alarms that hold now."""
        if self.settings.stop_after is None:
            return []
        live = dict(self._checker.live_connections) if self._checker is not None else {}
        now = dt.datetime.now(dt.UTC)
        conditions, changed = await asyncio.to_thread(self._sweep, live, now)
        if changed:
            await self.runtime.reconcile()
        return conditions

    def _sweep(self, live: dict[str, int], now: dt.datetime) -> tuple[list[Condition], bool]:
        conditions: list[Condition] = []
        changed = False
        with self.database.session() as session:
            rows = {row.deployment_id: row for row in session.scalars(select(ServerlessActivity))}
            query = select(Deployment).where(Deployment.deployment_type == DeploymentType.SERVERLESS)
            for deployment in session.scalars(query).all():
                row = rows.get(deployment.id)
                if row is None:
                    row = ServerlessActivity(
                        deployment_id=deployment.id, last_active_at=deployment.created_at, stopped_at=None
                    )
                    session.add(row)
                _observe(row, deployment, live.get(deployment.id, 0), now)
                activity = Activity(
                    deployment.id, deployment.desired_running, row.last_active_at, row.stopped_at
                )
                step = policy.due(self.settings, activity, now)
                session.commit()
                if step is not None and self._take(session, deployment, row, step, now):
                    changed = True
                    if step is Step.DELETE:
                        continue
                    activity = Activity(deployment.id, False, row.last_active_at, row.stopped_at)
                conditions += policy.alarms(self.settings, activity, now)
        return conditions, changed

    def _take(
        self, session: Session, deployment: Deployment, row: ServerlessActivity, step: Step, now: dt.datetime
    ) -> bool:
        """Stop or delete through the deployments use case; False when it refused (tried again later)."""
        deployment_id = deployment.id
        idle = policy.format_duration(now - row.last_active_at)
        try:
            if step is Step.STOP:
                deployments.stop_deployment(session, deployment_id=deployment_id)
                row.stopped_at = now
                session.commit()
            else:
                session.expunge(row)  # its row goes with the deployment (ON DELETE CASCADE)
                deployments.delete_deployment(session, deployment_id=deployment_id)
        except ApiError as exc:
            session.rollback()
            log.info("serverless lifecycle: %s of %s not done now: %s", step.value, deployment_id, exc)
            return False
        log.warning(
            "serverless lifecycle: %s %s, no client connected for %s", step.value, deployment_id, idle
        )
        if self.audited:
            self._audit(session, step, deployment_id, idle, now)
        return True

    def _audit(self, session: Session, step: Step, deployment_id: str, idle: str, now: dt.datetime) -> None:
        """One entry as the Platform API route would write it, with the system as the actor."""
        method, path = ("POST", "/stop") if step is Step.STOP else ("DELETE", "")
        summary = {"policy": "serverless lifecycle", "idle": idle}
        entry = audit.NewEntry(
            at=now,
            interface=Interface.SYSTEM.value,
            actor_kind=ActorKind.SYSTEM.value,
            actor_id=SYSTEM_ACTOR,
            authenticated=True,
            source_ip=None,
            method=method,
            action=f"{method} /public_api/v1/deployments/{{deployment_id}}{path}",
            target=f"deployment_id={deployment_id}",
            summary=json.dumps(summary),
            status=204 if step is Step.DELETE else 201,
            error_code=None,
        )
        audit.write_entries(session, [entry])


def _observe(row: ServerlessActivity, deployment: Deployment, connected: int, now: dt.datetime) -> None:
    """Move the idle clock from what the check saw."""
    if deployment.desired_running:
        if row.stopped_at is not None:  # started again since the policy stopped it
            row.stopped_at = None
            row.last_active_at = now
        if connected > 0:
            row.last_active_at = now
    elif row.stopped_at is None:  # stopped by its owner: the clock waits until it runs again
        row.last_active_at = now
