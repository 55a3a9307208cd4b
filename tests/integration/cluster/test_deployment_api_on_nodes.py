"""The Deployment API of a 3-node deployment made by a real `mqttcloud serve` (issue #12): stats and
nodes one by one, an API publish matched on other nodes, the shadow relay and the event history on
every node.

The nodes share one port, so the kernel picks each client's node; `on_other_node` connects clients
until one lands on a node other than node 1 (where API publishes go) and asks the API which it is.
"""

import json
import queue
import ssl
from collections.abc import Iterator

import httpx
import paho.mqtt.client as mqtt
import pytest
from tests.integration.control.harness import poll
from tests.integration.control.test_clusters import Client, Cluster, serve_with_cluster

from mqttcloud.control.supervisor.nats import find_binary

pytestmark = pytest.mark.skipif(find_binary("nats-server") is None, reason="nats-server is not installed")

NODES = 3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with serve_with_cluster(tmp_path_factory.mktemp("api-on-nodes") / "data") as built:
        yield built


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for client in opened:
        client.close()


@pytest.fixture
def v4(cluster: Cluster) -> Iterator[httpx.Client]:
    context = ssl.create_default_context(cafile=str(cluster.serve.ca_path))
    with httpx.Client(base_url=cluster.serve.base_url + "/api", verify=context, timeout=10.0) as client:
        yield client


def node_of(cluster: Cluster, clientid: str) -> str:
    def found() -> str | None:
        response = cluster.api.get(f"/clients/{clientid}", auth=cluster.app)
        return str(response.json()["node"]) if response.status_code == 200 else None

    return poll(found, what=f"{clientid} listed")


def on_other_node(cluster: Cluster, clients: list[Client], prefix: str) -> tuple[Client, str]:
    """A connected client on a node other than node 1, and that node's name."""
    first = f"emqx@{cluster.id}"
    for index in range(40):
        client = Client(f"{prefix}{index}").connect(cluster.address)
        clients.append(client)
        node = node_of(cluster, client.client_id)
        if node != first:
            return client, node
    raise AssertionError("40 clients, all on node 1")


def messages_of(client: Client) -> "queue.Queue[mqtt.MQTTMessage]":
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    client.client.on_message = lambda _c, _u, message: received.put(message)
    return received


# ------------------------------------------------------------------------------------------ stats


def test_stats_and_nodes_answer_node_by_node_and_summed(
    cluster: Cluster, clients: list[Client], v4: httpx.Client
) -> None:
    for index in range(12):
        clients.append(Client(f"s{index:02d}").connect(cluster.address))
    names = [f"emqx@{broker_id}" for broker_id in cluster.node_ids(NODES)]

    def per_node() -> list[dict[str, int | str]] | None:
        body: list[dict[str, int | str]] = cluster.api.get("/stats", auth=cluster.app).json()
        total = sum(int(one["live_connections.count"]) for one in body)
        return body if total == 12 else None

    stats = poll(per_node, what="12 connections over the nodes")
    assert [one["node"] for one in stats] == names
    assert sum(1 for one in stats if int(one["connections.count"])) > 1  # spread over nodes
    summed = cluster.api.get("/stats", params={"aggregate": "true"}, auth=cluster.app).json()
    assert isinstance(summed, dict)
    assert summed["connections.count"] == sum(int(one["connections.count"]) for one in stats)

    nodes = cluster.api.get("/nodes", auth=cluster.app).json()
    assert [n["node"] for n in nodes] == names
    assert all(n["node_status"] == "running" and n["uptime"] > 0 for n in nodes)
    assert sum(n["live_connections"] for n in nodes) == 12
    one = cluster.api.get(f"/nodes/{names[2]}", auth=cluster.app)
    assert one.status_code == 200
    assert one.json()["node"] == names[2]
    missing = cluster.api.get("/nodes/emqx@nowhere", auth=cluster.app)
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"

    metrics = cluster.api.get("/metrics", auth=cluster.app).json()
    assert [m["node"] for m in metrics] == names
    v4_metrics = v4.get("/metrics", auth=cluster.app).json()
    assert v4_metrics["code"] == 0
    assert [m["node"] for m in v4_metrics["data"]] == names
    connects = sum(m["metrics"]["client.connected"] for m in v4_metrics["data"])
    assert connects >= 12


# ---------------------------------------------------------------------------------------- publish


def test_api_publish_matched_on_another_node_only(cluster: Cluster, clients: list[Client]) -> None:
    subscriber, _node = on_other_node(cluster, clients, "psub")
    received = messages_of(subscriber)
    subscriber.client.subscribe("api/remote", qos=1)

    def published() -> bool:
        answer = cluster.api.post(
            "/publish", json={"topic": "api/remote", "payload": "hi", "qos": 1}, auth=cluster.app
        )
        return answer.status_code == 200 and "id" in answer.json()

    poll(published, what="200 for a subscriber on another node")  # the route may be on its way
    assert received.get(timeout=10).payload == b"hi"

    nobody = cluster.api.post("/publish", json={"topic": "api/nobody", "payload": "x"}, auth=cluster.app)
    assert (nobody.status_code, nobody.json()["reason_code"]) == (202, 16)
    retained = cluster.api.post(
        "/publish", json={"topic": "api/kept", "payload": "x", "retain": True}, auth=cluster.app
    )
    assert (retained.status_code, retained.json()["reason_code"]) == (202, 16)  # stored, not matched


# ---------------------------------------------------------------------------- shadows and events


def test_a_device_on_another_node_uses_its_shadow(
    cluster: Cluster, clients: list[Client], v4: httpx.Client
) -> None:
    made = v4.post("/shadows", json={"shadowID": "lamp-0009", "shadowName": "lamp"}, auth=cluster.app)
    assert made.status_code == 200, made.text
    lamp, _node = on_other_node(cluster, clients, "lamp")
    replies = messages_of(lamp)
    lamp.client.subscribe("shadow/lamp-0009/reply", qos=1)

    def put() -> dict[str, object] | None:
        request = {"method": "PUT", "payload": {"power": 1}}
        lamp.client.publish("shadow/lamp-0009", json.dumps(request), qos=1)
        try:
            body: dict[str, object] = json.loads(replies.get(timeout=1.0).payload)
        except queue.Empty:
            return None
        return body

    answer = poll(put, within=20, what="a reply from the relay")
    assert answer["data"] == {"power": 1}
    stored = v4.get("/shadows/lamp-0009/json", auth=cluster.app).json()
    assert stored["data"] == {"power": 1}

    patched = v4.patch("/shadows/lamp-0009/json", json={"level": 7}, auth=cluster.app)
    assert patched.status_code == 200, patched.text
    while (pushed := json.loads(replies.get(timeout=10).payload))["version"] != patched.json()["version"]:
        pass  # a retried PUT's late answers come first
    assert pushed["data"] == {"power": 1, "level": 7}


def test_a_client_of_another_node_is_in_the_event_history(cluster: Cluster, clients: list[Client]) -> None:
    client, node = on_other_node(cluster, clients, "hist")

    def events() -> list[dict[str, object]] | None:
        response = cluster.api.get("/event_history", params={"clientid": client.client_id}, auth=cluster.app)
        assert response.status_code == 200, response.text
        data: list[dict[str, object]] = response.json()["data"]
        return data or None

    found = poll(events, within=20, what=f"events of {client.client_id} on {node}")
    assert [event["event"] for event in found] == ["client.connected"]
