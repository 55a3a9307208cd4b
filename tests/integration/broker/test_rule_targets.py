"""PostgreSQL, Redis and MQTT-bridge actions in a real broker: paho publishes, real targets, `rule_metrics`.

PostgreSQL is the cluster `scripts/postgres.sh` starts (`MQTTCLOUD_TEST_DATABASE_URL`; each test gets a
fresh database, reached through a `TcpProxy` so a test can cut it off without stopping it); Redis is a
`redis-server` and the remote broker a `mqttcloud broker` or mosquitto process, each started here.
"""

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url
from tests.conftest import POSTGRES_ENV, create_postgres_database, drop_postgres_database
from tests.integration.broker.harness import TENANT, BrokerProcess, make_spec
from tests.integration.broker.targets import Mosquitto, RedisServer, TcpProxy
from tests.integration.broker.test_rules import round_trip, rule, tenant, wait_until
from tests.integration.broker.webhook import Paho

from mqttcloud import contracts
from mqttcloud.contracts.rules import MqttAction, PgsqlAction, RedisAction

BrokerFactory = Callable[[contracts.BrokerSpec], BrokerProcess]
needs_postgres = pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} is not set")


def action_metrics(broker: BrokerProcess, name: str) -> dict[str, Any]:
    counters: dict[str, Any] = broker.admin("rule_metrics", tenant=TENANT)["actions"][name]
    return counters


# ------------------------------------------------------------------------------------- PostgreSQL


class Postgres:
    """A fresh database on the test cluster, with a `readings` table, behind a `TcpProxy`."""

    def __init__(self) -> None:
        self.admin_url = os.environ[POSTGRES_ENV]
        self.url = create_postgres_database(self.admin_url, prefix="mqttcloud_rules")
        parsed = make_url(self.url)
        self.database = str(parsed.database)
        self.user = str(parsed.username)
        self.proxy = TcpProxy((str(parsed.host), int(parsed.port or 5432)))
        self.dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE readings (clientid text, topic text, temp numeric, payload text, n int)"
            )

    def action(self, **kw: Any) -> PgsqlAction:
        return PgsqlAction.model_validate(
            {
                "name": "pgsql:store",
                "server": f"127.0.0.1:{self.proxy.port}",
                "database": self.database,
                "username": self.user,
                "sql": "INSERT INTO readings (clientid, topic, temp, payload, n) "
                "VALUES (${clientid}, ${topic}, ${payload.temp}, ${payload}, ${payload.n})",
                **kw,
            }
        )

    def rows(
        self, query: str = "SELECT clientid, topic, temp, payload, n FROM readings ORDER BY n"
    ) -> list[Any]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(query).fetchall()

    def close(self) -> None:
        self.proxy.stop()
        drop_postgres_database(self.admin_url, self.url)


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    db = Postgres()
    yield db
    db.close()


@needs_postgres
def test_a_pgsql_rule_inserts_rows_with_bound_parameters(
    broker_factory: BrokerFactory, tmp_path: Path, postgres: Postgres
) -> None:
    action = postgres.action()
    broker = broker_factory(make_spec(tmp_path, tenants=[tenant(rule("pg", 'SELECT * FROM "pg/#"', action))]))
    pub = Paho(broker.port(), "dev'); DROP TABLE readings; --")
    try:
        pub.publish("pg/a", b'{"temp": 21.5, "n": 1}', 1)
        pub.publish("pg/a", b'{"temp": "it\'s %s hot", "n": 2}', 1)  # text into numeric: refused
        pub.publish("pg/b", b'{"n": 3}', 1)  # no temp: NULL
        wait_until(lambda: action_metrics(broker, "pgsql:store")["success"] == 2)
        rows = postgres.rows()
        assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
            ("dev'); DROP TABLE readings; --", "pg/a", 21.5, 1),
            ("dev'); DROP TABLE readings; --", "pg/b", None, 3),
        ]
        assert json.loads(rows[0][3]) == {"temp": 21.5, "n": 1}
        wait_until(lambda: action_metrics(broker, "pgsql:store")["failed"] == 1)
        got = action_metrics(broker, "pgsql:store")
        assert (got["matched"], got["dropped"], got["status"]) == (3, 0, "connected")
    finally:
        pub.close()


