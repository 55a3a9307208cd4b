"""EMQX 5's retainer API against a real broker: paho publishes retained messages, the API lists them
(paged, by topic filter), returns one with its payload, deletes it (and a filter's matches); a new paho
subscriber then gets nothing. The key permission group is `retainer`."""

import base64
import datetime as dt
import time

import pytest
from tests.integration.deployment_api.conftest import V5, Live, MqttClient, wait_for

from mqttcloud.control.deployment_api.keys import service as keys

pytestmark = pytest.mark.asyncio(loop_scope="module")
MESSAGES = f"{V5}/mqtt/retainer/messages"
MESSAGE = f"{V5}/mqtt/retainer/message"


async def client(live: Live, opened: list[MqttClient], clientid: str) -> MqttClient:
    await live.user("retainer")
    mqtt = live.mqtt(clientid, "retainer")
    assert mqtt.connect() == 0
    opened.append(mqtt)
    return mqtt


async def test_retained_message_is_listed_read_deleted_and_a_new_subscriber_gets_nothing(
    live: Live, opened: list[MqttClient]
) -> None:
    before = time.time() - 1
    publisher = await client(live, opened, "ret-pub")
    publisher.publish("ret/a/1", b"\x00\xffbinary", qos=1, retain=True)
    publisher.publish("ret/a/2", b"two", qos=0, retain=True)
    publisher.publish("ret/b", b"bee", qos=1, retain=True)
    publisher.publish("ret/not", b"routed only", qos=1)

    async def listed() -> dict[str, object] | None:
        body: dict[str, object] = (await live.client.get(MESSAGES, auth=live.auth)).json()
        return body if body["meta"]["count"] == 3 else None  # type: ignore[index]  # JSON

    body = await wait_for(listed, what="three retained messages")
    data = body["data"]
    assert [m["topic"] for m in data] == ["ret/a/1", "ret/a/2", "ret/b"]
    first = data[0]
    assert set(first) == {"msgid", "topic", "qos", "publish_at", "from_clientid", "from_username"}
    assert (first["qos"], first["from_clientid"]) == (1, "ret-pub")
    assert len(first["msgid"]) == 32
    assert dt.datetime.fromisoformat(first["publish_at"]).timestamp() >= before

    paged = (await live.client.get(MESSAGES, params={"page": 2, "limit": 2}, auth=live.auth)).json()
    assert [m["topic"] for m in paged["data"]] == ["ret/b"]
    assert paged["meta"] == {"page": 2, "limit": 2, "hasnext": False, "count": 3}
    filtered = (await live.client.get(MESSAGES, params={"topic": "ret/a/+"}, auth=live.auth)).json()
    assert [m["topic"] for m in filtered["data"]] == ["ret/a/1", "ret/a/2"]
    bad = await live.client.get(MESSAGES, params={"topic": "ret/#/x"}, auth=live.auth)
    assert bad.status_code == 400, bad.text

    one = await live.client.get(f"{MESSAGE}/ret%2Fa%2F1", auth=live.auth)
    assert one.status_code == 200, one.text
    assert base64.b64decode(one.json()["payload"]) == b"\x00\xffbinary"
    assert one.json()["msgid"] == first["msgid"]
    missing = await live.client.get(f"{MESSAGE}/ret%2Fnot", auth=live.auth)
    assert missing.status_code == 404
    assert missing.json() == {"code": "NOT_FOUND", "message": "Viewed message doesn't exist"}

    gone = await live.client.delete(f"{MESSAGE}/ret%2Fa%2F1", auth=live.auth)
    assert gone.status_code == 204, gone.text
    assert (await live.client.delete(f"{MESSAGE}/ret%2Fa%2F1", auth=live.auth)).status_code == 404
    subscriber = await client(live, opened, "ret-sub")
    assert subscriber.subscribe("ret/a/#", qos=1) == [1]
    received = subscriber.next_message()
    assert (received.topic, received.payload, received.retain) == ("ret/a/2", b"two", True)
    assert subscriber.no_message(0.5)  # ret/a/1 is gone

    assert (await live.client.delete(f"{MESSAGE}/ret%2F%23", auth=live.auth)).status_code == 204  # ret/#
    late = await client(live, opened, "ret-late")
    assert late.subscribe("ret/#", qos=1) == [1]
    assert late.no_message(0.5)
    assert (await live.client.get(MESSAGES, auth=live.auth)).json()["meta"]["count"] == 0


async def test_a_key_without_the_retainer_group_is_refused(live: Live) -> None:
    runtime = live.runtime
    with runtime.database.session() as session:
        created = keys.create_key(session, deployment_id=live.deployment_id, permissions=["GET:clients"])
        narrow = (created.key.app_id, created.secret)
    refused = await live.client.get(MESSAGES, auth=narrow)
    assert refused.status_code == 403, refused.text
    with runtime.database.session() as session:
        created = keys.create_key(session, deployment_id=live.deployment_id, permissions=["GET:retainer"])
        reader = (created.key.app_id, created.secret)
    assert (await live.client.get(MESSAGES, auth=reader)).status_code == 200
    assert (await live.client.delete(f"{MESSAGE}/x", auth=reader)).status_code == 403


async def test_clear_all_deletes_every_retained_message(live: Live, opened: list[MqttClient]) -> None:
    """EMQX's `DELETE /mqtt/retainer/messages`: every message goes, '$' topics too; 204 also when none."""
    publisher = await client(live, opened, "ret-clear")
    publisher.publish("clear/a", b"a", qos=1, retain=True)
    publisher.publish("clear/b/c", b"bc", qos=1, retain=True)
    publisher.publish("$app/state", b"dollar", qos=1, retain=True)

    async def three() -> bool:
        return bool((await live.client.get(MESSAGES, auth=live.auth)).json()["meta"]["count"] >= 3)

    await wait_for(three, what="three retained messages")
    cleared = await live.client.delete(MESSAGES, auth=live.auth)
    assert cleared.status_code == 204, cleared.text
    assert (await live.client.get(MESSAGES, auth=live.auth)).json()["meta"]["count"] == 0
    late = await client(live, opened, "ret-clear-late")
    assert late.subscribe("clear/#", qos=1) == [1]
    assert late.subscribe("$app/#", qos=1) == [1]
    assert late.no_message(0.5)
    assert (await live.client.delete(MESSAGES, auth=live.auth)).status_code == 204
