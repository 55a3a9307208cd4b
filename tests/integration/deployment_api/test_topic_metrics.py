"""EMQX 5's topic metrics against a real broker: register a topic, paho clients publish to it (some while
nobody subscribes: dropped), the counts and rates match; reset, delete, and EMQX's errors (wildcard,
already registered, unknown, the 512 limit)."""

import asyncio
import datetime as dt

import pytest
from tests.integration.deployment_api.conftest import V5, Live, MqttClient, wait_for

from mqttcloud.contracts import MAX_TOPIC_METRICS
from mqttcloud.control.deployment_api.topic_metrics import store

pytestmark = pytest.mark.asyncio(loop_scope="module")
METRICS = f"{V5}/mqtt/topic_metrics"


async def client(live: Live, opened: list[MqttClient], clientid: str) -> MqttClient:
    await live.user("metered")
    mqtt = live.mqtt(clientid, "metered")
    assert mqtt.connect() == 0
    opened.append(mqtt)
    return mqtt


async def test_registered_topic_counts_in_out_dropped_and_rates(live: Live, opened: list[MqttClient]) -> None:
    created = await live.client.post(METRICS, json={"topic": "tm/a"}, auth=live.auth)
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["topic"] == "tm/a"
    assert dt.datetime.fromisoformat(body["create_time"]).tzinfo is not None
    assert "reset_time" not in body
    assert body["metrics"]["messages.in.count"] == 0
    assert len(body["metrics"]) == 18

    publisher = await client(live, opened, "tm-pub")
    for _ in range(3):  # nobody subscribes yet: dropped
        publisher.publish("tm/a", b"x", qos=1)
    subscriber = await client(live, opened, "tm-sub")
    assert subscriber.subscribe("tm/#", qos=1) == [1]
    for _ in range(4):
        publisher.publish("tm/a", b"y", qos=1)
    publisher.publish("tm/a", b"z", qos=0)
    publisher.publish("tm/other", b"not counted", qos=1)
    for _ in range(6):
        subscriber.next_message()

    async def counted() -> dict[str, float] | None:
        found = (await live.client.get(f"{METRICS}/tm%2Fa", auth=live.auth)).json()
        metrics: dict[str, float] = found["metrics"]
        return metrics if metrics["messages.in.count"] == 8 and metrics["messages.in.rate"] > 0 else None

    metrics = await wait_for(counted, what="8 messages in, a rate")
    assert metrics["messages.qos1.in.count"] == 7
    assert metrics["messages.qos0.in.count"] == 1
    assert metrics["messages.out.count"] == 5
    assert metrics["messages.qos1.out.count"] == 4
    assert metrics["messages.qos0.out.count"] == 1
    assert metrics["messages.dropped.count"] == 3
    assert metrics["messages.qos2.in.count"] == 0

    listed = (await live.client.get(METRICS, auth=live.auth)).json()
    assert [t["topic"] for t in listed] == ["tm/a"]

    reset = await live.client.put(METRICS, json={"action": "reset", "topic": "tm/a"}, auth=live.auth)
    assert reset.status_code == 200, reset.text
    assert reset.json()["metrics"]["messages.in.count"] == 0
    assert reset.json()["metrics"]["messages.in.rate"] == 0
    assert "reset_time" in reset.json()
    publisher.publish("tm/a", b"again", qos=1)

    async def one_more() -> bool:
        found = (await live.client.get(f"{METRICS}/tm%2Fa", auth=live.auth)).json()
        return bool(found["metrics"]["messages.in.count"] == 1)

    await wait_for(one_more, what="one message after the reset")
    every = await live.client.put(METRICS, json={"action": "reset"}, auth=live.auth)
    assert [t["metrics"]["messages.in.count"] for t in every.json()] == [0]

    assert (await live.client.delete(f"{METRICS}/tm%2Fa", auth=live.auth)).status_code == 204
    assert (await live.client.get(METRICS, auth=live.auth)).json() == []
    missing = await live.client.get(f"{METRICS}/tm%2Fa", auth=live.auth)
    assert missing.status_code == 404
    assert missing.json() == {"code": "TOPIC_NOT_FOUND", "message": "Topic not found"}
    assert (await live.client.delete(f"{METRICS}/tm%2Fa", auth=live.auth)).status_code == 404
    publisher.publish("tm/a", b"uncounted", qos=1)
    again = (await live.client.post(METRICS, json={"topic": "tm/a"}, auth=live.auth)).json()
    assert again["metrics"]["messages.in.count"] == 0  # counting restarts from zero
    assert (await live.client.delete(f"{METRICS}/tm%2Fa", auth=live.auth)).status_code == 204


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"topic": "tm/+"}, 400, "BAD_TOPIC"),
        ({"topic": "tm/#"}, 400, "BAD_TOPIC"),
        ({"topic": ""}, 400, "BAD_REQUEST"),
        ({}, 422, "INVALID_PARAMETERS"),  # the platform's one shape for a body that does not validate
        ({"topic": 7}, 422, "INVALID_PARAMETERS"),
    ],
)
async def test_bad_topics_are_refused_with_emqx_codes(
    live: Live, body: dict[str, object], status: int, code: str
) -> None:
    refused = await live.client.post(METRICS, json=body, auth=live.auth)
    assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text


async def test_a_topic_registers_once_and_at_most_512(live: Live) -> None:
    first = await live.client.post(METRICS, json={"topic": "lim/0"}, auth=live.auth)
    assert first.status_code == 200, first.text
    twice = await live.client.post(METRICS, json={"topic": "lim/0"}, auth=live.auth)
    assert twice.status_code == 400
    assert twice.json() == {"code": "BAD_TOPIC", "message": "Topic already registered"}
    now = dt.datetime.now(dt.UTC)

    def fill() -> None:
        with live.runtime.database.session() as session:
            for i in range(1, MAX_TOPIC_METRICS):
                store.register(session, deployment_id=live.deployment_id, topic=f"lim/{i}", now=now)

    await asyncio.to_thread(fill)
    over = await live.client.post(METRICS, json={"topic": "lim/over"}, auth=live.auth)
    assert over.status_code == 409
    assert over.json() == {"code": "EXCEED_LIMIT", "message": "Max topic metrics count is 512"}
    bad_reset = await live.client.put(METRICS, json={"action": "clear"}, auth=live.auth)
    assert bad_reset.status_code == 422
    unknown = await live.client.put(METRICS, json={"action": "reset", "topic": "nope"}, auth=live.auth)
    assert unknown.status_code == 404
    assert len((await live.client.get(METRICS, auth=live.auth)).json()) == MAX_TOPIC_METRICS

    def empty() -> None:
        with live.runtime.database.session() as session:
            for i in range(1, MAX_TOPIC_METRICS):
                store.delete(session, deployment_id=live.deployment_id, topic=f"lim/{i}")

    await asyncio.to_thread(empty)
    assert (await live.client.delete(f"{METRICS}/lim%2F0", auth=live.auth)).status_code == 204
