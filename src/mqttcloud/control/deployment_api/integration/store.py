"""Connectors, actions and rules of a deployment: the rules on their fields, references and quotas.

Rules: a rule's SQL parses (`rulesql.parse`) before it is stored, and its actions name connectors and
actions that exist; a connector used by an action, a resource used by a rule, or an action used by a
rule cannot be deleted (400, as EMQX answers). Every create counts against `Quotas.integration` (422
QUOTA_EXCEEDED). `records` resolves the enabled rules into `RuleSpec`s for the broker, their passwords
still sealed: `open_passwords` opens them where broker specs are built (`deployments/lifecycle.py`), and
`seal_plain_passwords` seals, at start-up, passwords stored before sealing (see `control/at_rest.py`).
"""

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mqttcloud import rulesql
from mqttcloud.contracts import RuleSpec
from mqttcloud.contracts.rules import MqttAction, PgsqlAction, RedisAction
from mqttcloud.control.at_rest import SecretBox, SecretUnreadable, is_sealed
from mqttcloud.control.db import utcnow
from mqttcloud.control.deployment_api.integration import actions as items
from mqttcloud.control.deployment_api.integration import targets
from mqttcloud.control.deployment_api.integration.models import ActionRow, ConnectorRow, RuleRow
from mqttcloud.control.deployment_api.quotas import require_room
from mqttcloud.control.errors import BadRequest, NotFound

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    """The deployment's data-integration quotas (`Quotas.integration`)."""

    connectors: int
    rules: int
    actions: int
    actions_per_rule: int


def check_sql(sql: str) -> rulesql.Rule:
    """Raises: BadRequest (field `sql`) saying where and why the SQL does not parse."""
    try:
        return rulesql.parse(sql)
    except rulesql.SqlError as exc:
        raise BadRequest(
            f"SQL error at line {exc.line}, column {exc.column}: {exc.message}",
            code="BAD_REQUEST",
            field="sql",
        ) from None


def _count(session: Session, model: type[ConnectorRow | ActionRow | RuleRow], deployment_id: str) -> int:
    return int(
        session.scalar(select(func.count()).select_from(model).where(model.deployment_id == deployment_id))
        or 0
    )


def _new_id(prefix: str, taken: Callable[[str], bool]) -> str:
    while taken(candidate := f"{prefix}{secrets.token_hex(4)}"):
        pass
    return candidate


# -- connectors (v5 `http`, v4 `web_hook` resources) ------------------------------------------------


def connectors(session: Session, *, deployment_id: str, type_: str) -> list[ConnectorRow]:
    query = select(ConnectorRow).where(
        ConnectorRow.deployment_id == deployment_id, ConnectorRow.type == type_
    )
    return list(session.scalars(query.order_by(ConnectorRow.id)))


def find_connector(session: Session, *, deployment_id: str, connector_id: str) -> ConnectorRow | None:
    query = select(ConnectorRow).where(
        ConnectorRow.deployment_id == deployment_id, ConnectorRow.connector_id == connector_id
    )
    return session.scalars(query).first()


def connector(
    session: Session, *, deployment_id: str, connector_id: str, what: str = "Connector"
) -> ConnectorRow:
    """Raises: NotFound."""
    row = find_connector(session, deployment_id=deployment_id, connector_id=connector_id)
    if row is None:
        raise NotFound(f"{what} {connector_id} not found", code="NOT_FOUND")
    return row


def create_connector(
    session: Session,
    *,
    deployment_id: str,
    type_: str,
    name: str | None,
    config: dict[str, object],
    enabled: bool,
    description: str,
    limits: Limits,
) -> ConnectorRow:
    """A v5 connector (`name` given: id `<type>:<name>`) or a v4 resource (`name` None: `resource:<hex>`).

    Raises: BadRequest (ALREADY_EXISTS), Invalid (QUOTA_EXCEEDED)."""
    require_room(_count(session, ConnectorRow, deployment_id), 1, limits.connectors, "connectors")
    if name is None:
        connector_id = _new_id(
            "resource:",
            lambda c: find_connector(session, deployment_id=deployment_id, connector_id=c) is not None,
        )
        name = connector_id
    else:
        connector_id = f"{type_}:{name}"
        if find_connector(session, deployment_id=deployment_id, connector_id=connector_id) is not None:
            raise BadRequest(f"connector {connector_id} already exists", code="ALREADY_EXISTS", field="name")
    row = ConnectorRow(
        deployment_id=deployment_id,
        connector_id=connector_id,
        type=type_,
        name=name,
        config=config,
        enabled=enabled,
        description=description,
        created_at=utcnow(),
    )
    session.add(row)
    session.commit()
    return row


def update_connector(
    session: Session,
    *,
    deployment_id: str,
    connector_id: str,
    config: dict[str, object],
    enabled: bool,
    description: str,
) -> ConnectorRow:
    row = connector(session, deployment_id=deployment_id, connector_id=connector_id)
    row.config, row.enabled, row.description = config, enabled, description
    session.commit()
    return row


