"""The single-broker black-box and interop suites, run again against a 3-node cluster (issue #12).

The tests are `tests/integration/broker/test_black_box.py` and `test_interop.py` themselves, collected
here a second time; this module's fixtures (`broker`, `broker_factory`, `tls_broker`) shadow the
single-broker ones with a `ClusterBroker`, whose `port()` hands out the nodes round-robin, so the
clients of one test connect to different nodes. Every test of both suites holds on 3 nodes: none is
about one node only (the single-node lifecycle suite, test_lifecycle.py, is not collected here).
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.broker import test_black_box, test_interop
from tests.integration.broker.harness import listener, make_spec
from tests.integration.broker.test_interop import (
    ca_file,  # noqa: F401  (a fixture the suite uses)
    interop_spec,
)
from tests.integration.cluster.conftest import NATS_SERVER
from tests.integration.cluster.harness import ClusterBroker

from mqttcloud import contracts

pytestmark = pytest.mark.skipif(NATS_SERVER is None, reason="nats-server is not installed")

#: The suites' tests, collected here too (the function objects themselves: nothing here marks them).
globals().update(
    {
        name: test
        for suite in (test_black_box, test_interop)
        for name, test in vars(suite).items()
        if name.startswith("test_") and callable(test)
    }
)


def _start(spec: contracts.BrokerSpec, directory: Path) -> ClusterBroker:
    cluster = ClusterBroker(spec, directory)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _stop(cluster: ClusterBroker) -> None:
    cluster.stop()
    print(cluster.stderr())


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterBroker]:
    directory = tmp_path_factory.mktemp("cluster")
    spec = make_spec(directory, listeners=[listener("tcp:default", "tcp"), listener("ws:default", "ws")])
    cluster = _start(spec, directory)
    yield cluster
    _stop(cluster)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterBroker]:
    directory = tmp_path_factory.mktemp("cluster-interop")
    spec = interop_spec(directory)
    cluster = _start(spec, directory)
    yield cluster
    _stop(cluster)


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[[contracts.BrokerSpec], ClusterBroker]]:
    started: list[ClusterBroker] = []

    def start(spec: contracts.BrokerSpec) -> ClusterBroker:
        cluster = _start(spec, Path(spec.data_dir).parent)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        _stop(cluster)
