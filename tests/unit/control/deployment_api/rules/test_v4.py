"""Data integration's v4 routes in process (fake supervisor): spec §2.3.10's documented requests as curl
sends them, the `web_hook` resource feeding a rule's HTTP action in the broker spec, `?test=true`, and
errors in the v4 shape."""

import re
from typing import Any

from tests.unit.control.conftest import Platform
from tests.unit.control.deployment_api.rules.conftest import Auth, pushed_rules

from mqttcloud.contracts import ConsoleAction, HttpAction, RepublishAction

FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what `curl -d` sends
RESOURCE = (
    '{"type": "web_hook","config": {"url": "http://127.0.0.1:9910","headers": '
    '{"token":"axfw34y235wrq234t4ersgw4t"},"method": "POST"},"description": "web hook resource-1"}'
)
RULE = (
    '{"rawsql":"select * from \\"t/a\\"","actions":[{"name":"inspect","params":{"a":1}}],'
    '"description":"test-rule"}'
)


def data(response: Any) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 0, body
    return body.get("data")


async def test_documented_examples(platform: Platform, dedicated: tuple[str, Auth]) -> None:
    _, auth = dedicated
    c = platform.client
    resource = data(await c.post("/api/resources", content=RESOURCE, headers=FORM, auth=auth))
    assert re.fullmatch(r"resource:[0-9a-f]{8}", resource["id"])
    assert resource == {
        "type": "web_hook",
        "id": resource["id"],
        "description": "web hook resource-1",
        "config": {
            "url": "http://127.0.0.1:9910",
            "method": "POST",
            "headers": {"token": "axfw34y235wrq234t4ersgw4t"},
        },
    }
    [listed] = data(await c.get("/api/resources", auth=auth))
    assert {k: listed[k] for k in resource} == resource
    assert listed["status"] is False  # no broker runs in process
    shown = data(await c.get(f"/api/resources/{resource['id']}", auth=auth))
    assert shown["status"] == [{"node": shown["status"][0]["node"], "is_alive": False}]

    web_hook = data(await c.get("/api/resource_types/web_hook", auth=auth))
    assert {"title", "provider", "params", "name", "description"} <= set(web_hook)
    assert web_hook["params"]["url"]["required"] is True
    assert [t["name"] for t in data(await c.get("/api/resource_types", auth=auth))] == [
        "web_hook",
        "backend_pgsql",
        "backend_redis_single",
        "bridge_mqtt",
    ]

    rule = data(await c.post("/api/rules", content=RULE, headers=FORM, auth=auth))
    assert re.fullmatch(r"rule:[0-9a-f]{8}", rule["id"])
    assert rule["rawsql"] == 'select * from "t/a"'
    assert rule["for"] == ["t/a"]
    assert rule["enabled"] is True
    assert rule["description"] == "test-rule"
    assert set(rule["metrics"][0]) == {"speed_max", "speed_last5m", "speed", "node", "matched"}
    [action] = rule["actions"]
    assert action["name"] == "inspect"
    assert action["params"] == {"a": 1}
    assert re.fullmatch(r"inspect_\d+", action["id"])
    assert set(action["metrics"][0]) == {"success", "node", "failed"}
    assert data(await c.get("/api/rules", auth=auth)) == [rule]
    assert data(await c.get(f"/api/rules/{rule['id']}", auth=auth)) == rule

    updated = data(
        await c.put(
            f"/api/rules/{rule['id']}",
            content='{"rawsql":"select * from \\"t/b\\""}',
            headers=FORM,
            auth=auth,
        )
    )
    assert updated["rawsql"] == 'select * from "t/b"'
    assert updated["for"] == ["t/b"]
    assert updated["actions"] == rule["actions"]  # unchanged

    names = {a["name"] for a in data(await c.get("/api/actions", auth=auth))}
    assert {"inspect", "republish", "data_to_webserver", "do_nothing"} <= names
    republish = data(await c.get("/api/actions/republish", auth=auth))
    assert {"name", "types", "title", "params", "description", "app", "for"} <= set(republish)

    assert (await c.delete(f"/api/rules/{rule['id']}", auth=auth)).json() == {"code": 0}
    assert (await c.delete(f"/api/resources/{resource['id']}", auth=auth)).json() == {"code": 0}
    assert data(await c.get("/api/rules", auth=auth)) == []
    gone = await c.get(f"/api/rules/{rule['id']}", auth=auth)
    assert gone.status_code == 404
    assert gone.json()["code"] == 102


