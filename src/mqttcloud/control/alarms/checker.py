"""The platform's alarm checker: every `interval` seconds it gathers facts, raises and clears alarms.

Facts: deployments and certificates (database), each running broker's stats (connections, retained
messages) and memory (its process's RSS), users and ACL entries against the plan's quotas, restarts
seen by the supervisor (a `BrokerRuntime` status listener), whether the database answers, and whether
NATS answers when the platform uses one (`MQTTCLOUD_NATS_URL` set, or a running deployment has more
than one node). Which of
them alarm is decided by `conditions.py`; rows are written by `store.py`. Each raised or cleared alarm
is then published by the broker concerned on `$SYS/brokers/<node>/alarms/activate|deactivate`, and
POSTed to `MQTTCLOUD_ALARM_WEBHOOK` when one is set.

Rules: database work runs in a worker thread; a failing fact source (a broker that does not answer, a
webhook down) is logged and skipped, never ends the loop. The database alarm cannot be stored while the
database is gone: it is kept in memory (`platform_alarms`) and notified, and stored once it clears.
`extra_checks` is the hook for checks other parts add (the Serverless lifecycle).
"""

import asyncio
import base64
import contextlib
import datetime as dt
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

import httpx
from sqlalchemy import select, text

from mqttcloud.contracts import Limits, PublishArgs, TenantId
from mqttcloud.control.alarms import conditions, store
from mqttcloud.control.alarms.conditions import Condition
from mqttcloud.control.alarms.models import AlarmRow
from mqttcloud.control.alarms.settings import AlarmSettings
from mqttcloud.control.broker_client import BrokerError, BrokerUnavailable
from mqttcloud.control.certificates.models import Certificate
from mqttcloud.control.db import Database
from mqttcloud.control.deployment_api.access import access_spec
from mqttcloud.control.deployment_api.quotas import Quotas
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deployments.models import Deployment, DeploymentStatus
from mqttcloud.control.deployments.spec_builder import SERVERLESS_LIMITS
from mqttcloud.control.serverless.plans import apply_overrides
from mqttcloud.control.supervisor import BrokerStatus
from mqttcloud.control.supervisor import nats as nats_probe

log = logging.getLogger(__name__)

ExtraCheck = Callable[[], Awaitable[list[Condition]]]


def node_of(deployment_id: str | None, *, serverless: bool) -> str:
    """The node name of a deployment's broker (`spec_builder`), or the platform's."""
    if deployment_id is None:
        return "mqttcloud@platform"
    return "emqx@serverless" if serverless else f"emqx@{deployment_id}"