@needs_postgres
def test_pgsql_down_queues_then_inserts_when_back_while_mqtt_keeps_flowing(
    broker_factory: BrokerFactory, tmp_path: Path, postgres: Postgres
) -> None:
    # at most 2 x 50 outputs in the workers' hands and 100 queued: of 300, at least 100 are dropped
    action = postgres.action(pool_size=2, batch_size=50, batch_time=0.01, max_queue=100, connect_timeout=1)
    broker = broker_factory(make_spec(tmp_path, tenants=[tenant(rule("pg", 'SELECT * FROM "pg/#"', action))]))
    pub = Paho(broker.port(), "dev1")
    sub = Paho(broker.port(), "other")
    try:
        sub.subscribe("other/#", 1)
        wait_until(lambda: action_metrics(broker, "pgsql:store")["status"] == "connected")
        postgres.proxy.stop()
        for n in range(300):
            pub.publish("pg/x", json.dumps({"temp": n, "n": n}).encode(), 0)
        wait_until(lambda: action_metrics(broker, "pgsql:store")["status"] == "disconnected")
        wait_until(lambda: action_metrics(broker, "pgsql:store")["matched"] == 300)
        got = action_metrics(broker, "pgsql:store")
        assert got["status_reason"], got
        assert (got["success"], got["dropped"] >= 100) == (0, True), got
        assert got["queuing"] + got["inflight"] + got["dropped"] == 300, got
        trips = [round_trip(pub, sub, "other/rt") for _ in range(20)]
        assert max(trips) < 0.5, trips
        postgres.proxy.start()
        kept = 300 - got["dropped"]
        wait_until(lambda: action_metrics(broker, "pgsql:store")["success"] == kept, timeout=15)
        assert len(postgres.rows()) == kept
        got = action_metrics(broker, "pgsql:store")
        assert (got["status"], got["status_reason"], got["queuing"], got["failed"]) == ("connected", "", 0, 0)
    finally:
        pub.close()
        sub.close()


# ------------------------------------------------------------------------------------------ Redis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, password="s3cret")
    yield server
    server.stop()


def redis_action(server: RedisServer, **kw: Any) -> RedisAction:
    return RedisAction.model_validate(
        {
            "name": "redis:cache",
            "server": f"127.0.0.1:{server.port}",
            "password": server.password,
            "database": 2,
            "command": ["HSET", "${clientid}", "temp", "${payload.temp}", "raw", "${payload}"],
            **kw,
        }
    )


def test_a_redis_rule_runs_its_command_and_recovers_after_a_restart(
    broker_factory: BrokerFactory, tmp_path: Path, redis_server: RedisServer
) -> None:
    action = redis_action(redis_server, batch_size=20, connect_timeout=1)
    broker = broker_factory(make_spec(tmp_path, tenants=[tenant(rule("r", 'SELECT * FROM "r/#"', action))]))
    check = redis.Redis(port=redis_server.port, password=redis_server.password, db=2)
    pub = Paho(broker.port(), "dev 1")  # a space stays inside the one argument
    try:
        pub.publish("r/a", b'{"temp": 30}', 1)
        wait_until(lambda: action_metrics(broker, "redis:cache")["success"] == 1)
        assert check.hgetall("dev 1") == {b"temp": b"30", b"raw": b'{"temp": 30}'}
        redis_server.stop()
        pub.publish("r/a", b'{"temp": 31}', 1)  # its write finds the connection gone
        wait_until(lambda: action_metrics(broker, "redis:cache")["status"] == "disconnected")
        assert action_metrics(broker, "redis:cache")["status_reason"]
        redis_server.start()
        wait_until(lambda: action_metrics(broker, "redis:cache")["success"] == 2, timeout=15)
        check = redis.Redis(port=redis_server.port, password=redis_server.password, db=2)
        assert check.hget("dev 1", "temp") == b"31"
        assert action_metrics(broker, "redis:cache")["status"] == "connected"
    finally:
        pub.close()


