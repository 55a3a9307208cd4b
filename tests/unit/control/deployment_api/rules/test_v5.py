"""Data integration's v5 routes in process (fake supervisor): connectors, actions and rules CRUD, what
reaches the broker's spec, SQL errors, `rule_test`, dependencies, Serverless quotas and metrics."""

from typing import Any

from tests.unit.control.conftest import Platform
from tests.unit.control.deployment_api.rules.conftest import Auth, new_deployment, pushed_rules

from mqttcloud.contracts import (
    ActionCounters,
    ConsoleAction,
    HttpAction,
    RepublishAction,
    RuleCounters,
    RuleMetricsResult,
    TenantId,
)
from mqttcloud.control.broker_client import BrokerClient

CONNECTOR = {
    "type": "http",
    "name": "my_hook",
    "url": "http://127.0.0.1:8080/base",
    "headers": {"X-Token": "abc"},
    "connect_timeout": "5s",
    "pool_size": 4,
}
ACTION = {
    "type": "http",
    "name": "to_hook",
    "connector": "my_hook",
    "parameters": {
        "path": "events/${clientid}",
        "method": "PUT",
        "headers": {"X-Kind": "t"},
        "body": "${payload}",
    },
    "resource_opts": {"request_ttl": "10s"},
}
SQL = 'SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30'


async def _integration(platform: Platform, auth: Auth) -> dict[str, Any]:
    c = platform.client
    connector = await c.post("/api/v5/connectors", json=CONNECTOR, auth=auth)
    assert connector.status_code == 201, connector.text
    action = await c.post("/api/v5/actions", json=ACTION, auth=auth)
    assert action.status_code == 201, action.text
    rule = await c.post(
        "/api/v5/rules",
        json={
            "id": "hot",
            "sql": SQL,
            "actions": [
                "http:to_hook",
                {
                    "function": "republish",
                    "args": {"topic": "alerts/${clientid}", "qos": 1, "payload": "${t}"},
                },
                {"function": "console"},
            ],
            "description": "too hot",
        },
        auth=auth,
    )
    assert rule.status_code == 201, rule.text
    body: dict[str, Any] = rule.json()
    return body


async def test_connector_action_rule_reach_the_broker_spec(
    platform: Platform, dedicated: tuple[str, Auth]
) -> None:
    deployment_id, auth = dedicated
    rule = await _integration(platform, auth)
    assert rule["id"] == "hot"
    assert rule["from"] == ["sensors/#"]
    assert rule["enable"] is True
    assert rule["actions"][0] == "http:to_hook"
    assert rule["actions"][2] == {"function": "console"}

    [spec] = pushed_rules(platform, deployment_id)
    assert spec.id == "hot"
    assert spec.sql == SQL
    http, republish, console = spec.actions
    assert http == HttpAction(
        name="http:to_hook",
        url="http://127.0.0.1:8080/base/events/${clientid}",
        method="put",
        headers={"X-Token": "abc", "X-Kind": "t"},
        body="${payload}",
        connect_timeout=5.0,
        request_timeout=10.0,
        pool_size=4,
    )
    assert republish == RepublishAction(
        topic="alerts/${clientid}", qos=1, retain="${flags.retain}", payload="${t}"
    )
    assert console == ConsoleAction()

    disabled = await platform.client.put("/api/v5/rules/hot", json={"enable": False}, auth=auth)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["sql"] == SQL  # a PUT changes only what it names
    assert pushed_rules(platform, deployment_id) == []


