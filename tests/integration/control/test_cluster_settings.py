"""Every setting applies on every node of a 3-node deployment made by a real `mqttcloud serve` (issue #12):
MQTT users, ACL, bans, rules and TLS written through the Platform and Deployment APIs, and a kill -9 of one
node whose clients come back with traffic flowing.

The nodes share one port, so the kernel picks each connection's node: accepted clients are connected until
`GET /api/v5/clients` shows one on every node; a refusal leaves no client to list, so refused attempts are
made until every node's own `packets.connack.auth_error` (`GET /api/v5/metrics`, one object per node)
has grown. A write answers once every node applied it, so each rule is checked right after its write.
"""

import os
import queue
import signal
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from tests.integration.broker import mqtt_wire
from tests.integration.control.harness import poll
from tests.integration.control.test_clusters import Cluster, serve_with_cluster
from tests.integration.control.test_deployments_live import chain, served_certificate, trusting

from mqttcloud.control.supervisor.nats import find_binary

pytestmark = pytest.mark.skipif(find_binary("nats-server") is None, reason="nats-server is not installed")

NODES = 3
MOST = 40  # clients or attempts tried before giving up on reaching every node (odds of missing: ~1e-7)
AUTHN = "/authentication/password_based%3Abuilt_in_database/users"
ACL = "/authorization/sources/built_in_database/rules"
USER, PASSWORD = "member", "member-pw"
TIMEOUT = 10.0


