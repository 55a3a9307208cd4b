"""A cluster that stands in for one broker process: the single-broker suites run against 3 nodes.

`ClusterBroker(spec, directory)` starts its own `nats-server` and N broker processes from one
`BrokerSpec` (each node gets the spec with `cluster`, its own `node_name`, data folder, ready file and
ports, plus the harness's `mesh` listener and tenant), and answers the part of `BrokerProcess`'s
interface the suites use: `port(name)` hands out the nodes' ports round-robin, so the clients of one
test land on different nodes; `admin_raw` asks the nodes in turn and answers with the first that
knows the client (as the Deployment API does across nodes). `start` returns once every node routes to
every other (a probe message crossed each pair).
"""

import time
from itertools import count
from pathlib import Path
from typing import Any

from tests.integration.broker.harness import BrokerProcess, listener
from tests.integration.cluster.clients import Paho
from tests.integration.cluster.conftest import NODE_TIMEOUT, Nats

from mqttcloud import contracts

NODES = 3
MESH = "mesh"  # the harness's own listener and tenant, for the probes of `wait_meshed`
MESH_TENANT = contracts.TenantId(MESH)


class ClusterBroker:
    def __init__(self, spec: contracts.BrokerSpec, directory: Path, nodes: int = NODES) -> None:
        self.spec = spec
        self.directory = directory
        self.nats = Nats(directory)
        cluster = contracts.ClusterSpec(
            nats_url=self.nats.url, name=spec.broker_id, node_timeout=NODE_TIMEOUT
        )
        self.nodes: list[BrokerProcess] = []
        for n in range(1, nodes + 1):
            node_dir = directory / f"node{n}"
            node_dir.mkdir(parents=True, exist_ok=True)
            node_spec = spec.model_copy(
                update={
                    "listeners": [*spec.listeners, listener(MESH, "tcp", tenant=MESH)],
                    "tenants": [
                        *spec.tenants,
                        contracts.TenantSpec(tenant_id=MESH_TENANT, allow_anonymous=True),
                    ],
                    "node_name": f"emqx@{spec.broker_id}.{n}",
                    "data_dir": str(node_dir / "data"),
                    "ready_file": str(node_dir / "ready.json"),
                    "cluster": cluster,
                }
            )
            self.nodes.append(BrokerProcess(node_spec, node_dir))
        self._turn = count()

    def start(self) -> None:
        self.nats.start()
        for node in self.nodes:
            node.start()
        self.wait_meshed()

    def wait_meshed(self, timeout: float = 20.0) -> None:
        """Every node forwards to every other: a probe published on each node reached each other node.

        The probes go through the harness's own tenant and listener (`MESH`), so a suite's tenant (which
        may refuse anonymous clients) sees none of them; nodes know each other for all tenants at once.
        """
        subs = [Paho(node.port(MESH), f"mesh-sub-{i}") for i, node in enumerate(self.nodes)]
        pubs = [Paho(node.port(MESH), f"mesh-pub-{i}") for i, node in enumerate(self.nodes)]
        try:
            for i, sub in enumerate(subs):
                sub.subscribe(f"mesh/{i}")
            missing = {(j, i) for i in range(len(subs)) for j in range(len(pubs)) if i != j}
            deadline = time.monotonic() + timeout
            while missing:
                assert time.monotonic() < deadline, f"nodes not meshed: publisher, subscriber {missing}"
                for j, i in missing:
                    pubs[j].publish(f"mesh/{i}", str(j).encode())
                time.sleep(0.1)
                for i, sub in enumerate(subs):
                    for message in sub.drain(0.01):
                        missing.discard((int(message.payload), i))
        finally:
            for client in subs + pubs:
                client.close()

    def port(self, name: str = "tcp:default") -> int:
        """The next node's port of listener `name` (round-robin over the nodes)."""
        return self.nodes[next(self._turn) % len(self.nodes)].port(name)

    def admin_raw(self, request: dict[str, object], timeout: float = 10.0) -> dict[str, Any]:
        """The first node's answer that finds something (`count` > 0), else the last node's answer."""
        answer: dict[str, Any] = {}
        for node in self.nodes:
            answer = node.admin_raw(request, timeout)
            result = answer.get("result")
            if answer.get("ok") and isinstance(result, dict) and result.get("count", 1):
                return answer
        return answer

    def stderr(self) -> str:
        return "\n".join(f"---- {node.spec.node_name} ----\n{node.stderr()[-8000:]}" for node in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.stop()
        self.nats.stop()
