"""Built-in authorization rules (v5 `authorization/sources/built_in_database/rules`, v4 `/acl`).

A rule belongs to a target: a client id, a username, or everyone ("all", v4 `$all`). The broker gets
them (`records`) ordered username rules, client-id rules, then rules for all, each in the order written:
EMQX's built-in database evaluates them the same way, first match wins.
Action names: requests may say `pub`/`sub`/`pubsub` (docs, v4) or `publish`/`subscribe`/`all` (EMQX 5);
they are stored as the latter. A topic is a valid MQTT topic filter (`protocol.topics`), after an `eq `
prefix if any; `${username}`/`${clientid}` (`%u`/`%c`) placeholders fill whole levels or parts of them.
The order within one target is the order written (v5 PUT) or appended, and `move_rule` changes it.
Two ways to add one rule: v4's `add_rule` replaces a rule for the same target and topic; the console's
`append_rule` keeps every rule (allow publish and deny subscribe on one topic are two rules) and refuses
only an exact duplicate.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from mqttcloud.contracts import AclAction, AclPermission, AclRule
from mqttcloud.control.deployment_api.acl.models import AclRuleRow
from mqttcloud.control.deployment_api.quotas import require_room
from mqttcloud.control.errors import BadRequest, Conflict, NotFound
from mqttcloud.protocol.errors import ProtocolError
from mqttcloud.protocol.topics import validate_topic_filter

TargetKind = Literal["clientid", "username", "all"]
_ACTIONS = {
    "pub": AclAction.PUBLISH,
    "publish": AclAction.PUBLISH,
    "sub": AclAction.SUBSCRIBE,
    "subscribe": AclAction.SUBSCRIBE,
    "pubsub": AclAction.ALL,
    "subpub": AclAction.ALL,  # misspelling in older v4 docs
    "all": AclAction.ALL,
}
_KIND_ORDER = {"username": 0, "clientid": 1, "all": 2}


@dataclass(frozen=True, slots=True)
class Rule:
    topic: str
    action: AclAction
    permission: AclPermission


def check_topic(topic: str) -> None:
    """Raises: BadRequest (field `topic`) unless `topic` is 1-1024 characters and a valid topic filter
    (`a/#/b`, `a/b#` and `a/+b/c` are not), possibly after `eq `."""
    if not topic or len(topic) > 1024:
        raise BadRequest("topic must be 1-1024 characters", code="BAD_REQUEST", field="topic")
    try:
        validate_topic_filter(topic.removeprefix("eq "))
    except ProtocolError as error:
        raise BadRequest(
            f"topic {topic!r} is not a valid topic filter: {error}", code="BAD_REQUEST", field="topic"
        ) from None


def parse_rule(topic: str, action: str, permission: str) -> Rule:
    """Raises: BadRequest for an empty, long or invalid topic filter, an unknown action or permission
    (each names its field)."""
    check_topic(topic)
    chosen = _ACTIONS.get(action.lower())
    if chosen is None:
        raise BadRequest(
            f"bad rule: action {action!r} (pub, sub, pubsub, publish, subscribe, all)",
            code="BAD_REQUEST",
            field="action",
        )
    try:
        return Rule(topic, chosen, AclPermission(permission.lower()))
    except ValueError:
        raise BadRequest(
            f"bad rule: permission {permission!r} (allow, deny)", code="BAD_REQUEST", field="permission"
        ) from None


def check_target(kind: TargetKind, target: str) -> None:
    """Raises: BadRequest unless a username or client-id rule names its 1-255 character target."""
    if kind != "all" and (not target or len(target) > 255):
        raise BadRequest(f"{kind} must be 1-255 characters", code="BAD_REQUEST", field="target")


def _where(deployment_id: str, kind: TargetKind, target: str | None = None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        AclRuleRow.deployment_id == deployment_id,
        AclRuleRow.target_kind == kind,
    ]
    if target is not None:
        where.append(AclRuleRow.target == target)
    return where


def _row(deployment_id: str, kind: TargetKind, target: str, rule: Rule, position: int) -> AclRuleRow:
    return AclRuleRow(
        deployment_id=deployment_id,
        target_kind=kind,
        target=target,
        topic=rule.topic,
        action=rule.action.value,
        permission=rule.permission.value,
        position=position,
    )


def count(session: Session, *, deployment_id: str) -> int:
    query = select(func.count()).select_from(AclRuleRow).where(AclRuleRow.deployment_id == deployment_id)
    return int(session.scalar(query) or 0)


def rules_of(session: Session, *, deployment_id: str, kind: TargetKind, target: str) -> list[AclRuleRow]:
    query = select(AclRuleRow).where(*_where(deployment_id, kind, target))
    return list(session.scalars(query.order_by(AclRuleRow.position, AclRuleRow.id)))


def set_rules(
    session: Session,
    *,
    deployment_id: str,
    kind: TargetKind,
    target: str,
    rules: Sequence[Rule],
    max_entries: int,
    max_per_target: int,
) -> None:
    """Replace every rule of one target (v5 POST/PUT). Raises: Invalid (`QUOTA_EXCEEDED`, bad target)."""
    check_target(kind, target)
    existing = rules_of(session, deployment_id=deployment_id, kind=kind, target=target)
    require_room(
        count(session, deployment_id=deployment_id) - len(existing), len(rules), max_entries, "ACL entries"
    )
    require_room(0, len(rules), max_per_target, f"rules for one {kind}")
    for row in existing:
        session.delete(row)
    session.flush()
    session.add_all(_row(deployment_id, kind, target, rule, position) for position, rule in enumerate(rules))
    session.commit()


def add_rule(
    session: Session,
    *,
    deployment_id: str,
    kind: TargetKind,
    target: str,
    rule: Rule,
    max_entries: int,
    max_per_target: int,
) -> None:
    """Add one rule (v4 POST /acl); a rule for the same target and topic is replaced, as EMQX 4 does."""
    check_target(kind, target)
    existing = rules_of(session, deployment_id=deployment_id, kind=kind, target=target)
    same = [row for row in existing if row.topic == rule.topic]
    if not same:
        require_room(count(session, deployment_id=deployment_id), 1, max_entries, "ACL entries")
        require_room(len(existing), 1, max_per_target, f"rules for one {kind}")
        position = max((row.position for row in existing), default=-1) + 1
        session.add(_row(deployment_id, kind, target, rule, position))
    else:
        same[0].action, same[0].permission = rule.action.value, rule.permission.value
    session.commit()


def append_rule(
    session: Session,
    *,
    deployment_id: str,
    kind: TargetKind,
    target: str,
    rule: Rule,
    max_entries: int,
    max_per_target: int,
) -> None:
    """Add one rule after the target's others (the console): a rule for the same topic with another
    action or permission is kept. Raises: Conflict (`ALREADY_EXISTS`, field `topic`) for the same rule
    twice, Invalid (`QUOTA_EXCEEDED`, bad target)."""
    check_target(kind, target)
    existing = rules_of(session, deployment_id=deployment_id, kind=kind, target=target)
    if any(
        (row.topic, row.action, row.permission) == (rule.topic, rule.action.value, rule.permission.value)
        for row in existing
    ):
        raise Conflict("this rule exists already", code="ALREADY_EXISTS", field="topic")
    require_room(count(session, deployment_id=deployment_id), 1, max_entries, "ACL entries")
    require_room(len(existing), 1, max_per_target, f"rules for one {kind}")
    position = max((row.position for row in existing), default=-1) + 1
    session.add(_row(deployment_id, kind, target, rule, position))
    session.commit()


def get_rule(session: Session, *, deployment_id: str, rule_id: int) -> AclRuleRow:
    """One rule by its row id. Raises: NotFound (also for another deployment's rule)."""
    row = session.get(AclRuleRow, rule_id)
    if row is None or row.deployment_id != deployment_id:
        raise NotFound("ACL rule not found", code="NOT_FOUND")
    return row


def move_rule(session: Session, *, deployment_id: str, rule_id: int, offset: int) -> bool:
    """Move one rule `offset` places (-1: up, +1: down) among its target's rules, which are then numbered
    0.. in their new order. Returns False when it is already first (last) and nothing moved.

    Raises: NotFound (also for another deployment's rule).
    """
    row = get_rule(session, deployment_id=deployment_id, rule_id=rule_id)
    same_target = select(AclRuleRow).where(
        AclRuleRow.deployment_id == deployment_id,
        AclRuleRow.target_kind == row.target_kind,
        AclRuleRow.target == row.target,
    )
    rows = list(session.scalars(same_target.order_by(AclRuleRow.position, AclRuleRow.id)))
    index = next(i for i, r in enumerate(rows) if r.id == row.id)
    to = index + offset
    if not 0 <= to < len(rows):
        return False
    rows.insert(to, rows.pop(index))
    for position, item in enumerate(rows):
        item.position = position
    session.commit()
    return True


def delete_rule_id(session: Session, *, deployment_id: str, rule_id: int) -> None:
    """Delete one rule by its row id (the console: two rules may share a topic). Raises: NotFound."""
    session.delete(get_rule(session, deployment_id=deployment_id, rule_id=rule_id))
    session.commit()


def delete_target(session: Session, *, deployment_id: str, kind: TargetKind, target: str) -> None:
    """Delete every rule of one target (v5). Raises: NotFound when it has none."""
    if not rules_of(session, deployment_id=deployment_id, kind=kind, target=target):
        raise NotFound("Not Found", code="NOT_FOUND")
    session.execute(sql_delete(AclRuleRow).where(*_where(deployment_id, kind, target)))
    session.commit()


def delete_rule(session: Session, *, deployment_id: str, kind: TargetKind, target: str, topic: str) -> None:
    """Delete one rule by target and topic (v4). Raises: NotFound."""
    rows = [
        r
        for r in rules_of(session, deployment_id=deployment_id, kind=kind, target=target)
        if r.topic == topic
    ]
    if not rows:
        raise NotFound("ACL rule not found", code="NOT_FOUND")
    for row in rows:
        session.delete(row)
    session.commit()


def targets_page(
    session: Session, *, deployment_id: str, kind: TargetKind, page: int, limit: int, like: str | None = None
) -> tuple[list[tuple[str, list[AclRuleRow]]], int]:
    """v5 listing: one page of targets with their rules, and the number of targets."""
    where = _where(deployment_id, kind)
    if like:
        where.append(AclRuleRow.target.contains(like, autoescape=True))
    targets_query = select(AclRuleRow.target).where(*where).group_by(AclRuleRow.target)
    total = int(session.scalar(select(func.count()).select_from(targets_query.subquery())) or 0)
    targets = list(
        session.scalars(
            targets_query.order_by(func.min(AclRuleRow.id)).offset((page - 1) * limit).limit(limit)
        )
    )
    return [(t, rules_of(session, deployment_id=deployment_id, kind=kind, target=t)) for t in targets], total


def rules_page(
    session: Session, *, deployment_id: str, kind: TargetKind, page: int, limit: int
) -> tuple[list[AclRuleRow], int]:
    """v4 listing: one page of single rules and the number of rules."""
    where = _where(deployment_id, kind)
    total = int(session.scalar(select(func.count()).select_from(AclRuleRow).where(*where)) or 0)
    query = select(AclRuleRow).where(*where).order_by(AclRuleRow.target, AclRuleRow.position, AclRuleRow.id)
    return list(session.scalars(query.offset((page - 1) * limit).limit(limit))), total


def records(session: Session, *, deployment_id: str) -> list[AclRule]:
    """Every rule as the broker takes it (`TenantSpec.acl`), in evaluation order."""
    rows = list(session.scalars(select(AclRuleRow).where(AclRuleRow.deployment_id == deployment_id)))
    rows.sort(key=lambda r: (_KIND_ORDER.get(r.target_kind, 3), r.target, r.position, r.id))
    return [
        AclRule(
            username=row.target if row.target_kind == "username" else None,
            clientid=row.target if row.target_kind == "clientid" else None,
            topic=row.topic,
            action=AclAction(row.action),
            permission=AclPermission(row.permission),
        )
        for row in rows
    ]
