"""Fixtures that run the real broker process (`python -m mqttcloud broker --config FILE`) on port 0.

`broker_factory(spec)` writes the spec as JSON, starts the process, waits (with a deadline) for the
ReadyFile and returns a `BrokerProcess`. At teardown every process is stopped (SIGTERM, then SIGKILL)
and its stderr is printed, which pytest shows only for failing tests.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.broker.harness import BrokerProcess, listener, make_spec

from mqttcloud import contracts


def _stop_all(started: list[BrokerProcess]) -> None:
    for proc in started:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.stop()
        text = proc.stderr()
        if text:
            print(f"---- broker stderr ({proc.stderr_path}) ----\n{text[-20000:]}")


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[[contracts.BrokerSpec], BrokerProcess]]:
    """Start brokers for one test; each is stopped (and its stderr printed) at teardown."""
    started: list[BrokerProcess] = []

    def start(spec: contracts.BrokerSpec) -> BrokerProcess:
        proc = BrokerProcess(spec, tmp_path)
        started.append(proc)
        proc.start()
        return proc

    yield start
    _stop_all(started)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker per test module: TCP and WS listeners for tenant t1, anonymous allowed.

    Tests sharing it use distinct client ids and topics.
    """
    directory = tmp_path_factory.mktemp("broker")
    proc = BrokerProcess(
        make_spec(directory, listeners=[listener("tcp:default", "tcp"), listener("ws:default", "ws")]),
        directory,
    )
    proc.start()
    yield proc
    _stop_all([proc])