def delete_connector(
    session: Session, *, deployment_id: str, connector_id: str, what: str = "Connector"
) -> None:
    """Raises: NotFound; BadRequest (DEPENDENCY_EXISTS) while an action or a rule uses it."""
    row = connector(session, deployment_id=deployment_id, connector_id=connector_id, what=what)
    users = [
        a.action_id
        for a in actions_of(session, deployment_id=deployment_id)
        if f"{a.type}:{a.connector}" == connector_id
    ]
    users += [
        r.rule_id
        for r in rules(session, deployment_id=deployment_id)
        if connector_id in items.references(r.actions)
    ]
    if users:
        raise BadRequest(
            f"Cannot delete {what.lower()} {connector_id} while it is used by {', '.join(users)}",
            code="DEPENDENCY_EXISTS",
        )
    session.delete(row)
    session.commit()


# -- v5 actions --------------------------------------------------------------------------------------


def actions_of(session: Session, *, deployment_id: str) -> list[ActionRow]:
    return list(
        session.scalars(
            select(ActionRow).where(ActionRow.deployment_id == deployment_id).order_by(ActionRow.id)
        )
    )


def action(session: Session, *, deployment_id: str, action_id: str) -> ActionRow:
    """Raises: NotFound."""
    query = select(ActionRow).where(
        ActionRow.deployment_id == deployment_id, ActionRow.action_id == action_id
    )
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(f"Action {action_id} not found", code="NOT_FOUND")
    return row


def _check_connector(session: Session, deployment_id: str, type_: str, name: str) -> None:
    if find_connector(session, deployment_id=deployment_id, connector_id=f"{type_}:{name}") is None:
        raise BadRequest(f"connector {type_}:{name} not found", code="BAD_REQUEST", field="connector")


def create_action(
    session: Session,
    *,
    deployment_id: str,
    type_: str,
    name: str,
    connector_name: str,
    parameters: dict[str, object],
    enabled: bool,
    description: str,
    limits: Limits,
) -> ActionRow:
    """Raises: BadRequest (ALREADY_EXISTS, unknown connector), Invalid (QUOTA_EXCEEDED)."""
    action_id = f"{type_}:{name}"
    if session.scalars(
        select(ActionRow.id).where(ActionRow.deployment_id == deployment_id, ActionRow.action_id == action_id)
    ).first():
        raise BadRequest(f"action {action_id} already exists", code="ALREADY_EXISTS", field="name")
    require_room(_count(session, ActionRow, deployment_id), 1, limits.actions, "actions")
    _check_connector(session, deployment_id, type_, connector_name)
    row = ActionRow(
        deployment_id=deployment_id,
        action_id=action_id,
        type=type_,
        name=name,
        connector=connector_name,
        parameters=parameters,
        enabled=enabled,
        description=description,
        created_at=utcnow(),
    )
    session.add(row)
    session.commit()
    return row


def update_action(
    session: Session,
    *,
    deployment_id: str,
    action_id: str,
    connector_name: str,
    parameters: dict[str, object],
    enabled: bool,
    description: str,
) -> ActionRow:
    row = action(session, deployment_id=deployment_id, action_id=action_id)
    _check_connector(session, deployment_id, row.type, connector_name)
    row.connector, row.parameters, row.enabled, row.description = (
        connector_name,
        parameters,
        enabled,
        description,
    )
    session.commit()
    return row


def delete_action(session: Session, *, deployment_id: str, action_id: str) -> None:
    """Raises: NotFound; BadRequest (DEPENDENCY_EXISTS) while a rule uses it."""
    row = action(session, deployment_id=deployment_id, action_id=action_id)
    users = [
        r.rule_id
        for r in rules(session, deployment_id=deployment_id)
        if action_id in items.references(r.actions)
    ]
    if users:
        raise BadRequest(
            f"Cannot delete action {action_id} while active rules are defined for it: {', '.join(users)}",
            code="DEPENDENCY_EXISTS",
        )
    session.delete(row)
    session.commit()


def known_actions(session: Session, *, deployment_id: str) -> dict[str, bool]:
    """v5 action id -> enabled."""
    return {a.action_id: a.enabled for a in actions_of(session, deployment_id=deployment_id)}


def resource_types(session: Session, *, deployment_id: str) -> dict[str, str]:
    """Connector or resource id -> type."""
    rows = session.execute(
        select(ConnectorRow.connector_id, ConnectorRow.type).where(
            ConnectorRow.deployment_id == deployment_id
        )
    )
    return {row[0]: row[1] for row in rows}


# -- rules ------------------------------------------------------------------------------------------


def rules(session: Session, *, deployment_id: str) -> list[RuleRow]:
    return list(
        session.scalars(select(RuleRow).where(RuleRow.deployment_id == deployment_id).order_by(RuleRow.id))
    )


def find_rule(session: Session, *, deployment_id: str, rule_id: str) -> RuleRow | None:
    query = select(RuleRow).where(RuleRow.deployment_id == deployment_id, RuleRow.rule_id == rule_id)
    return session.scalars(query).first()


def rule(session: Session, *, deployment_id: str, rule_id: str) -> RuleRow:
    """Raises: NotFound."""
    row = find_rule(session, deployment_id=deployment_id, rule_id=rule_id)
    if row is None:
        raise NotFound(f"Rule {rule_id} not found", code="NOT_FOUND")
    return row


