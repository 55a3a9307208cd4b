"""PostgreSQL, Redis and MQTT-bridge connectors, actions and resources in process (fake supervisor):
EMQX 5 and EMQX 4 bodies in, the broker spec's actions out, masked passwords, 400/422 naming the field."""

import logging
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from tests.unit.control.conftest import Platform
from tests.unit.control.deployment_api.rules.conftest import Auth, pushed_rules

from mqttcloud.contracts import RepublishAction, RuleSpec
from mqttcloud.contracts.rules import ClientTls, MqttAction, PgsqlAction, RedisAction
from mqttcloud.control.at_rest import SEALED_PREFIX, SecretBox
from mqttcloud.control.deployment_api.integration.models import ConnectorRow
from mqttcloud.control.deployment_api.integration.store import open_passwords

PG_CONNECTOR = {
    "type": "pgsql",
    "name": "pg",
    "server": "db.example:5433",
    "database": "mqtt",
    "username": "emqx",
    "password": "public",
    "pool_size": 4,
    "ssl": {"enable": True, "verify": "verify_none"},
}
PG_ACTION = {
    "type": "pgsql",
    "name": "store",
    "connector": "pg",
    "parameters": {"sql": "INSERT INTO t(c, v) VALUES (${clientid}, ${payload.v})"},
    "resource_opts": {"batch_size": 100, "batch_time": "20ms", "request_ttl": "10s"},
}
REDIS_CONNECTOR = {
    "type": "redis",
    "name": "cache",
    "parameters": {"redis_type": "single", "server": "127.0.0.1:6379", "database": 3, "password": "pw"},
}
REDIS_ACTION = {
    "type": "redis",
    "name": "hset",
    "connector": "cache",
    "parameters": {"command_template": ["HSET", "${clientid}", "temp", "${payload.temp}"]},
}
MQTT_CONNECTOR = {
    "type": "mqtt",
    "name": "remote",
    "server": "broker.example:1883",
    "proto_ver": "v5",
    "clientid_prefix": "cloud-",
    "username": "u",
    "password": "p",
    "keepalive": "30s",
    "pool_size": 2,
}
MQTT_ACTION = {
    "type": "mqtt",
    "name": "egress",
    "connector": "remote",
    "parameters": {"topic": "fwd/${topic}", "qos": "${qos}", "retain": False, "payload": "${payload}"},
}