async def test_get_list_update_delete(platform: Platform, dedicated: tuple[str, Auth]) -> None:
    _, auth = dedicated
    c = platform.client
    await _integration(platform, auth)
    connector = (await c.get("/api/v5/connectors/http:my_hook", auth=auth)).json()
    assert connector["url"] == CONNECTOR["url"]
    assert connector["actions"] == ["to_hook"]
    assert connector["status"] == "disconnected"  # no broker runs in process
    assert [a["name"] for a in (await c.get("/api/v5/actions", auth=auth)).json()] == ["to_hook"]
    listed = (await c.get("/api/v5/rules", params={"like_id": "ho"}, auth=auth)).json()
    assert [r["id"] for r in listed["data"]] == ["hot"]
    assert listed["meta"]["count"] == 1
    assert (await c.get("/api/v5/rules", params={"from": "other/#"}, auth=auth)).json()["data"] == []

    changed = await c.put(
        "/api/v5/connectors/http:my_hook", json={**CONNECTOR, "url": "https://example.test"}, auth=auth
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["url"] == "https://example.test"

    # in use: the connector by the action, the action by the rule
    assert (await c.delete("/api/v5/connectors/http:my_hook", auth=auth)).status_code == 400
    blocked = await c.delete("/api/v5/actions/http:to_hook", auth=auth)
    assert blocked.status_code == 400
    assert blocked.json()["code"] == "DEPENDENCY_EXISTS"
    assert (await c.delete("/api/v5/rules/hot", auth=auth)).status_code == 204
    assert (await c.delete("/api/v5/actions/http:to_hook", auth=auth)).status_code == 204
    assert (await c.delete("/api/v5/connectors/http:my_hook", auth=auth)).status_code == 204
    missing = await c.get("/api/v5/rules/hot", auth=auth)
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"


async def test_sql_error_says_where(platform: Platform, dedicated: tuple[str, Auth]) -> None:
    _, auth = dedicated
    bad = await platform.client.post("/api/v5/rules", json={"sql": 'SELECT a,\nFROM "t/#"'}, auth=auth)
    assert bad.status_code == 400, bad.text
    assert bad.json()["code"] == "BAD_REQUEST"
    assert "line 2, column 1" in bad.json()["message"]


async def test_bad_bodies_are_400(platform: Platform, dedicated: tuple[str, Auth]) -> None:
    _, auth = dedicated
    c = platform.client
    cases = [
        ("/api/v5/connectors", {**CONNECTOR, "type": "kafka"}, "type"),
        ("/api/v5/connectors", {**CONNECTOR, "url": "ftp://x"}, "url"),
        ("/api/v5/connectors", {**CONNECTOR, "name": "bad name"}, "name"),
        ("/api/v5/connectors", {**CONNECTOR, "connect_timeout": "soon"}, "connect_timeout"),
        ("/api/v5/actions", ACTION, "connector"),  # its connector does not exist
        ("/api/v5/rules", {"sql": 'SELECT * FROM "t"', "actions": ["http:nope"]}, "not found"),
        ("/api/v5/rules", {"sql": 'SELECT * FROM "t"', "actions": [{"function": "rm"}]}, "function"),
        ("/api/v5/rules", {"sql": 'SELECT * FROM "t"', "actions": [{"function": "republish"}]}, "topic"),
    ]
    for path, body, word in cases:
        response = await c.post(path, json=body, auth=auth)
        assert response.status_code == 400, (path, body, response.text)
        assert word in response.json()["message"], response.json()
    assert (await c.post("/api/v5/connectors", json={"type": "http"}, auth=auth)).status_code == 422
    await c.post("/api/v5/rules", json={"id": "r1", "sql": 'SELECT * FROM "t"'}, auth=auth)
    again = await c.post("/api/v5/rules", json={"id": "r1", "sql": 'SELECT * FROM "t"'}, auth=auth)
    assert again.status_code == 400
    assert "already exists" in again.json()["message"]


async def test_rule_test_output_not_match_and_bad_sql(
    platform: Platform, dedicated: tuple[str, Auth]
) -> None:
    _, auth = dedicated
    c = platform.client
    context = {
        "event_type": "message_publish",
        "topic": "sensors/1",
        "payload": '{"temp": 35}',
        "clientid": "d1",
    }
    ok = await c.post("/api/v5/rule_test", json={"sql": SQL, "context": context}, auth=auth)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"t": 35, "clientid": "d1"}

    cool = await c.post(
        "/api/v5/rule_test", json={"sql": SQL, "context": {**context, "payload": '{"temp": 20}'}}, auth=auth
    )
    assert cool.status_code == 412
    assert cool.json() == {"code": "NOT_MATCH", "message": "SQL Not Match"}
    other_topic = await c.post(
        "/api/v5/rule_test", json={"sql": SQL, "context": {**context, "topic": "x/1"}}, auth=auth
    )
    assert other_topic.status_code == 412

    event = await c.post(
        "/api/v5/rule_test",
        json={
            "sql": 'SELECT clientid, event FROM "$events/client_connected"',
            "context": {"event_type": "client_connected", "clientid": "c9"},
        },
        auth=auth,
    )
    assert event.status_code == 200, event.text
    assert event.json() == {"clientid": "c9", "event": "client.connected"}

    bad = await c.post("/api/v5/rule_test", json={"sql": "SELECT FROM", "context": context}, auth=auth)
    assert bad.status_code == 400
    assert "line 1" in bad.json()["message"]
    not_json = await c.post(
        "/api/v5/rule_test", json={"sql": SQL, "context": {**context, "payload": '{"temp": '}}, auth=auth
    )
    assert not_json.status_code == 400, not_json.text


