"""A deployment's nodes: broker ids and names (spec_builder) and the status they add up to (policy)."""

import pytest

from mqttcloud.control.deployments.spec_builder import node_broker_id, node_ids, node_name, split_broker_id
from mqttcloud.control.supervisor.policy import BrokerStatus, combined_status

S = BrokerStatus


def test_node_one_keeps_the_deployment_id_and_others_are_numbered() -> None:
    assert node_ids("w41b11c0", 3) == ["w41b11c0", "w41b11c0.2", "w41b11c0.3"]
    assert node_broker_id("w41b11c0", 1) == "w41b11c0"
    assert [node_name(b) for b in node_ids("w41b11c0", 2)] == ["emqx@w41b11c0", "emqx@w41b11c0.2"]


@pytest.mark.parametrize(
    ("broker_id", "parts"),
    [("w41b11c0", ("w41b11c0", 1)), ("w41b11c0.2", ("w41b11c0", 2)), ("w41b11c0.16", ("w41b11c0", 16))],
)
def test_split_broker_id_gives_deployment_and_index(broker_id: str, parts: tuple[str, int]) -> None:
    assert split_broker_id(broker_id) == parts
    assert node_broker_id(*parts) == broker_id


@pytest.mark.parametrize(
    ("statuses", "combined"),
    [
        ([S.RUNNING], S.RUNNING),
        ([S.RUNNING, S.RUNNING, S.RUNNING], S.RUNNING),
        ([S.RUNNING, S.STARTING], S.STARTING),
        ([S.RUNNING, S.STOPPED], S.STARTING),  # a node not started yet (or just added)
        ([S.RUNNING, S.FAILED], S.FAILED),
        ([S.STOPPING, S.FAILED], S.FAILED),
        ([S.STOPPED, S.STOPPING], S.STOPPING),
        ([S.RUNNING, S.STOPPING], S.STOPPING),
        ([S.STOPPED, S.STOPPED], S.STOPPED),
    ],
)
def test_deployment_runs_when_every_node_runs_and_fails_when_one_fails(
    statuses: list[BrokerStatus], combined: BrokerStatus
) -> None:
    assert combined_status(statuses) is combined