async def test_webhook_rule_reaches_the_broker_spec(platform: Platform, dedicated: tuple[str, Auth]) -> None:
    deployment_id, auth = dedicated
    c = platform.client
    resource = data(await c.post("/api/resources", content=RESOURCE, headers=FORM, auth=auth))
    rule = data(
        await c.post(
            "/api/rules",
            json={
                "rawsql": 'SELECT payload.v AS v FROM "t/#"',
                "actions": [
                    {
                        "name": "data_to_webserver",
                        "params": {"$resource": resource["id"], "path": "in", "payload_tmpl": "${v}"},
                    },
                    {"name": "republish", "params": {"target_topic": "copy/${topic}", "target_qos": -1}},
                    {"name": "inspect", "params": {}},
                    {"name": "do_nothing", "params": {}},
                ],
            },
            auth=auth,
        )
    )
    [spec] = pushed_rules(platform, deployment_id)
    assert spec.id == rule["id"]
    webhook_id = rule["actions"][0]["id"]
    assert spec.actions == [
        HttpAction(
            name=webhook_id,
            url="http://127.0.0.1:9910/in",
            method="post",
            headers={"token": "axfw34y235wrq234t4ersgw4t"},
            body="${v}",
            connect_timeout=5.0,
            request_timeout=5.0,
            verify_tls=True,
        ),
        RepublishAction(topic="copy/${topic}", qos="${qos}", retain=False, payload="${payload}"),
        ConsoleAction(),
    ]
    in_use = await c.delete(f"/api/resources/{resource['id']}", auth=auth)
    assert in_use.status_code == 400
    assert in_use.json()["code"] == 108
    disabled = data(await c.put(f"/api/rules/{rule['id']}", json={"enabled": False}, auth=auth))
    assert disabled["enabled"] is False
    assert pushed_rules(platform, deployment_id) == []


async def test_rule_test_runs_without_storing(platform: Platform, dedicated: tuple[str, Auth]) -> None:
    _, auth = dedicated
    c = platform.client
    body = {
        "rawsql": 'SELECT payload.msg AS msg, clientid FROM "t/#"',
        "ctx": {
            "clientid": "c_emqx",
            "payload": '{"msg":"hello"}',
            "qos": 1,
            "topic": "t/a",
            "username": "u_emqx",
        },
    }
    output = data(await c.post("/api/rules", params={"test": "true"}, json=body, auth=auth))
    assert output == {"msg": "hello", "clientid": "c_emqx"}
    assert data(await c.get("/api/rules", auth=auth)) == []
    other = await c.post(
        "/api/rules", params={"test": "true"}, json={**body, "ctx": {"topic": "x"}}, auth=auth
    )
    assert other.status_code == 404
    assert other.json()["message"] == "SQL Not Match"


async def test_errors_in_the_v4_shape(platform: Platform, dedicated: tuple[str, Auth]) -> None:
    _, auth = dedicated
    c = platform.client
    cases = [
        ("/api/rules", {"rawsql": "select", "actions": []}, "line 1"),
        (
            "/api/rules",
            {"rawsql": 'select * from "t"', "actions": [{"name": "rm", "params": {}}]},
            "Action rm Not Found",
        ),
        (
            "/api/rules",
            {"rawsql": 'select * from "t"', "actions": [{"name": "data_to_webserver", "params": {}}]},
            "$resource",
        ),
        ("/api/resources", {"type": "mysql", "config": {}}, "Resource Type mysql Not Found"),
        ("/api/resources", {"type": "web_hook", "config": {"url": "nope"}}, "config.url"),
    ]
    for path, body, words in cases:
        response = await c.post(path, json=body, auth=auth)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == 108
        assert words in response.json()["message"], response.json()
    missing = await c.post("/api/resources", json={"type": "web_hook", "config": {}}, auth=auth)
    assert missing.status_code == 422
    assert missing.json()["code"] == 107
    assert (await c.get("/api/actions/nope", auth=auth)).status_code == 404
    assert (await c.get("/api/resource_types/nope", auth=auth)).status_code == 404
