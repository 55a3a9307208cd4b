"""Data integration's use cases: the one place each read and write sequence on connectors, actions and
rules is written, for the v5 and v4 presenters and the console.

Each write runs `store.py` in a worker thread, commits, then pushes the deployment's rules (actions
resolved) to the running broker (`Target.write`), so a call returns once the broker runs them. Metrics
come from the running broker (`rule_metrics`); a stopped deployment has none (ServiceUnavailable).
"""

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.orm import Session

from mqttcloud import rulesql
from mqttcloud.contracts import ActionCounters, RuleMetricsResult
from mqttcloud.control.deployment_api import live
from mqttcloud.control.deployment_api.errors import ServiceUnavailable
from mqttcloud.control.deployment_api.integration import actions as items
from mqttcloud.control.deployment_api.integration import store, targets, testing
from mqttcloud.control.deployment_api.integration.models import ActionRow, ConnectorRow, RuleRow
from mqttcloud.control.deployment_api.integration.store import RuleChange
from mqttcloud.control.deployment_api.target import Live, Target

__all__ = ["RuleChange"]


def limits(target: Target) -> store.Limits:
    connectors, rules, actions = target.quotas.integration(serverless=target.deployment.serverless)
    return store.Limits(connectors, rules, actions, target.quotas.max_actions_per_rule)


# -- connectors and v4 resources ---------------------------------------------------------------------


async def connectors(target: Target, *, type_: str) -> list[ConnectorRow]:
    return await target.read(lambda s: store.connectors(s, deployment_id=target.deployment_id, type_=type_))


async def connector(target: Target, connector_id: str, *, what: str = "Connector") -> ConnectorRow:
    """Raises: NotFound."""
    return await target.read(
        lambda s: store.connector(s, deployment_id=target.deployment_id, connector_id=connector_id, what=what)
    )


async def create_connector(
    target: Target,
    *,
    type_: str,
    name: str | None,
    config: dict[str, object],
    enabled: bool,
    description: str,
) -> ConnectorRow:
    """A v5 connector (`name`) or a v4 resource (`name` None), its passwords stored sealed.

    Raises: BadRequest, Invalid (quota)."""
    sealed = targets.seal_secrets(config, target.runtime.secrets)
    return await target.write(
        lambda s: store.create_connector(
            s,
            deployment_id=target.deployment_id,
            type_=type_,
            name=name,
            config=sealed,
            enabled=enabled,
            description=description,
            limits=limits(target),
        )
    )


async def update_connector(
    target: Target, connector_id: str, *, config: dict[str, object], enabled: bool, description: str
) -> ConnectorRow:
    """A password sent as `targets.MASK` keeps the stored one; the others are stored sealed.

    Raises: NotFound."""
    sealed = targets.seal_secrets(config, target.runtime.secrets)

    def change(session: Session) -> ConnectorRow:
        current = store.connector(session, deployment_id=target.deployment_id, connector_id=connector_id)
        return store.update_connector(
            session,
            deployment_id=target.deployment_id,
            connector_id=connector_id,
            config=targets.keep_secret(sealed, current.config),
            enabled=enabled,
            description=description,
        )

    return await target.write(change)


async def delete_connector(target: Target, connector_id: str, *, what: str = "Connector") -> None:
    """Raises: NotFound, BadRequest (DEPENDENCY_EXISTS)."""
    await target.write(
        lambda s: store.delete_connector(
            s, deployment_id=target.deployment_id, connector_id=connector_id, what=what
        )
    )


# -- v5 actions --------------------------------------------------------------------------------------


async def actions(target: Target) -> list[ActionRow]:
    return await target.read(lambda s: store.actions_of(s, deployment_id=target.deployment_id))


async def action(target: Target, action_id: str) -> ActionRow:
    return await target.read(
        lambda s: store.action(s, deployment_id=target.deployment_id, action_id=action_id)
    )


async def create_action(
    target: Target,
    *,
    type_: str,
    name: str,
    connector_name: str,
    parameters: dict[str, object],
    enabled: bool,
    description: str,
) -> ActionRow:
    return await target.write(
        lambda s: store.create_action(
            s,
            deployment_id=target.deployment_id,
            type_=type_,
            name=name,
            connector_name=connector_name,
            parameters=parameters,
            enabled=enabled,
            description=description,
            limits=limits(target),
        )
    )


async def update_action(
    target: Target,
    action_id: str,
    *,
    connector_name: str,
    parameters: dict[str, object],
    enabled: bool,
    description: str,
) -> ActionRow:
    return await target.write(
        lambda s: store.update_action(
            s,
            deployment_id=target.deployment_id,
            action_id=action_id,
            connector_name=connector_name,
            parameters=parameters,
            enabled=enabled,
            description=description,
        )
    )


async def delete_action(target: Target, action_id: str) -> None:
    await target.write(
        lambda s: store.delete_action(s, deployment_id=target.deployment_id, action_id=action_id)
    )


# -- rules -------------------------------------------------------------------------------------------


async def rules(target: Target) -> list[RuleRow]:
    return await target.read(lambda s: store.rules(s, deployment_id=target.deployment_id))


async def rule(target: Target, rule_id: str) -> RuleRow:
    """Raises: NotFound."""
    return await target.read(lambda s: store.rule(s, deployment_id=target.deployment_id, rule_id=rule_id))