async def test_serverless_plan_limits(platform: Platform) -> None:
    _, auth = await new_deployment(platform, serverless=True)
    c = platform.client
    for name in ("a", "b"):
        created = await c.post("/api/v5/connectors", json={**CONNECTOR, "name": name}, auth=auth)
        assert created.status_code == 201, created.text
    third = await c.post("/api/v5/connectors", json={**CONNECTOR, "name": "c"}, auth=auth)
    assert third.status_code == 422
    assert third.json()["code"] == "QUOTA_EXCEEDED"
    for index in range(4):
        created = await c.post("/api/v5/rules", json={"sql": f'SELECT * FROM "t/{index}"'}, auth=auth)
        assert created.status_code == 201, created.text
        assert created.json()["id"].startswith("rule_")
    fifth = await c.post("/api/v5/rules", json={"sql": 'SELECT * FROM "t/5"'}, auth=auth)
    assert fifth.status_code == 422
    assert "4 rules" in fifth.json()["message"]


class FakeRuleBroker(BrokerClient):
    """Answers `rule_metrics` only; nothing is connected."""

    def __init__(self, result: RuleMetricsResult) -> None:
        super().__init__("127.0.0.1", 1, "token")
        self.result = result
        self.asked: list[TenantId] = []

    async def rule_metrics(self, tenant: TenantId) -> RuleMetricsResult:
        self.asked.append(tenant)
        return self.result


async def test_metrics_and_status_from_the_broker(platform: Platform, dedicated: tuple[str, Auth]) -> None:
    deployment_id, auth = dedicated
    c = platform.client
    await _integration(platform, auth)
    zero = (await c.get("/api/v5/rules/hot/metrics", auth=auth)).json()
    assert zero["metrics"]["matched"] == 0  # not running: zeros

    broker = FakeRuleBroker(
        RuleMetricsResult(
            rules={"hot": RuleCounters(matched=5, passed=3, failed_exception=1)},
            actions={
                "http:to_hook": ActionCounters(
                    matched=3, success=1, failed=2, status="disconnected", status_reason="connection refused"
                )
            },
        )
    )
    platform.supervisor.broker = broker
    metrics = (await c.get("/api/v5/rules/hot/metrics", auth=auth)).json()
    assert metrics["id"] == "hot"
    assert metrics["metrics"]["matched"] == 5
    assert metrics["metrics"]["passed"] == 3
    assert metrics["metrics"]["failed.exception"] == 1
    assert metrics["node_metrics"] == [{"node": f"emqx@{deployment_id}", "metrics": metrics["metrics"]}]
    action = (await c.get("/api/v5/actions/http:to_hook/metrics", auth=auth)).json()
    assert action["metrics"]["failed"] == 2
    assert action["metrics"]["success"] == 1
    connector = (await c.get("/api/v5/connectors/http:my_hook", auth=auth)).json()
    assert (connector["status"], connector["status_reason"]) == ("disconnected", "connection refused")
    assert broker.asked == [deployment_id, deployment_id, deployment_id]
    assert (await c.get("/api/v5/rules/nope/metrics", auth=auth)).status_code == 404
