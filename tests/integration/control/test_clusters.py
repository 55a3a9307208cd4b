"""Multi-node deployments, through a real `mqttcloud serve`: N broker processes on one shared port (the
kernel spreads paho clients over them), the Deployment API across the nodes, kick wherever the client
is, `nodes` changed live, a killed node restarted, and a local nats-server started for them."""

import contextlib
import json
import os
import signal
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests.integration.control.harness import ServeProcess, free_port_range, poll, serve_env

from mqttcloud.control.supervisor.nats import find_binary

pytestmark = pytest.mark.skipif(find_binary("nats-server") is None, reason="nats-server is not installed")

CLIENTS = 12  # over 3 nodes: all on one node has odds of 3 * 3**-12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Client:
    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.client.on_connect = lambda *_args: self.connected.set()
        self.client.on_disconnect = lambda *_args: self.disconnected.set()

    def connect(self, address: str) -> "Client":
        host, port = address.rsplit(":", 1)
        self.client.connect(host, int(port), keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(10), f"{self.client_id}: no CONNACK"
        return self

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client.on_connect = self.client.on_disconnect = None  # no cycle: __del__ closes the sockets


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for client in opened:
        client.close()


class Cluster:
    """A serve with one 3-node deployment, its Platform API key and its Deployment API key."""

    def __init__(self, serve: ServeProcess, *, anonymous: bool = True) -> None:
        self.serve = serve
        self.platform = serve.client()
        self.key = serve.create_key()
        created = self.platform.post(
            "/deployments",
            json={"projectID": "default", "allowAnonymous": anonymous, "nodes": 3},
            auth=self.key,
        )
        assert created.status_code == 201, created.text
        self.id: str = created.json()["deploymentID"]
        try:
            self.wait_status("running")
        except AssertionError as exc:  # say why: the deployment, the platform's and the nodes' logs
            logs = [f"--- {p} ---\n{p.read_text(errors='replace')[-4000:]}" for p in self._broker_logs()]
            detail = f"{exc}\n{self.deployment()}\n--- serve ---\n{serve.stderr()[-6000:]}"
            detail += "\n" + "\n".join(logs)
            self.platform.close()  # not left to the GC: an unclosed socket fails a later test
            raise AssertionError(detail) from exc
        self.address: str = self.deployment()["endpoints"]["mqtt"]
        context = ssl.create_default_context(cafile=str(serve.ca_path))
        self.api = httpx.Client(base_url=serve.base_url + "/api/v5", verify=context, timeout=10.0)
        self.app = serve.create_deployment_key(self.id)

    def close(self) -> None:
        self.api.close()
        self.platform.close()

    def _broker_logs(self) -> list[Path]:
        return sorted((self.serve.data_dir / "brokers").glob(f"{self.id}*/broker.log"))

    def deployment(self) -> dict[str, Any]:
        body: dict[str, Any] = self.platform.get(f"/deployments/{self.id}", auth=self.key).json()
        return body

    def wait_status(self, status: str) -> dict[str, Any]:
        return poll(
            lambda: (d := self.deployment())["status"] == status and d, within=60, what=f"{self.id} {status}"
        )

    def set_nodes(self, nodes: int) -> None:
        changed = self.platform.put(f"/deployments/{self.id}", json={"nodes": nodes}, auth=self.key)
        assert changed.status_code == 200, changed.text
        poll(lambda: self.node_pids().keys() == set(self.node_ids(nodes)), within=60, what=f"{nodes} nodes")
        self.wait_status("running")

    def node_ids(self, nodes: int) -> list[str]:
        return [self.id] + [f"{self.id}.{n}" for n in range(2, nodes + 1)]

    def node_pids(self) -> dict[str, int]:
        """Broker id → pid of each live broker process of the deployment (from its ready file)."""
        pids: dict[str, int] = {}
        for ready in (self.serve.data_dir / "brokers").glob(f"{self.id}*/ready.json"):
            pid = int(json.loads(ready.read_text())["pid"])
            if is_alive(pid):
                pids[ready.parent.name] = pid
        return pids

    def clients(self, **params: int) -> dict[str, Any]:
        response = self.api.get("/clients", params=params, auth=self.app)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def is_alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return status != "Z"


@contextlib.contextmanager
def serve_with_cluster(data_dir: Path, *, anonymous: bool = True) -> Iterator[Cluster]:
    """A `serve` of its own (its NATS on a free port) with one 3-node deployment; stopped after, and its
    log printed (shown when a test failed)."""
    serve = ServeProcess(
        data_dir, serve_env(None, free_port_range(), {"MQTTCLOUD_NATS_PORT": str(free_port())})
    ).start()
    try:
        built = Cluster(serve, anonymous=anonymous)
        yield built
        built.close()
    finally:
        serve.stop()
        print(f"--- serve log ---\n{serve.stderr()[-20000:]}")


@pytest.fixture
def cluster(start_serve: Callable[..., ServeProcess]) -> Iterator[Cluster]:
    serve = start_serve(extra_env={"MQTTCLOUD_NATS_PORT": str(free_port())})
    built = Cluster(serve)
    yield built
    built.close()


def test_three_nodes_share_the_port_and_the_api_sees_clients_on_every_node(
    cluster: Cluster, clients: list[Client]
) -> None:
    pids = cluster.node_pids()
    assert sorted(pids) == cluster.node_ids(3)
    assert len(set(pids.values())) == 3
    nats_pid = int((cluster.serve.data_dir / "nats" / "nats-server.pid").read_text())
    assert is_alive(nats_pid)  # started for this deployment, under the data folder

    for index in range(CLIENTS):
        clients.append(Client(f"c{index:02d}").connect(cluster.address))
    listed = poll(lambda: (b := cluster.clients(limit=100))["meta"]["count"] == CLIENTS and b, what="clients")
    nodes = {row["clientid"]: row["node"] for row in listed["data"]}
    assert sorted(nodes) == [c.client_id for c in clients]
    names = {f"emqx@{broker_id}" for broker_id in cluster.node_ids(3)}
    assert set(nodes.values()) <= names
    assert len(set(nodes.values())) > 1, nodes  # the kernel spread them over the nodes

    paged = [row["clientid"] for page in (1, 2, 3) for row in cluster.clients(limit=5, page=page)["data"]]
    assert sorted(paged) == sorted(nodes)  # pages over the nodes: each client once
    assert cluster.clients(limit=5, page=3)["meta"]["hasnext"] is False

    stats = cluster.api.get("/stats", params={"aggregate": "true"}, auth=cluster.app).json()
    assert stats["connections.count"] == CLIENTS  # summed over the nodes

    for victim in (c for c in clients if nodes[c.client_id] != f"emqx@{cluster.id}"):
        kicked = cluster.api.delete(f"/clients/{victim.client_id}", auth=cluster.app)
        assert kicked.status_code == 204, kicked.text
        assert victim.disconnected.wait(5), "the kicked client stayed connected"
        break
    missing = cluster.api.delete("/clients/nobody", auth=cluster.app)
    assert missing.status_code == 404
    assert missing.json()["code"] == "CLIENTID_NOT_FOUND"
    poll(lambda: cluster.clients(limit=100)["meta"]["count"] == CLIENTS - 1, what="kicked client gone")


def test_nodes_change_3_1_2_and_a_killed_node_comes_back(cluster: Cluster, clients: list[Client]) -> None:
    before = cluster.node_pids()
    cluster.set_nodes(2)
    assert cluster.node_pids() == {b: before[b] for b in cluster.node_ids(2)}  # the kept nodes kept running
    cluster.set_nodes(1)
    cluster.set_nodes(2)
    assert not (cluster.serve.data_dir / "brokers" / f"{cluster.id}.3").exists()  # a removed node's files

    for index in range(4):
        clients.append(Client(f"k{index}").connect(cluster.address))
    poll(lambda: cluster.clients(limit=100)["meta"]["count"] == 4, what="clients on both nodes")

    second = f"{cluster.id}.2"
    killed = cluster.node_pids()[second]
    os.kill(killed, signal.SIGKILL)
    poll(lambda: cluster.node_pids().get(second, killed) != killed, within=30, what="node 2 restarted")
    cluster.wait_status("running")


def test_a_message_crosses_from_one_node_to_another(cluster: Cluster, clients: list[Client]) -> None:
    """Publisher and subscriber on different nodes of a deployment created through the API."""
    for index in range(CLIENTS):
        clients.append(Client(f"x{index:02d}").connect(cluster.address))
    listed = poll(lambda: (b := cluster.clients(limit=100))["meta"]["count"] == CLIENTS and b, what="clients")
    node_of = {row["clientid"]: row["node"] for row in listed["data"]}
    subscriber = clients[0]
    publisher = next(c for c in clients if node_of[c.client_id] != node_of[subscriber.client_id])
    received: list[bytes] = []
    subscriber.client.on_message = lambda _c, _u, message: received.append(bytes(message.payload))
    subscriber.client.subscribe("cross/node", qos=1)

    def delivered() -> bool:
        if not received:  # again until the subscription's route has reached the publisher's node
            publisher.client.publish("cross/node", b"hello", qos=1)
        return bool(received)

    poll(delivered, within=15, interval=0.3, what="a message from another node")
    assert set(received) == {b"hello"}