def v5_items(
    session: Session, deployment_id: str, raw: Sequence[str | dict[str, object]]
) -> list[items.Item]:
    """EMQX 5 rule `actions` checked against the deployment's actions. Raises: BadRequest."""
    return items.from_v5(raw, store.known_actions(session, deployment_id=deployment_id))


def v4_items(
    session: Session, deployment_id: str, raw: Sequence[tuple[str, dict[str, object]]]
) -> list[items.Item]:
    """EMQX 4 rule `actions` checked against the deployment's resources. Raises: BadRequest."""
    return items.from_v4(raw, store.resource_types(session, deployment_id=deployment_id))


async def create_v5_rule(
    target: Target, *, rule_id: str | None, change: RuleChange, raw_actions: Sequence[str | dict[str, object]]
) -> RuleRow:
    """Raises: BadRequest (bad SQL saying where, unknown action, ALREADY_EXISTS), Invalid (quota)."""

    def write(session: Session) -> RuleRow:
        chosen = v5_items(session, target.deployment_id, raw_actions)
        return store.create_rule(
            session,
            deployment_id=target.deployment_id,
            rule_id=rule_id,
            prefix="rule_",
            change=replace(change, actions=chosen),
            limits=limits(target),
        )

    return await target.write(write)


async def create_v4_rule(
    target: Target, *, change: RuleChange, raw_actions: Sequence[tuple[str, dict[str, object]]]
) -> RuleRow:
    """A rule `rule:<8 hex>`. Raises: BadRequest (bad SQL, unknown action or resource), Invalid (quota)."""

    def write(session: Session) -> RuleRow:
        chosen = v4_items(session, target.deployment_id, raw_actions)
        return store.create_rule(
            session,
            deployment_id=target.deployment_id,
            rule_id=None,
            prefix="rule:",
            change=replace(change, actions=chosen),
            limits=limits(target),
        )

    return await target.write(write)


async def update_rule(
    target: Target,
    rule_id: str,
    *,
    change: RuleChange,
    v5_actions: Sequence[str | dict[str, object]] | None = None,
    v4_actions: Sequence[tuple[str, dict[str, object]]] | None = None,
) -> RuleRow:
    """Change what is given (actions in either shape, or neither). Raises: NotFound, BadRequest, Invalid."""

    def write(session: Session) -> RuleRow:
        chosen = change
        if v5_actions is not None:
            chosen = replace(change, actions=v5_items(session, target.deployment_id, v5_actions))
        elif v4_actions is not None:
            chosen = replace(change, actions=v4_items(session, target.deployment_id, v4_actions))
        return store.update_rule(
            session, deployment_id=target.deployment_id, rule_id=rule_id, change=chosen, limits=limits(target)
        )

    return await target.write(write)


async def delete_rule(target: Target, rule_id: str) -> None:
    await target.write(lambda s: store.delete_rule(s, deployment_id=target.deployment_id, rule_id=rule_id))


def run_test(sql: str, context: dict[str, object], *, node: str, event_type: str | None = None) -> object:
    """Run SQL on a sample input without deploying it (see `testing.run`). Raises: BadRequest, NotMatch."""
    return testing.run(sql, context, node=node, event_type=event_type)


async def metrics(live_target: Live) -> RuleMetricsResult:
    """Every rule's and action's counters from the running broker. Raises: ServiceUnavailable."""
    client = live_target.broker()
    return await live.call(client.rule_metrics(live_target.tenant))


async def metrics_or_none(live_target: Live) -> RuleMetricsResult | None:
    """`metrics`, or None while the deployment or its broker is not running (presenters show zeros)."""
    try:
        return await metrics(live_target)
    except ServiceUnavailable:
        return None


NOT_RUNNING = "the deployment is not running"


def status(counters: Sequence[ActionCounters], *, enabled: bool, running: bool) -> tuple[str, str]:
    """A connector's or action's (status, reason): disconnected while disabled or not running, else the
    first of its counters that is not connected, else connected."""
    if not enabled:
        return "disconnected", "disabled"
    if not running:
        return "disconnected", NOT_RUNNING
    down = [c for c in counters if c.status != "connected"]
    return (down[0].status, down[0].status_reason) if down else ("connected", "")


def connector_status(
    row: ConnectorRow,
    actions: Sequence[ActionRow],
    rules: Sequence[RuleRow],
    metrics: RuleMetricsResult | None,
) -> tuple[str, str]:
    """A v5 connector's status (through its actions' counters) or a v4 resource's (through the counters
    of the rule items that name it), as `status` decides."""
    if metrics is None:
        return status([], enabled=row.enabled, running=False)
    names = [a.action_id for a in actions if a.connector == row.name and a.type == row.type]
    names += [str(i["id"]) for r in rules for i in r.actions if i.get("resource") == row.connector_id]
    counters = [metrics.actions[n] for n in names if n in metrics.actions]
    return status(counters, enabled=row.enabled, running=True)


def sources(sql: str) -> tuple[str, ...]:
    """A stored rule's FROM sources (its SQL parsed when it was written)."""
    try:
        return rulesql.parse(sql).sources
    except rulesql.SqlError:
        return ()