class Member:
    """A paho client, its network loop in a thread, CONNACK codes, SUBACK codes and messages in queues.

    `topics` are subscribed (QoS 1) again after every CONNACK, so a client that paho reconnects on its
    own (after its node died) is `ready` again once they are acknowledged."""

    def __init__(
        self, client_id: str, *, username: str = USER, password: str = PASSWORD, version: int = 5,
        tls: ssl.SSLContext | None = None, topics: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        protocol = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        self.client_id = client_id
        self.version = version
        self.topics = topics
        self.paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        self.paho.username_pw_set(username, password)
        self.paho.reconnect_delay_set(1, 2)
        if tls is not None:
            self.paho.tls_set_context(tls)
        self.connacks: queue.Queue[int] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connections = 0
        self.ready = threading.Event()  # connected, and `topics` acknowledged on this connection
        self.disconnected = threading.Event()
        self.paho.on_connect = self._on_connect
        self.paho.on_subscribe = self._on_subscribe
        self.paho.on_disconnect = self._on_disconnect
        self.paho.on_message = lambda _c, _u, m: self.messages.put((m.topic, bytes(m.payload)))

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        self.connacks.put(rc.value)
        if rc.value != 0:
            return
        self.connections += 1
        if self.topics:
            client.subscribe([(topic, 1) for topic in self.topics])
        else:
            self.ready.set()

    def _on_subscribe(self, _c: object, _u: object, _m: int, codes: list[ReasonCode], _p: object) -> None:
        values = [code.value for code in codes]
        if self.topics and not self.ready.is_set() and all(v < 0x80 for v in values):
            self.ready.set()
        else:
            self.subacks.put(values)

    def _on_disconnect(self, _c: object, _u: object, _f: object, _rc: object, _p: Properties | None) -> None:
        self.ready.clear()
        self.disconnected.set()

    def connect(self, address: str) -> "Member":
        host, port = address.rsplit(":", 1)
        if self.version == 5:
            self.paho.connect(host, int(port), keepalive=30, clean_start=True)
        else:
            self.paho.connect(host, int(port), keepalive=30)
        self.paho.loop_start()
        code = self.connacks.get(timeout=TIMEOUT)
        assert code == 0, f"{self.client_id}: CONNACK {code:#x}"
        assert self.ready.wait(TIMEOUT), f"{self.client_id}: no SUBACK"
        return self

    def subscribe(self, topic: str) -> int:
        self.paho.subscribe(topic, 1)
        (code,) = self.subacks.get(timeout=TIMEOUT)
        return code

    def publish(self, topic: str, payload: bytes) -> None:
        self.paho.publish(topic, payload, qos=1).wait_for_publish(TIMEOUT)

    def received(self, within: float) -> list[tuple[str, bytes]]:
        """Everything that arrives until `within` s pass with nothing new."""
        got: list[tuple[str, bytes]] = []
        try:
            while True:
                got.append(self.messages.get(timeout=within))
        except queue.Empty:
            return got

    def close(self) -> None:
        """Disconnect, and drop the callbacks: paho keeps its wake-up socket pair open after `loop_stop`
        and closes it in `__del__`, which runs at once without the client → callback → self cycle (the
        cycle collector could finalize the sockets first: an unclosed-socket warning)."""
        self.paho.disconnect()
        self.paho.loop_stop()
        self.paho.on_connect = self.paho.on_subscribe = self.paho.on_disconnect = self.paho.on_message = None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A serve with one 3-node deployment that refuses anonymous clients, and the user `member`."""
    data_dir = tmp_path_factory.mktemp("cluster-settings") / "data"
    with serve_with_cluster(data_dir, anonymous=False) as built:
        added = built.api.post(AUTHN, json={"user_id": USER, "password": PASSWORD}, auth=built.app)
        assert added.status_code == 201, added.text
        yield built


@pytest.fixture
def opened() -> Iterator[list[Member]]:
    members: list[Member] = []
    yield members
    for member in members:
        member.close()


def node_names(cluster: Cluster) -> set[str]:
    return {f"emqx@{broker_id}" for broker_id in cluster.node_ids(NODES)}


def nodes_of(cluster: Cluster) -> dict[str, str]:
    """Client id → the node it is connected to, as the Deployment API lists them."""
    return {row["clientid"]: row["node"] for row in cluster.clients(limit=1000)["data"]}


def listing(cluster: Cluster, client_ids: set[str]) -> dict[str, str]:
    """`nodes_of` once every one of `client_ids` is listed."""

    def listed() -> dict[str, str] | None:
        nodes = nodes_of(cluster)
        return nodes if nodes.keys() >= client_ids else None

    return poll(listed, what=f"{len(client_ids)} clients listed")


def on_every_node(
    cluster: Cluster, opened: list[Member], make: Callable[[int], Member], address: str | None = None
) -> dict[str, list[Member]]:
    """Connect `make(0)`, `make(1)`, ... until the API lists one on every node: node → its members."""
    mine: list[Member] = []
    while True:
        for _ in range(NODES if not mine else 1):
            mine.append(make(len(mine)))
            opened.append(mine[-1].connect(address or cluster.address))
        listed = listing(cluster, {m.client_id for m in mine})
        by_node: dict[str, list[Member]] = {}
        for member in mine:
            by_node.setdefault(listed[member.client_id], []).append(member)
        if by_node.keys() == node_names(cluster):
            return by_node
        assert len(mine) < MOST, f"{len(mine)} clients landed on {sorted(by_node)} only"


def auth_errors(cluster: Cluster) -> dict[str, int]:
    """Each node's own `packets.connack.auth_error` counter."""
    response = cluster.api.get("/metrics", auth=cluster.app)
    assert response.status_code == 200, response.text
    return {one["node"]: one["packets.connack.auth_error"] for one in response.json()}


def connack(address: str, client_id: str, *, version: int, username: str, password: str) -> int:
    """The return code (3.1.1) or reason code (5) of a raw CONNECT's CONNACK."""
    host, port = address.rsplit(":", 1)
    assert host in {"127.0.0.1", "localhost"}, address
    with mqtt_wire.Client(int(port)) as raw:
        raw.send(mqtt_wire.connect(client_id, version=version, username=username, password=password))
        ack = raw.recv_packet()
    assert ack[0] == 0x20, ack.hex()
    start = 2 + next(i for i, byte in enumerate(ack[1:]) if byte < 0x80)  # past the remaining length
    return ack[start + 1]  # after the acknowledge flags


def refused_on_every_node(cluster: Cluster, attempt: Callable[[int], int], expected: int) -> int:
    """Make refused attempts until every node counted one; each must be refused with `expected`."""
    before = auth_errors(cluster)
    for index in range(MOST):
        code = attempt(index)
        assert code == expected, f"attempt {index}: {code:#x}, not {expected:#x}"
        if index % NODES == NODES - 1:
            after = auth_errors(cluster)
            if all(after[node] > before.get(node, 0) for node in node_names(cluster)):
                return index + 1
    raise AssertionError(f"{MOST} refusals did not reach every node: {auth_errors(cluster)} from {before}")


def test_a_user_connects_on_every_node_a_wrong_password_and_a_deleted_user_are_refused_on_every_node(
    cluster: Cluster, opened: list[Member]
) -> None:
    added = cluster.api.post(AUTHN, json={"user_id": "alice", "password": "alice-pw"}, auth=cluster.app)
    assert added.status_code == 201, added.text
    on_every_node(
        cluster,
        opened,
        lambda i: Member(f"alice-{i}", username="alice", password="alice-pw", version=4 + i % 2),
    )

    def wrong(version: int) -> Callable[[int], int]:
        return lambda i: connack(cluster.address, f"wrong-{version}-{i}", version=version, username="alice",
                                 password="not-it")  # fmt: skip

    refused_on_every_node(cluster, wrong(5), 0x86)  # Bad user name or password
    refused_on_every_node(cluster, wrong(4), 0x04)

    deleted = cluster.api.delete(f"{AUTHN}/alice", auth=cluster.app)
    assert deleted.status_code == 204, deleted.text

    def gone(version: int) -> Callable[[int], int]:
        return lambda i: connack(cluster.address, f"gone-{version}-{i}", version=version, username="alice",
                                 password="alice-pw")  # fmt: skip

    refused_on_every_node(cluster, gone(5), 0x87)  # no user matched, no anonymous: Not authorized
    refused_on_every_node(cluster, gone(4), 0x05)


def test_an_acl_deny_applies_on_every_node_and_its_removal_lifts_it(
    cluster: Cluster, opened: list[Member]
) -> None:
    rules = [{"topic": "acl/secret", "action": "all", "permission": "deny"}]
    added = cluster.api.post(f"{ACL}/users", json=[{"username": "aclu", "rules": rules}], auth=cluster.app)
    assert added.status_code == 204, added.text
    assert (
        cluster.api.post(AUTHN, json={"user_id": "aclu", "password": "pw"}, auth=cluster.app).status_code
        == 201
    )
    by_node = on_every_node(cluster, opened, lambda i: Member(f"acl-{i}", username="aclu", password="pw"))
    watcher = Member("acl-watch", topics=("acl/#",)).connect(cluster.address)
    opened.append(watcher)
    denied = [one[0] for one in by_node.values()]  # one on each node

    assert [member.subscribe("acl/secret") for member in denied] == [0x87] * NODES
    for member in denied:
        member.publish("acl/secret", member.client_id.encode())
    assert watcher.received(0.5) == []  # dropped on every node

    removed = cluster.api.delete(f"{ACL}/users/aclu", auth=cluster.app)
    assert removed.status_code == 204, removed.text
    assert [member.subscribe("acl/secret") for member in denied] == [1] * NODES
    for member in denied:
        member.publish("acl/secret", member.client_id.encode())
    got = watcher.received(1.0)
    assert sorted(got) == sorted(("acl/secret", member.client_id.encode()) for member in denied)


def test_a_banned_client_id_is_kicked_from_its_node_and_refused_on_every_node(
    cluster: Cluster, opened: list[Member]
) -> None:
    by_node = on_every_node(cluster, opened, lambda i: Member(f"ban-{i}"))
    first = f"emqx@{cluster.id}"
    victim = next(members[0] for node, members in sorted(by_node.items()) if node != first)  # not node 1
    others = [member for member in opened if member is not victim]
    ban = {"as": "clientid", "who": victim.client_id, "reason": "cluster test"}
    created = cluster.api.post("/banned", json=ban, auth=cluster.app)
    assert created.status_code == 200, created.text
    assert victim.disconnected.wait(5), "the banned client stayed connected"
    assert not any(member.disconnected.is_set() for member in others)

    def attempt(version: int) -> Callable[[int], int]:
        return lambda _i: connack(cluster.address, victim.client_id, version=version, username=USER,
                                  password=PASSWORD)  # fmt: skip

    refused_on_every_node(cluster, attempt(5), 0x8A)  # Banned
    refused_on_every_node(cluster, attempt(4), 0x05)

    lifted = cluster.api.delete(f"/banned/clientid/{victim.client_id}", auth=cluster.app)
    assert lifted.status_code == 204, lifted.text
    for version in (5, 4, 5, 4, 5, 4):  # accepted again, whichever node the kernel picks
        assert attempt(version)(0) == 0


def test_a_republish_rule_fires_on_every_node_and_reaches_a_subscriber_on_another(
    cluster: Cluster, opened: list[Member]
) -> None:
    rule = {
        "id": "cluster_republish",
        "sql": 'SELECT payload, clientid FROM "rin/#"',
        "actions": [
            {
                "function": "republish",
                "args": {"topic": "rout/${clientid}", "qos": 1, "payload": "${payload}"},
            }
        ],
    }
    created = cluster.api.post("/rules", json=rule, auth=cluster.app)
    assert created.status_code == 201, created.text
    by_node = on_every_node(cluster, opened, lambda i: Member(f"rule-{i}"))
    subscriber = Member("rule-sub", topics=("rout/#",)).connect(cluster.address)
    opened.append(subscriber)
    publishers = [members[0] for members in by_node.values()]
    for publisher in publishers:
        publisher.publish("rin/x", b"from " + publisher.client_id.encode())

    got = subscriber.received(1.0)
    assert sorted(got) == sorted((f"rout/{p.client_id}", b"from " + p.client_id.encode()) for p in publishers)
    node_of = nodes_of(cluster)
    assert {node_of[p.client_id] for p in publishers} - {node_of["rule-sub"]}  # some came from other nodes

    def counted() -> dict[str, int] | None:
        metrics: dict[str, int] = cluster.api.get(
            "/rules/cluster_republish/metrics", auth=cluster.app
        ).json()["metrics"]
        return metrics if metrics["matched"] == NODES else None

    assert poll(counted, within=5, what="the rule's counters summed over the nodes")["passed"] == NODES


def test_an_uploaded_certificate_is_served_by_every_node(cluster: Cluster, opened: list[Member]) -> None:
    root, cert, key = chain("cluster.localhost", 7)
    url = f"/deployments/{cluster.id}/tls"
    uploaded = cluster.platform.post(
        url, json={"tlsType": "one-way", "cert": cert, "key": key}, auth=cluster.key
    )
    assert uploaded.status_code == 200, uploaded.text
    poll(
        lambda: cluster.platform.get(url, auth=cluster.key).json()["status"] == "running",
        within=30,
        what="certificate running",
    )
    mqtts = cluster.deployment()["endpoints"]["mqtts"]
    assert mqtts is not None
    for _ in range(NODES):
        assert served_certificate(mqtts, trusting(root)) == "cluster.localhost"
    on_every_node(cluster, opened, lambda i: Member(f"tls-{i}", tls=trusting(root)), mqtts)


def test_kill_9_of_a_node_its_clients_come_back_and_traffic_flows_across_nodes(
    cluster: Cluster, opened: list[Member]
) -> None:
    members: list[Member] = []
    for index in range(12):
        members.append(Member(f"k{index:02d}", topics=(f"k/k{index:02d}",)))
        opened.append(members[-1].connect(cluster.address))
    node_of = listing(cluster, {m.client_id for m in members})

    def round_trip(label: str) -> bool:
        """Each member publishes to the next one's topic; True when every member got its message."""
        for index, member in enumerate(members):
            members[index - 1].paho.publish(f"k/{member.client_id}", label.encode(), qos=1)
        deadline = time.monotonic() + 1.0
        waiting = set(members)
        while waiting and time.monotonic() < deadline:
            for member in list(waiting):
                try:
                    _topic, payload = member.messages.get(timeout=0.01)
                except queue.Empty:
                    continue
                if payload == label.encode():
                    waiting.discard(member)
        return not waiting

    assert round_trip("before"), "no traffic before the kill"
    counts = {node: sum(1 for m in members if node_of[m.client_id] == node) for node in node_names(cluster)}
    victim_node = max(sorted(counts), key=lambda node: counts[node])
    victims = [m for m in members if node_of[m.client_id] == victim_node]
    before = {m.client_id: m.connections for m in victims}
    pid = cluster.node_pids()[victim_node.removeprefix("emqx@")]

    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    rounds = 0

    def back() -> bool:
        return all(m.connections > before[m.client_id] for m in victims) and all(
            m.ready.is_set() for m in members
        )

    poll(back, within=20, interval=0.05, what="the killed node's clients reconnected")
    reconnected = time.monotonic() - killed

    def flowing() -> bool:
        nonlocal rounds
        rounds += 1
        return round_trip(f"after-{rounds}")

    poll(flowing, within=20, interval=0.0, what="traffic across the nodes again")
    recovered = time.monotonic() - killed
    after = nodes_of(cluster)
    print(
        f"kill -9 of {victim_node} ({len(victims)} of {len(members)} clients): back in {reconnected:.2f} s, "
        f"traffic flowing in {recovered:.2f} s ({rounds} rounds); now on {sorted(set(after.values()))}"
    )
    assert after.keys() >= {m.client_id for m in members}
    assert len({after[m.client_id] for m in members}) > 1  # still across nodes
    assert recovered <= 10.0