def test_a_redis_command_redis_refuses_fails_that_output_only(
    broker_factory: BrokerFactory, tmp_path: Path, redis_server: RedisServer
) -> None:
    action = redis_action(
        redis_server, command=["INCRBY", "count", "${payload}"], batch_size=10, batch_time=0.2
    )
    broker = broker_factory(make_spec(tmp_path, tenants=[tenant(rule("r", 'SELECT * FROM "r/#"', action))]))
    pub = Paho(broker.port(), "dev1")
    try:
        for payload in (b"5", b"not a number", b"7"):
            pub.publish("r/a", payload, 1)
        wait_until(lambda: action_metrics(broker, "redis:cache")["failed"] == 1)
        got = action_metrics(broker, "redis:cache")
        assert (got["success"], got["status"]) == (2, "connected")
        assert redis.Redis(port=redis_server.port, password=redis_server.password, db=2).get("count") == b"12"
    finally:
        pub.close()


# ------------------------------------------------------------------------------------- MQTT bridge


def bridge(port: int, **kw: Any) -> MqttAction:
    return MqttAction.model_validate(
        {
            "name": "mqtt:egress",
            "server": f"127.0.0.1:{port}",
            "client_id": "bridge",
            "topic": "fwd/${topic}",
            "qos": 1,
            "payload": '{"from":"${clientid}","t":${payload.t}}',
            **kw,
        }
    )


@pytest.mark.parametrize("proto_ver", [4, 5])
def test_an_mqtt_bridge_forwards_to_a_second_broker(
    broker_factory: BrokerFactory, tmp_path: Path, proto_ver: int
) -> None:
    remote_dir = tmp_path / "remote"
    remote_dir.mkdir()
    remote = BrokerProcess(make_spec(remote_dir), remote_dir)
    remote.start()
    action = bridge(remote.port(), proto_ver=proto_ver, pool_size=2, retain="${flags.retain}")
    broker = broker_factory(make_spec(tmp_path, tenants=[tenant(rule("b", 'SELECT * FROM "up/#"', action))]))
    watcher = Paho(remote.port(), "watcher")
    pub = Paho(broker.port(), "dev5")
    try:
        watcher.subscribe("fwd/#", 1)
        pub.publish("up/1", b'{"t": 42}', 1)
        msg = watcher.get()
        assert (msg.topic, msg.qos, msg.retain) == ("fwd/up/1", 1, False)
        assert json.loads(msg.payload) == {"from": "dev5", "t": 42}
        clients = remote.admin("list_clients", tenant=TENANT)["data"]
        ids = sorted(c["clientid"] for c in clients if c["clientid"].startswith("bridge"))
        assert ids == ["bridge_1", "bridge_2"]
        wait_until(lambda: action_metrics(broker, "mqtt:egress")["success"] == 1)
    finally:
        watcher.close()
        pub.close()
        remote.stop()


def test_an_mqtt_bridge_reconnects_by_itself_and_delivers_what_waited(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    remote = Mosquitto(tmp_path)
    action = bridge(remote.port, pool_size=1, connect_timeout=1, payload="${payload}")
    broker = broker_factory(make_spec(tmp_path, tenants=[tenant(rule("b", 'SELECT * FROM "up/#"', action))]))
    pub = Paho(broker.port(), "dev6")
    try:
        wait_until(lambda: action_metrics(broker, "mqtt:egress")["status"] == "connected")
        remote.stop()
        for n in range(3):
            pub.publish("up/x", b"%d" % n, 1)
        wait_until(lambda: action_metrics(broker, "mqtt:egress")["status"] == "disconnected")
        assert action_metrics(broker, "mqtt:egress")["matched"] == 3
        remote.start()
        # success counts PUBACKs from the restarted broker: what waited was really delivered
        wait_until(lambda: action_metrics(broker, "mqtt:egress")["success"] == 3, timeout=15)
        assert action_metrics(broker, "mqtt:egress")["status"] == "connected"
        watcher = Paho(remote.port, "watcher")
        try:
            watcher.subscribe("fwd/#", 1)
            pub.publish("up/x", b"after", 1)
            assert watcher.get().payload == b"after"
        finally:
            watcher.close()
    finally:
        pub.close()
        remote.stop()