def _rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class AlarmChecker:
    """Runs the checks on a timer while entered (`async with`); `check()` runs them once."""

    def __init__(
        self,
        runtime: BrokerRuntime,
        database: Database,
        settings: AlarmSettings,
        quotas: Callable[[], Quotas],
    ) -> None:
        self.runtime = runtime
        self.database = database
        self.settings = settings
        self.quotas = quotas
        self.extra_checks: list[ExtraCheck] = []
        self.platform_alarms: dict[str, Condition] = {}  # raised while the database was unreachable
        # Live connections of each running deployment whose broker answered, as of the current check:
        # what `extra_checks` (the Serverless lifecycle) read instead of asking the brokers again.
        self.live_connections: dict[str, int] = {}
        self._restarts: dict[str, deque[float]] = {}
        self._last_status: dict[str, BrokerStatus] = {}
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None

    # ------------------------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> "AlarmChecker":
        self.runtime.status_listeners.append(self.on_status)
        self._http = httpx.AsyncClient(timeout=5.0)
        self._task = asyncio.create_task(self._loop(), name="alarm-checker")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.on_status in self.runtime.status_listeners:
            self.runtime.status_listeners.remove(self.on_status)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http is not None:
            await self._http.aclose()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.interval)
            try:
                await self.check()
            except Exception:
                log.exception("alarm check failed")

    def on_status(self, broker_id: str, status: BrokerStatus) -> None:
        """A broker started again after it ran (a crash or a restart): one restart."""
        previous = self._last_status.get(broker_id)
        self._last_status[broker_id] = status
        if status is BrokerStatus.STARTING and previous in {BrokerStatus.RUNNING, BrokerStatus.STARTING}:
            self._restarts.setdefault(broker_id, deque(maxlen=100)).append(time.monotonic())

    def _recent_restarts(self, broker_id: str) -> int:
        times = self._restarts.get(broker_id)
        if not times:
            return 0
        horizon = time.monotonic() - self.settings.restart_window
        while times and times[0] < horizon:
            times.popleft()
        return len(times)

    # ---------------------------------------------------------------------------------------- check

    async def check(self) -> tuple[list[AlarmRow], list[AlarmRow]]:
        """Gather facts, raise and clear alarms, notify; returns the rows (raised, cleared)."""
        try:
            rows, certs, contents = await asyncio.to_thread(self._read)
        except Exception as exc:  # the database is gone: nothing else can be stored either
            await self._database_down(str(exc))
            return [], []
        self.live_connections = {}
        observed = await self._observe(rows, certs, contents)
        observed += await self._nats(rows)
        for extra in self.extra_checks:
            try:
                observed += await extra()
            except Exception:
                log.exception("alarm check %r failed", extra)
        down = self.platform_alarms.pop(conditions.DATABASE_UNREACHABLE, None)
        now = dt.datetime.now(dt.UTC)
        raised, cleared = await asyncio.to_thread(self._write, observed, now, down)
        serverless = {d.id: d.deployment_type.is_serverless for d in rows}
        for row in raised:
            await self._notify(row, "activate", serverless.get(row.deployment_id or "", False))
        for row in cleared:
            await self._notify(row, "deactivate", serverless.get(row.deployment_id or "", False))
        return raised, cleared

    def _read(self) -> tuple[list[Deployment], dict[str, Certificate], dict[str, tuple[int, int]]]:
        with self.database.session() as session:
            session.execute(text("SELECT 1"))
            rows = list(session.query(Deployment))
            certs = {c.deployment_id: c for c in session.query(Certificate)}
            contents = {}
            for deployment in rows:
                content = access_spec(session, deployment.id)
                contents[deployment.id] = (len(content.users), len(content.acl))
            return rows, certs, contents

    def _write(
        self, observed: list[Condition], now: dt.datetime, down: Condition | None
    ) -> tuple[list[AlarmRow], list[AlarmRow]]:
        with self.database.session() as session:
            existing = set(session.scalars(select(Deployment.id)))  # some may be deleted since `_read`
            observed = [c for c in observed if c.deployment_id is None or c.deployment_id in existing]
            active = store.active(session)
            raised, cleared = conditions.diff(active, observed)
            if down is not None:  # the outage is over: keep its record, raised and cleared now
                raised.append(down)
                cleared.append(down.key)
            new, closed = store.apply(session, raised=raised, cleared=cleared, now=now)
            for row in (*new, *closed):
                session.refresh(row)
                session.expunge(row)
            return new, closed

    async def _observe(
        self, rows: list[Deployment], certs: dict[str, Certificate], contents: dict[str, tuple[int, int]]
    ) -> list[Condition]:
        settings = self.settings
        quotas = self.quotas()
        now = dt.datetime.now(dt.UTC)
        found: list[Condition | None] = []
        for deployment in rows:
            did, serverless = deployment.id, deployment.deployment_type.is_serverless
            cert = certs.get(did)
            if cert is not None:
                found.append(conditions.certificate(did, cert.expire_at, now, settings.cert_days))
            if deployment.desired_running and deployment.status is DeploymentStatus.FAILED:
                found.append(
                    Condition(did, conditions.DEPLOYMENT_FAILED, deployment.status_message or "broker failed")
                )
            broker_id = deployments.SERVERLESS_BROKER_ID if serverless else did
            found.append(
                conditions.restart_loop(
                    did, self._recent_restarts(broker_id), settings.restart_window, settings.restart_loop
                )
            )
            users, acl = contents.get(did, (0, 0))
            found.append(
                conditions.quota(
                    did,
                    "users",
                    users,
                    quotas.auth_entries(serverless=serverless, connections=deployment.connections),
                    settings.quota_percent,
                )
            )
            found.append(
                conditions.quota(
                    did,
                    "acl_entries",
                    acl,
                    quotas.acl_entries(serverless=serverless, connections=deployment.connections),
                    settings.quota_percent,
                )
            )
            if deployment.desired_running:
                found += await self._live(deployment, broker_id)
        return [c for c in found if c is not None]

    async def _live(self, deployment: Deployment, broker_id: str) -> list[Condition | None]:
        """Conditions read from the deployment's running broker (none when it does not run)."""
        supervisor = self.runtime.supervisor
        client = supervisor.client(broker_id) if supervisor is not None else None
        if client is None:
            return []
        found: list[Condition | None] = []
        try:
            stats = (await client.stats(TenantId(deployment.id))).values
            self.live_connections[deployment.id] = stats.get("live_connections.count", 0)
        except (BrokerError, BrokerUnavailable) as exc:
            log.info("alarm check: no stats from %s: %s", deployment.id, exc)
            stats = {}
        percent = self.settings.quota_percent
        found.append(
            conditions.quota(
                deployment.id,
                "connections",
                stats.get("connections.count", 0),
                deployment.connections,
                percent,
            )
        )
        retained_max = self._retained_limit(deployment)
        found.append(
            conditions.quota(
                deployment.id, "retained_messages", stats.get("retained.count", 0), retained_max, percent
            )
        )
        ready = supervisor.ready(broker_id) if supervisor is not None else None
        rss = _rss(ready.pid) if ready is not None else None
        if rss is not None:
            found.append(conditions.memory(deployment.id, rss, self.settings.broker_memory_mb))
        return found

    async def _nats(self, rows: list[Deployment]) -> list[Condition]:
        """NATS, when the platform uses one: a given URL, or the local server of multi-node deployments."""
        multi_node = any(d.desired_running and d.nodes > 1 for d in rows)
        if self.runtime.settings.nats_url is None and not multi_node:
            return []
        url = self.runtime.nats.address
        condition = conditions.nats(url, await nats_probe.probe(url))
        return [] if condition is None else [condition]

    def _retained_limit(self, deployment: Deployment) -> int:
        """The plan's retained-message limit (0: unlimited), as `spec_builder` gives it to the broker."""
        if not deployment.deployment_type.is_serverless:
            return Limits().max_retained
        return apply_overrides(SERVERLESS_LIMITS, self.runtime.settings.serverless_limits).max_retained

    async def _database_down(self, reason: str) -> None:
        if conditions.DATABASE_UNREACHABLE in self.platform_alarms:
            return
        condition = Condition(
            None,
            conditions.DATABASE_UNREACHABLE,
            "the platform database does not answer",
            {"error": reason[:500]},
        )
        self.platform_alarms[condition.name] = condition
        now = dt.datetime.now(dt.UTC)
        row = AlarmRow(
            deployment_id=None,
            name=condition.name,
            message=condition.message,
            details=dict(condition.details),
            activated_at=now,
            deactivated_at=None,
        )
        await self._notify(row, "activate", serverless=False)

    # --------------------------------------------------------------------------------------- notify

    async def _notify(self, row: AlarmRow, event: str, serverless: bool) -> None:
        node = node_of(row.deployment_id, serverless=serverless)
        body = store.as_dict(row, node=node, now=dt.datetime.now(dt.UTC))
        log.warning("alarm %s: %s %s (%s)", event, row.deployment_id or "platform", row.name, row.message)
        if row.deployment_id is not None:
            await self._publish_sys(row.deployment_id, node, event, body, serverless)
        if self.settings.webhook and self._http is not None:
            try:
                response = await self._http.post(
                    self.settings.webhook, json={"event": f"alarm.{event}", **body}
                )
                response.raise_for_status()
            except httpx.HTTPError as exc:
                log.warning("alarm webhook %s failed: %s", self.settings.webhook, exc)

    async def _publish_sys(
        self, deployment_id: str, node: str, event: str, body: dict[str, object], serverless: bool
    ) -> None:
        supervisor = self.runtime.supervisor
        broker_id = deployments.SERVERLESS_BROKER_ID if serverless else deployment_id
        client = supervisor.client(broker_id) if supervisor is not None else None
        if client is None:
            return
        payload = base64.b64encode(json.dumps(body).encode()).decode("ascii")
        args = PublishArgs(
            tenant=TenantId(deployment_id), topic=f"$SYS/brokers/{node}/alarms/{event}", payload_b64=payload
        )
        try:
            await client.publish(args)
        except (BrokerError, BrokerUnavailable) as exc:
            log.info("alarm %s not published on %s: %s", event, deployment_id, exc)
