"""Data integration end to end: rules written through the Deployment API run in the real broker.

A rule created through `/api/v5/rules` republishes the reshaped message to a paho subscriber and its
HTTP action POSTs to a local HTTP server; a v4 `web_hook` resource + `data_to_webserver` rule delivers
too; `/rules/{id}/metrics` and the connector status come from the running broker. A Redis connector's
password is stored sealed and still logs the broker in to a redis-server that requires it.
"""

import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
from sqlalchemy import text
from tests.integration.broker.targets import RedisServer
from tests.integration.deployment_api.conftest import V4, V5, Live, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes


class HookServer:
    """A real HTTP server on 127.0.0.1: every request lands in `requests` and gets 200."""

    def __init__(self) -> None:
        self.requests: queue.Queue[Request] = queue.Queue()
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                requests.put(Request(self.command, self.path, self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _any  # noqa: N815  (http.server's names)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self, timeout: float = 10.0) -> Request:
        return self.requests.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def hook() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.close()


async def test_v5_rule_republishes_and_posts(live: Live, hook: HookServer) -> None:
    c, auth = live.client, live.auth
    created = await c.post(
        f"{V5}/connectors", json={"type": "http", "name": "hook", "url": hook.url + "/hooks"}, auth=auth
    )
    assert created.status_code == 201, created.text
    created = await c.post(
        f"{V5}/actions",
        json={
            "type": "http",
            "name": "hot_hook",
            "connector": "hook",
            "parameters": {"path": "in/${clientid}", "method": "post", "body": "${t}"},
        },
        auth=auth,
    )
    assert created.status_code == 201, created.text
    created = await c.post(
        f"{V5}/rules",
        json={
            "id": "too_hot",
            "sql": 'SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30',
            "actions": [
                "http:hot_hook",
                {
                    "function": "republish",
                    "args": {"topic": "alerts/${clientid}", "qos": 0, "payload": "t=${t}"},
                },
            ],
        },
        auth=auth,
    )
    assert created.status_code == 201, created.text

    await live.user("rules-user")
    subscriber = live.mqtt("rules-sub", "rules-user")
    publisher = live.mqtt("dev1", "rules-user")
    try:
        assert subscriber.connect() == 0
        assert subscriber.subscribe("alerts/#") == [0]
        assert publisher.connect() == 0
        publisher.publish("sensors/1", b'{"temp": 20}', qos=1)  # WHERE is false: nothing
        publisher.publish("sensors/1", b'{"temp": 35}', qos=1)
        alert = subscriber.next_message()
        assert (alert.topic, alert.payload) == ("alerts/dev1", b"t=35")
        posted = hook.next()
        assert (posted.method, posted.path, posted.body) == ("POST", "/hooks/in/dev1", b"35")
        assert subscriber.no_message(0.3)
    finally:
        subscriber.close()
        publisher.close()

    async def counted() -> dict[str, object] | None:
        body = (await c.get(f"{V5}/rules/too_hot/metrics", auth=auth)).json()
        metrics: dict[str, object] = body["metrics"]
        return metrics if metrics["matched"] == 2 and metrics["actions.success"] == 2 else None

    metrics = await wait_for(counted, what="the rule's counters")
    assert metrics["passed"] == 1
    action = (await c.get(f"{V5}/actions/http:hot_hook/metrics", auth=auth)).json()
    assert action["metrics"]["success"] == 1
    connector = (await c.get(f"{V5}/connectors/http:hook", auth=auth)).json()
    assert connector["status"] == "connected"


async def test_v4_web_hook_rule_delivers(live: Live, hook: HookServer) -> None:
    c, auth = live.client, live.auth
    resource = await c.post(
        f"{V4}/resources", json={"type": "web_hook", "config": {"url": hook.url, "method": "POST"}}, auth=auth
    )
    assert resource.status_code == 200, resource.text
    resource_id = resource.json()["data"]["id"]
    rule = await c.post(
        f"{V4}/rules",
        json={
            "rawsql": 'select * from "t/a"',
            "actions": [{"name": "data_to_webserver", "params": {"$resource": resource_id}}],
        },
        auth=auth,
    )
    assert rule.status_code == 200, rule.text

    await live.user("rules-user")
    publisher = live.mqtt("v4-pub", "rules-user")
    try:
        assert publisher.connect() == 0
        publisher.publish("t/a", b"hello", qos=1)
        posted = hook.next()
    finally:
        publisher.close()
    assert (posted.method, posted.path) == ("POST", "/")
    output = json.loads(posted.body)
    assert (output["topic"], output["payload"], output["clientid"]) == ("t/a", "hello", "v4-pub")

    async def matched() -> bool:
        data = (await c.get(f"{V4}/rules/{rule.json()['data']['id']}", auth=auth)).json()["data"]
        return bool(data["metrics"][0]["matched"] == 1 and data["actions"][0]["metrics"][0]["success"] == 1)

    await wait_for(matched, what="the v4 rule's metrics")


async def test_a_sealed_redis_password_logs_the_broker_in(live: Live, tmp_path: Path) -> None:
    password = "r3dis-secret-pw"
    server = RedisServer(tmp_path, password=password)
    c, auth = live.client, live.auth
    try:
        connector = {
            "type": "redis",
            "name": "guarded",
            "parameters": {
                "redis_type": "single",
                "server": f"127.0.0.1:{server.port}",
                "password": password,
            },
        }
        action = {
            "type": "redis",
            "name": "store_temp",
            "connector": "guarded",
            "parameters": {"command_template": ["HSET", "t:${clientid}", "temp", "${payload.temp}"]},
        }
        rule = {"id": "to_redis", "sql": 'SELECT * FROM "guarded/#"', "actions": ["redis:store_temp"]}
        for path, body in (("connectors", connector), ("actions", action), ("rules", rule)):
            created = await c.post(f"{V5}/{path}", json=body, auth=auth)
            assert created.status_code == 201, created.text
        with live.runtime.database.session() as session:
            rows = session.scalars(text("SELECT CAST(config AS TEXT) FROM deployment_connectors")).all()
        assert rows
        assert not any(password in str(row) for row in rows)

        await live.user("redis-user")
        publisher = live.mqtt("dev-r", "redis-user")
        try:
            assert publisher.connect() == 0
            publisher.publish("guarded/1", b'{"temp": 41}', qos=1)
        finally:
            publisher.close()
        store = redis.Redis(port=server.port, password=password)

        async def stored() -> bytes | None:
            value = store.hget("t:dev-r", "temp")
            return value if isinstance(value, bytes) else None

        assert await wait_for(stored, what="the hash in redis") == b"41"
        store.close()
    finally:
        server.stop()