async def created(platform: Platform, auth: Auth, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await platform.client.post(path, json=body, auth=auth)
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


async def test_v5_connectors_and_actions_of_each_kind_reach_the_broker_spec(
    platform: Platform, dedicated: tuple[str, Auth]
) -> None:
    deployment_id, auth = dedicated
    for connector, action in (
        (PG_CONNECTOR, PG_ACTION),
        (REDIS_CONNECTOR, REDIS_ACTION),
        (MQTT_CONNECTOR, MQTT_ACTION),
    ):
        await created(platform, auth, "/api/v5/connectors", connector)
        await created(platform, auth, "/api/v5/actions", action)
    rule = {
        "id": "all",
        "sql": 'SELECT * FROM "t/#"',
        "actions": ["pgsql:store", "redis:hset", "mqtt:egress"],
    }
    await created(platform, auth, "/api/v5/rules", rule)
    [spec] = pushed_rules(platform, deployment_id)
    pg, rd, mq = spec.actions
    assert pg == PgsqlAction(
        name="pgsql:store",
        server="db.example:5433",
        database="mqtt",
        username="emqx",
        password="public",
        sql=PG_ACTION["parameters"]["sql"],  # type: ignore[index]  # a dict literal above
        pool_size=4,
        batch_size=100,
        batch_time=0.02,
        request_timeout=10.0,
        tls=ClientTls(verify=False),
    )
    assert rd == RedisAction(
        name="redis:hset",
        server="127.0.0.1:6379",
        database=3,
        password="pw",
        command=["HSET", "${clientid}", "temp", "${payload.temp}"],
        request_timeout=45.0,
    )
    assert mq == MqttAction(
        name="mqtt:egress",
        server="broker.example:1883",
        client_id="cloud-egress",
        username="u",
        password="p",
        proto_ver=5,
        keepalive=30,
        pool_size=2,
        topic="fwd/${topic}",
        qos="${qos}",
        retain=False,
        payload="${payload}",
        request_timeout=45.0,
    )


async def test_passwords_are_masked_and_a_masked_write_keeps_them(
    platform: Platform, dedicated: tuple[str, Auth]
) -> None:
    deployment_id, auth = dedicated
    c = platform.client
    shown = await created(platform, auth, "/api/v5/connectors", PG_CONNECTOR)
    assert shown["password"] == "******"
    redis_shown = await created(platform, auth, "/api/v5/connectors", REDIS_CONNECTOR)
    assert redis_shown["parameters"]["password"] == "******"
    await created(platform, auth, "/api/v5/actions", PG_ACTION)
    await created(
        platform, auth, "/api/v5/rules", {"id": "r", "sql": 'SELECT * FROM "t"', "actions": ["pgsql:store"]}
    )
    got = (await c.get("/api/v5/connectors/pgsql:pg", auth=auth)).json()
    assert got["password"] == "******"
    changed = await c.put("/api/v5/connectors/pgsql:pg", json={**got, "pool_size": 2}, auth=auth)
    assert changed.status_code == 200, changed.text
    [spec] = pushed_rules(platform, deployment_id)
    assert isinstance(spec.actions[0], PgsqlAction)
    assert (spec.actions[0].password, spec.actions[0].pool_size) == ("public", 2)
    await c.put("/api/v5/connectors/pgsql:pg", json={**got, "password": "new"}, auth=auth)
    assert pushed_rules(platform, deployment_id)[0].actions[0].password == "new"  # type: ignore[union-attr]


async def test_bad_v5_bodies_name_the_field(platform: Platform, dedicated: tuple[str, Auth]) -> None:
    _, auth = dedicated
    c = platform.client
    await created(platform, auth, "/api/v5/connectors", REDIS_CONNECTOR)
    cases: list[tuple[str, object, int, str]] = [
        ("/api/v5/connectors", {**PG_CONNECTOR, "server": "db:99999"}, 400, "server"),
        ("/api/v5/connectors", {**PG_CONNECTOR, "server": "a b"}, 400, "server"),
        ("/api/v5/connectors", {k: v for k, v in PG_CONNECTOR.items() if k != "database"}, 422, "database"),
        ("/api/v5/connectors", {**MQTT_CONNECTOR, "proto_ver": "v9"}, 422, "proto_ver"),
        ("/api/v5/connectors", {**MQTT_CONNECTOR, "keepalive": "soon"}, 400, "keepalive"),
        (
            "/api/v5/connectors",
            {**REDIS_CONNECTOR, "parameters": {"redis_type": "cluster"}},
            422,
            "redis_type",
        ),
        (
            "/api/v5/actions",
            {**REDIS_ACTION, "parameters": {"command_template": ["${x}"]}},
            400,
            "command_template",
        ),
        ("/api/v5/actions", {**PG_ACTION, "parameters": {}}, 422, "sql"),
        ("/api/v5/actions", {**MQTT_ACTION, "connector": "cache"}, 400, "connector"),
        ("/api/v5/connectors", [1, 2], 400, "type"),
    ]
    for path, body, status, word in cases:
        response = await c.post(path, json=body, auth=auth)
        assert response.status_code == status, (body, response.text)
        assert word in response.json()["message"], (body, response.json())
    mqtt_bad_qos = {**MQTT_ACTION, "parameters": {"topic": "t", "qos": 3}}
    await created(platform, auth, "/api/v5/connectors", MQTT_CONNECTOR)
    refused = await c.post("/api/v5/actions", json=mqtt_bad_qos, auth=auth)
    assert refused.status_code == 400
    assert "parameters.qos" in refused.json()["message"]


def data(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_v4_resources_and_actions_of_each_kind(platform: Platform, dedicated: tuple[str, Auth]) -> None:
    deployment_id, auth = dedicated
    c = platform.client
    pg = data(
        await c.post(
            "/api/resources",
            json={
                "type": "backend_pgsql",
                "config": {
                    "server": "127.0.0.1:5432",
                    "database": "mqtt",
                    "user": "root",
                    "password": "public",
                },
            },
            auth=auth,
        )
    )
    assert pg["config"]["password"] == "******"
    redis = data(
        await c.post(
            "/api/resources", json={"type": "backend_redis_single", "config": {"server": "r:6379"}}, auth=auth
        )
    )
    bridge = data(
        await c.post(
            "/api/resources",
            json={
                "type": "bridge_mqtt",
                "config": {"address": "b:1883", "clientid": "c1", "mountpoint": "cloud/"},
            },
            auth=auth,
        )
    )
    actions = [
        {
            "name": "data_to_pgsql",
            "params": {"$resource": pg["id"], "sql": "insert into t values (${clientid})"},
        },
        {
            "name": "data_to_redis",
            "params": {"$resource": redis["id"], "cmd": "HSET ${clientid} t ${payload.t}"},
        },
        {"name": "data_to_mqtt_broker", "params": {"$resource": bridge["id"]}},
    ]
    rule = data(
        await c.post("/api/rules", json={"rawsql": 'select * from "t/#"', "actions": actions}, auth=auth)
    )
    assert [a["name"] for a in rule["actions"]] == ["data_to_pgsql", "data_to_redis", "data_to_mqtt_broker"]
    [spec] = pushed_rules(platform, deployment_id)
    to_pg, to_redis, to_bridge = spec.actions
    assert isinstance(to_pg, PgsqlAction)
    assert (to_pg.username, to_pg.password, to_pg.batch_size, to_pg.batch_time) == (
        "root",
        "public",
        100,
        0.01,
    )
    assert isinstance(to_redis, RedisAction)
    assert to_redis.command == ["HSET", "${clientid}", "t", "${payload.t}"]
    assert isinstance(to_bridge, MqttAction)
    assert (to_bridge.client_id, to_bridge.topic, to_bridge.qos) == ("c1", "cloud/${topic}", "${qos}")
    assert to_pg.name == rule["actions"][0]["id"]  # the instance id names its counters
    listed = data(await c.get("/api/resources", auth=auth))
    assert {r["type"] for r in listed} == {"backend_pgsql", "backend_redis_single", "bridge_mqtt"}

    wrong = await c.post(
        "/api/rules",
        json={
            "rawsql": 'select * from "t"',
            "actions": [{"name": "data_to_redis", "params": {"$resource": pg["id"]}}],
        },
        auth=auth,
    )
    assert wrong.status_code == 400
    assert "backend_redis_single" in wrong.json()["message"]
    bad = await c.post("/api/resources", json={"type": "backend_pgsql", "config": {"server": "x"}}, auth=auth)
    assert bad.status_code == 422
    assert "database" in bad.json()["message"]


def stored_configs(platform: Platform) -> list[str]:
    """The connector configs as the database row holds them (JSON text)."""
    with platform.database.session() as session:
        return [
            str(v) for v in session.scalars(text("SELECT CAST(config AS TEXT) FROM deployment_connectors"))
        ]


async def test_passwords_are_stored_sealed_and_reach_the_broker_opened(
    platform: Platform, dedicated: tuple[str, Auth]
) -> None:
    deployment_id, auth = dedicated
    c = platform.client
    for connector in (PG_CONNECTOR, REDIS_CONNECTOR, MQTT_CONNECTOR):
        await created(platform, auth, "/api/v5/connectors", connector)
    v4 = {
        "type": "backend_pgsql",
        "config": {"server": "h:5432", "database": "d", "user": "u", "password": "v4secret"},
    }
    resource = data(await c.post("/api/resources", json=v4, auth=auth))
    rows = stored_configs(platform)
    assert len(rows) == 4
    for row in rows:
        assert not any(f'"{plain}"' in row for plain in ("public", "pw", "p", "v4secret")), row
        assert f'"{SEALED_PREFIX}' in row
    await created(platform, auth, "/api/v5/actions", PG_ACTION)
    actions = ["pgsql:store", {"name": "data_to_pgsql", "params": {"$resource": resource["id"], "sql": "x"}}]
    await created(
        platform, auth, "/api/v5/rules", {"id": "r", "sql": 'SELECT * FROM "t"', "actions": actions[:1]}
    )
    data(await c.post("/api/rules", json={"rawsql": 'select * from "t"', "actions": actions[1:]}, auth=auth))
    assert sorted(a.password for r in pushed_rules(platform, deployment_id) for a in r.actions) == [  # type: ignore[union-attr]
        "public",
        "v4secret",
    ]
    before = stored_configs(platform)
    got = (await c.get("/api/v5/connectors/pgsql:pg", auth=auth)).json()
    kept = await c.put("/api/v5/connectors/pgsql:pg", json=got, auth=auth)  # "******" keeps the sealed one
    assert kept.status_code == 200, kept.text
    assert stored_configs(platform) == before
    # a new password is sealed whatever it looks like, even like a sealed one
    await c.put("/api/v5/connectors/pgsql:pg", json={**got, "password": f"{SEALED_PREFIX}x"}, auth=auth)
    assert f'"{SEALED_PREFIX}x"' not in "".join(stored_configs(platform))
    [rule] = [r for r in pushed_rules(platform, deployment_id) if r.id == "r"]
    assert rule.actions[0].password == f"{SEALED_PREFIX}x"  # type: ignore[union-attr]


async def test_passwords_stored_before_sealing_are_sealed_at_start(
    platform: Platform, dedicated: tuple[str, Auth]
) -> None:
    deployment_id, auth = dedicated
    await created(platform, auth, "/api/v5/connectors", REDIS_CONNECTOR)
    await created(platform, auth, "/api/v5/actions", REDIS_ACTION)
    await created(
        platform, auth, "/api/v5/rules", {"id": "r", "sql": 'SELECT * FROM "t"', "actions": ["redis:hset"]}
    )
    with platform.database.session() as session:  # as a platform from before sealing stored it
        row = session.scalars(select(ConnectorRow)).one()
        row.config = {**row.config, "parameters": {**row.config["parameters"], "password": "old-plain"}}  # type: ignore[dict-item]
        session.commit()
    assert '"old-plain"' in stored_configs(platform)[0]
    await platform.supervisor.runtime.restore()
    [row_text] = stored_configs(platform)
    assert '"old-plain"' not in row_text
    assert f'"{SEALED_PREFIX}' in row_text
    assert pushed_rules(platform, deployment_id)[0].actions[0].password == "old-plain"  # type: ignore[union-attr]
    await platform.supervisor.runtime.restore()  # sealing again changes nothing
    assert stored_configs(platform) == [row_text]


def test_a_password_sealed_with_another_key_is_sent_empty_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ours, theirs = SecretBox(Fernet.generate_key().decode()), SecretBox(Fernet.generate_key().decode())
    pg = PgsqlAction(
        name="pgsql:a", server="h:5432", database="d", username="u", password=ours.seal("pw"), sql="x"
    )
    lost = RedisAction(name="redis:b", server="h:6379", password=theirs.seal("pw2"), command=["PING"])
    rules = [
        RuleSpec(id="ok", sql='SELECT * FROM "t"', actions=[pg]),
        RuleSpec(id="lost", sql='SELECT * FROM "t"', actions=[lost]),
        RuleSpec(id="plain", sql='SELECT * FROM "t"', actions=[RepublishAction(topic="out")]),
    ]
    with caplog.at_level(logging.ERROR):
        opened = open_passwords(rules, ours)
    assert [a.password for r in opened[:2] for a in r.actions] == ["pw", ""]  # type: ignore[union-attr]
    assert opened[2] is rules[2]
    assert "redis:b" in caplog.text
    assert "another data key" in caplog.text