@dataclass(frozen=True, slots=True)
class RuleChange:
    """What a create or update sets; None keeps the current value (create: the default)."""

    sql: str | None = None
    actions: Sequence[items.Item] | None = None
    name: str | None = None
    enabled: bool | None = None
    description: str | None = None


def create_rule(
    session: Session,
    *,
    deployment_id: str,
    rule_id: str | None,
    prefix: str,
    change: RuleChange,
    limits: Limits,
) -> RuleRow:
    """`rule_id` None: `<prefix><8 hex>`. Raises: BadRequest (bad SQL, ALREADY_EXISTS), Invalid (quota)."""
    if change.sql is None:
        raise BadRequest("sql is required", code="BAD_REQUEST", field="sql")
    check_sql(change.sql)
    chosen = change.actions or []
    require_room(0, len(chosen), limits.actions_per_rule, "actions per rule", field="actions")
    if rule_id is not None and find_rule(session, deployment_id=deployment_id, rule_id=rule_id) is not None:
        raise BadRequest("rule id already exists", code="ALREADY_EXISTS", field="id")
    require_room(_count(session, RuleRow, deployment_id), 1, limits.rules, "rules")
    new_id = rule_id or _new_id(
        prefix, lambda c: find_rule(session, deployment_id=deployment_id, rule_id=c) is not None
    )
    now = utcnow()
    row = RuleRow(
        deployment_id=deployment_id,
        rule_id=new_id,
        name=change.name or "",
        sql=change.sql,
        actions=list(chosen),
        enabled=True if change.enabled is None else change.enabled,
        description=change.description or "",
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.commit()
    return row


def update_rule(
    session: Session, *, deployment_id: str, rule_id: str, change: RuleChange, limits: Limits
) -> RuleRow:
    """Raises: NotFound, BadRequest (bad SQL), Invalid (too many actions)."""
    row = rule(session, deployment_id=deployment_id, rule_id=rule_id)
    if change.sql is not None:
        check_sql(change.sql)
        row.sql = change.sql
    if change.actions is not None:
        require_room(0, len(change.actions), limits.actions_per_rule, "actions per rule", field="actions")
        row.actions = list(change.actions)
    if change.name is not None:
        row.name = change.name
    if change.enabled is not None:
        row.enabled = change.enabled
    if change.description is not None:
        row.description = change.description
    row.updated_at = utcnow()
    session.commit()
    return row


def delete_rule(session: Session, *, deployment_id: str, rule_id: str) -> None:
    """Raises: NotFound."""
    session.delete(rule(session, deployment_id=deployment_id, rule_id=rule_id))
    session.commit()


def records(session: Session, *, deployment_id: str) -> list[RuleSpec]:
    """Every enabled rule as the broker runs it (`TenantSpec.rules`), its actions resolved."""
    enabled_rules = [r for r in rules(session, deployment_id=deployment_id) if r.enabled]
    if not enabled_rules:
        return []
    all_connectors = {
        c.connector_id: c
        for c in session.scalars(select(ConnectorRow).where(ConnectorRow.deployment_id == deployment_id))
    }
    resolved_actions: dict[str, tuple[Mapping[str, object], Mapping[str, object]]] = {}
    for row in actions_of(session, deployment_id=deployment_id):
        conn = all_connectors.get(f"{row.type}:{row.connector}")
        if row.enabled and conn is not None and conn.enabled:
            resolved_actions[row.action_id] = (conn.config, row.parameters)
    v4_types = {"web_hook", *targets.V4_RESOURCES}
    resources = {cid: c.config for cid, c in all_connectors.items() if c.type in v4_types and c.enabled}
    return [
        RuleSpec(id=r.rule_id, sql=r.sql, actions=items.resolve(r.actions, resolved_actions, resources))
        for r in enabled_rules
    ]


def open_passwords(rules: Sequence[RuleSpec], box: SecretBox) -> list[RuleSpec]:
    """`rules` with their actions' sealed passwords opened, for the broker spec. A password sealed with
    another data key is logged and left empty: that action fails to log in, the rest runs."""
    opened = []
    for rule in rules:
        actions = list(rule.actions)
        for i, action in enumerate(actions):
            if isinstance(action, PgsqlAction | RedisAction | MqttAction) and is_sealed(action.password):
                try:
                    password = box.open(action.password)
                except SecretUnreadable:
                    logger.error(
                        "action %s of rule %s: its stored password was sealed with another data key",
                        action.name,
                        rule.id,
                    )
                    password = ""
                actions[i] = action.model_copy(update={"password": password})
        opened.append(rule.model_copy(update={"actions": actions}) if actions != rule.actions else rule)
    return opened


def seal_plain_passwords(session: Session, *, box: SecretBox) -> int:
    """Seal the connector passwords stored in plain text (before sealing existed); returns how many
    connectors changed."""
    changed = 0
    for row in session.scalars(select(ConnectorRow)):
        sealed = targets.seal_stored(row.config, box)
        if sealed is not None:
            row.config = sealed
            changed += 1
    session.commit()
    return changed
