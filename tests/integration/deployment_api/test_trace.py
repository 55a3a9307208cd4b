"""`/api/v5/trace` against a real deployment: a trace captures one paho client's traffic and nothing else."""

import asyncio
import io
import zipfile

import pytest
from tests.integration.deployment_api.conftest import V5, Live, MqttClient, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _connected(live: Live, opened: list[MqttClient], clientid: str) -> MqttClient:
    await live.user("tracer-user", "tracer-secret")
    client = live.mqtt(clientid, "tracer-user", "tracer-secret")
    assert await asyncio.to_thread(client.connect) == 0
    opened.append(client)
    return client


async def _log_text(live: Live, name: str) -> str:
    response = await live.client.get(f"{V5}/trace/{name}/log", params={"bytes": 1_000_000}, auth=live.auth)
    assert response.status_code == 200, response.text
    text: str = response.json()["items"]
    return text


async def test_a_clientid_trace_captures_that_client_only(live: Live, opened: list[MqttClient]) -> None:
    created = await live.client.post(
        f"{V5}/trace", json={"name": "one-client", "type": "clientid", "clientid": "traced-1"}, auth=live.auth
    )
    assert created.status_code == 200, created.text
    assert created.json()["status"] == "running"
    assert created.json()["clientid"] == "traced-1"
    traced = await _connected(live, opened, "traced-1")
    other = await _connected(live, opened, "untraced-2")
    assert await asyncio.to_thread(traced.subscribe, "trace/t", 1) == [1]
    await asyncio.to_thread(traced.publish, "trace/t", b"from-traced", 1)
    await asyncio.to_thread(other.publish, "trace/t", b"from-other", 1)
    await asyncio.to_thread(traced.next_message)
    await asyncio.to_thread(traced.next_message)

    async def captured() -> str | None:
        text = await _log_text(live, "one-client")
        return text if "from-other" in text else None  # delivered to the traced client: its PUBLISH out

    text = await wait_for(captured, what="the delivery to the traced client in its trace")
    assert "traced-1@127.0.0.1:" in text
    assert "mqtt_packet_received, packet: CONNECT(client_id=traced-1" in text
    assert "authentication_result, username: tracer-user, result: allow" in text
    assert "action: subscribe, topic: trace/t, result: allow" in text
    assert "packet: PUBLISH(topic=trace/t, payload=from-traced, qos=1" in text
    assert "mqtt_packet_sent, packet: PUBLISH(topic=trace/t, payload=from-other" in text
    assert "untraced-2" not in text
    assert "tracer-secret" not in text

    listed = await live.client.get(f"{V5}/trace", auth=live.auth)
    (entry,) = [t for t in listed.json() if t["name"] == "one-client"]
    assert entry["status"] == "running"
    assert next(iter(entry["log_size"].values())) > 0

    stopped = await live.client.put(f"{V5}/trace/one-client/stop", auth=live.auth)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "stopped"
    before = await _log_text(live, "one-client")
    await asyncio.to_thread(traced.publish, "trace/t", b"after-stop", 1)
    await asyncio.to_thread(traced.next_message)
    await asyncio.sleep(0.2)
    assert await _log_text(live, "one-client") == before

    download = await live.client.get(f"{V5}/trace/one-client/download", auth=live.auth)
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        (member,) = archive.namelist()
        assert archive.read(member).decode() == before
    detail = await live.client.get(f"{V5}/trace/one-client/log_detail", auth=live.auth)
    assert detail.json()[0]["size"] == len(before.encode())

    deleted = await live.client.delete(f"{V5}/trace/one-client", auth=live.auth)
    assert deleted.status_code == 204
    gone = await live.client.get(f"{V5}/trace/one-client/log", auth=live.auth)
    assert gone.status_code == 404


async def test_a_topic_trace_captures_matching_publishes(live: Live, opened: list[MqttClient]) -> None:
    created = await live.client.post(
        f"{V5}/trace", json={"name": "by-topic", "type": "topic", "topic": "sensors/#"}, auth=live.auth
    )
    assert created.status_code == 200, created.text
    client = await _connected(live, opened, "topic-pub")
    await asyncio.to_thread(client.publish, "sensors/1", b"21.5", 1)
    await asyncio.to_thread(client.publish, "other/1", b"elsewhere", 1)

    async def captured() -> str | None:
        text = await _log_text(live, "by-topic")
        return text if "21.5" in text else None

    text = await wait_for(captured, what="the sensors publish in the topic trace")
    assert "topic-pub@127.0.0.1:" in text
    assert "elsewhere" not in text
    assert "CONNECT(" not in text
    assert (await live.client.delete(f"{V5}/trace/by-topic", auth=live.auth)).status_code == 204


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "9starts-with-digit", "type": "clientid", "clientid": "c"}, 400, "name"),
        ({"name": "no-filter", "type": "clientid"}, 400, "clientid"),
        ({"name": "bad-topic", "type": "topic", "topic": "a/#/b"}, 400, "topic"),
        ({"name": "bad-ip", "type": "ip_address", "ip_address": "300.1.1.1"}, 400, "ip_address"),
        (
            {"name": "backwards", "type": "clientid", "clientid": "c", "end_at": "2001-01-01T00:00:00Z"},
            400,
            "end_at",
        ),
        ({"name": "bad-type", "type": "rule", "clientid": "c"}, 422, "type"),
    ],
)
async def test_bad_trace_bodies_are_refused_with_their_field(
    live: Live, body: dict[str, object], status: int, field: str | None
) -> None:
    response = await live.client.post(f"{V5}/trace", json=body, auth=live.auth)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in response.text


async def test_a_trace_name_is_unique(live: Live) -> None:
    body = {"name": "twice", "type": "ip_address", "ip_address": "10.0.0.1"}
    assert (await live.client.post(f"{V5}/trace", json=body, auth=live.auth)).status_code == 200
    again = await live.client.post(f"{V5}/trace", json={**body, "ip_address": "10.0.0.2"}, auth=live.auth)
    assert again.status_code == 409
    assert again.json()["code"] == "ALREADY_EXISTS"
    assert (await live.client.delete(f"{V5}/trace/twice", auth=live.auth)).status_code == 204
