"""ACL rules' use cases: the one place each read and write sequence on them is written.

The v5 and v4 routes and the console call these with a `Target`; each write runs `acl/store.py` (the
rules on fields, quotas and order) in a worker thread, commits, then pushes the rules to the running
broker, so a call returns once the broker enforces them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from mqttcloud.control.deployment_api.acl import store
from mqttcloud.control.deployment_api.acl.models import AclRuleRow
from mqttcloud.control.deployment_api.acl.store import Rule, TargetKind, parse_rule
from mqttcloud.control.deployment_api.target import Target

__all__ = ["Rule", "RuleFor", "TargetKind", "parse_rule"]


@dataclass(frozen=True, slots=True)
class RuleFor:
    """One rule and whom it is for: a username, a client id, or everyone (`all`, target "")."""

    kind: TargetKind
    target: str
    rule: Rule


async def set_rules(target: Target, *, kind: TargetKind, rules: Sequence[tuple[str, Sequence[Rule]]]) -> None:
    """Replace the rules of each (target, rules) pair (v5 POST/PUT; `all` with [] clears). All pairs are
    written in one transaction."""

    def write(session: Session) -> None:
        for who, chosen in rules:
            store.set_rules(
                session,
                deployment_id=target.deployment_id,
                kind=kind,
                target=who,
                rules=chosen,
                max_entries=target.acl_entries(),
                max_per_target=target.quotas.max_rules_per_target,
            )

    await target.write(write)


async def add_rules(target: Target, rules: Sequence[RuleFor]) -> None:
    """Add rules one by one (v4 POST /acl, the console); a rule for the same target and topic replaces
    the old one, as EMQX 4 does."""

    def write(session: Session) -> None:
        for item in rules:
            store.add_rule(
                session,
                deployment_id=target.deployment_id,
                kind=item.kind,
                target=item.target,
                rule=item.rule,
                max_entries=target.acl_entries(),
                max_per_target=target.quotas.max_rules_per_target,
            )

    await target.write(write)


async def append_rule(target: Target, item: RuleFor) -> None:
    """Add one rule after its target's others (the console); a rule for the same topic with another
    action or permission stays. Raises: Conflict (the same rule twice), Invalid (quota, target)."""
    await target.write(
        lambda s: store.append_rule(
            s,
            deployment_id=target.deployment_id,
            kind=item.kind,
            target=item.target,
            rule=item.rule,
            max_entries=target.acl_entries(),
            max_per_target=target.quotas.max_rules_per_target,
        )
    )


async def get_rule(target: Target, *, rule_id: int) -> AclRuleRow:
    """One rule by its id. Raises: NotFound."""
    return await target.read(lambda s: store.get_rule(s, deployment_id=target.deployment_id, rule_id=rule_id))


async def move_rule(target: Target, *, rule_id: int, direction: Literal["up", "down"]) -> bool:
    """Move one rule before (up) or after (down) its neighbour among its target's rules; the broker then
    evaluates them in the new order (first match wins). Returns False at the first (last) place.
    Raises: NotFound."""
    offset = -1 if direction == "up" else 1
    return await target.write(
        lambda s: store.move_rule(s, deployment_id=target.deployment_id, rule_id=rule_id, offset=offset)
    )


async def delete_rule_id(target: Target, *, rule_id: int) -> None:
    """Delete one rule by its id (two rules may share a topic). Raises: NotFound."""
    await target.write(lambda s: store.delete_rule_id(s, deployment_id=target.deployment_id, rule_id=rule_id))


async def delete_target(target: Target, *, kind: TargetKind, who: str) -> None:
    """Delete every rule of one username or client id. Raises: NotFound when it has none."""
    await target.write(
        lambda s: store.delete_target(s, deployment_id=target.deployment_id, kind=kind, target=who)
    )


async def delete_rule(target: Target, *, kind: TargetKind, who: str, topic: str) -> None:
    """Delete one rule by whom it is for and its topic. Raises: NotFound."""
    await target.write(
        lambda s: store.delete_rule(s, deployment_id=target.deployment_id, kind=kind, target=who, topic=topic)
    )


async def rules_of(target: Target, *, kind: TargetKind, who: str) -> list[AclRuleRow]:
    return await target.read(
        lambda s: store.rules_of(s, deployment_id=target.deployment_id, kind=kind, target=who)
    )


async def targets_page(
    target: Target, *, kind: TargetKind, page: int, limit: int, like: str | None = None
) -> tuple[list[tuple[str, list[AclRuleRow]]], int]:
    """One page of usernames or client ids with their rules, and how many there are."""
    return await target.read(
        lambda s: store.targets_page(
            s, deployment_id=target.deployment_id, kind=kind, page=page, limit=limit, like=like
        )
    )


async def rules_page(
    target: Target, *, kind: TargetKind, page: int, limit: int
) -> tuple[list[AclRuleRow], int]:
    """One page of single rules of a kind, and how many there are."""
    return await target.read(
        lambda s: store.rules_page(s, deployment_id=target.deployment_id, kind=kind, page=page, limit=limit)
    )
