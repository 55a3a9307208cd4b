"""The order of ACL rules in the console: arrows only between rules of one target, a move changes the
order the broker gets (`acl.records`), the first and last rule stay put, bad input is refused."""

import re

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment

from mqttcloud.control.deployment_api.acl import store as acl


def rule(target: str, topic: str, action: str, permission: str) -> dict[str, str]:
    kind = "all" if not target else "username"
    return {"kind": kind, "target": target, "topic": topic, "action": action, "permission": permission}


def order(console: Console, deployment_id: str) -> list[tuple[str | None, str, str, str]]:
    with console.database.session() as session:
        rules = acl.records(session, deployment_id=deployment_id)
    return [(r.username, r.topic, r.action.value, r.permission.value) for r in rules]


async def test_rules_move_within_their_target_and_the_broker_gets_the_new_order(
    root_console: Console,
) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/acl"
    for item in (
        rule("dev", "t/#", "subscribe", "deny"),
        rule("dev", "t/x", "subscribe", "allow"),
        rule("dev", "t/y", "publish", "allow"),
        rule("other", "o/#", "all", "allow"),
    ):
        assert (await root_console.submit(path, path, item)).status_code == 303
    page = (await root_console.get(path)).text
    ids = dict(re.findall(r'<tr id="rule-(\d+)" data-rule="([^"]+)"', page))
    by_rule = {v: k for k, v in ids.items()}
    allow_x, deny_all, other = (
        by_rule["dev allow subscribe t/x"],
        by_rule["dev deny subscribe t/#"],
        by_rule["other allow all o/#"],
    )
    assert f"/acl/{deny_all}/move" in page  # down only
    assert f"/acl/{other}/move" not in page  # alone: no arrows

    moved = await root_console.submit(path, f"{path}/{allow_x}/move", {"direction": "up"})
    assert moved.status_code == 303
    assert moved.headers["location"].endswith(f"#rule-{allow_x}")
    assert order(root_console, deployment_id) == [
        ("dev", "t/x", "subscribe", "allow"),
        ("dev", "t/#", "subscribe", "deny"),
        ("dev", "t/y", "publish", "allow"),
        ("other", "o/#", "all", "allow"),
    ]
    first = await root_console.submit(path, f"{path}/{allow_x}/move", {"direction": "up"})
    assert first.status_code == 303  # already first: nothing moves
    assert order(root_console, deployment_id)[0] == ("dev", "t/x", "subscribe", "allow")
    down = await root_console.submit(path, f"{path}/{allow_x}/move", {"direction": "down"})
    assert down.status_code == 303
    assert [r[1] for r in order(root_console, deployment_id)] == ["t/#", "t/x", "t/y", "o/#"]

    assert (
        await root_console.submit(path, f"{path}/{allow_x}/move", {"direction": "left"})
    ).status_code == 400
    assert (await root_console.submit(path, f"{path}/999999/move", {"direction": "up"})).status_code == 404


async def test_a_rule_of_another_deployment_cannot_be_moved(root_console: Console) -> None:
    first = await create_deployment(root_console, name="one")
    second = await create_deployment(root_console, name="two")
    path = f"/console/deployments/{first}/acl"
    for topic in ("a", "b"):
        assert (await root_console.submit(path, path, rule("", topic, "all", "allow"))).status_code == 303
    rule_id = re.findall(r'<tr id="rule-(\d+)"', (await root_console.get(path)).text)[1]
    other = f"/console/deployments/{second}/acl"
    assert (
        await root_console.submit(other, f"{other}/{rule_id}/move", {"direction": "up"})
    ).status_code == 404
    assert [r[1] for r in order(root_console, first)] == ["a", "b"]
