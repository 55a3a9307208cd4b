"""The plan usage page: each quota of the plan and what the deployment uses of it (Dedicated, Serverless)."""

import re

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment


def row(html: str, key: str) -> tuple[str, str]:
    """(used, limit) of one quota row ("" when unknown)."""
    match = re.search(rf'<tr id="usage-{key}" data-used="([^"]*)" data-limit="(\d+)"', html)
    assert match is not None, key
    return match.group(1), match.group(2)


async def test_dedicated_usage_counts_stored_objects_against_the_plan(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)  # starter: 1,000 connections
    users = f"/console/deployments/{deployment_id}/users"
    form = {"kind": "username", "user_id": "counted", "password": "pw"}
    assert (await root_console.submit(users, users, form)).status_code == 303
    page = await root_console.get(f"/console/deployments/{deployment_id}/usage")
    assert page.status_code == 200
    assert row(page.text, "users") == ("1", "2000")  # auth entries: connections x 2
    assert row(page.text, "acl") == ("0", "2000")
    assert row(page.text, "connectors") == ("0", "10")
    assert row(page.text, "rules") == ("0", "50")
    assert row(page.text, "shadows") == ("0", "1000")
    assert row(page.text, "connections")[1] == "1000"
    assert row(page.text, "sessions")[1] == "1000"
    assert row(page.text, "message-rate") == ("", "1000")  # no fresh sample yet: unknown, not 0


async def test_serverless_usage_has_its_own_quotas_and_no_shadows(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console, "serverless", "sl")
    page = await root_console.get(f"/console/deployments/{deployment_id}/usage")
    assert page.status_code == 200
    assert row(page.text, "users")[1] == "2000"
    assert row(page.text, "connectors")[1] == "2"
    assert row(page.text, "rules")[1] == "4"
    assert row(page.text, "retained")[1] == "2000"
    assert 'id="usage-shadows"' not in page.text


async def test_usage_in_chinese(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    root_console.client.cookies.set("mqttcloud_lang", "zh-CN")
    page = await root_console.get(f"/console/deployments/{deployment_id}/usage")
    assert "规格用量" in page.text
    assert "认证用户" in page.text
