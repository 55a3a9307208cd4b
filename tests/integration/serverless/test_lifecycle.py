"""The Serverless lifecycle policy on a real platform, with times of seconds: an idle tenant is warned,
stopped, warned again and deleted by the alarm checker's rounds; one with a connected paho client is not."""

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from tests.integration.serverless.conftest import RunningPlatform, _broker_stderr, _start_platform
from tests.integration.serverless.test_clients import Paho, sni_context

from mqttcloud.control.alarms.checker import AlarmChecker
from mqttcloud.control.alarms.settings import AlarmSettings
from mqttcloud.control.serverless.lifecycle_policy import IDLE_STOPPED, LifecycleSettings

SECOND = dt.timedelta(seconds=1)
LIFECYCLE = LifecycleSettings(stop_after=10 * SECOND, delete_after=6 * SECOND, warn_before=(5 * SECOND,))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """A platform whose alarm checker runs only when the test says (its own timer: once an hour)."""
    data_dir = tmp_path_factory.mktemp("serverless-lifecycle")
    running, shutdown = _start_platform(
        data_dir,
        lambda s: replace(s, serverless_lifecycle=LIFECYCLE, alarms=AlarmSettings(interval=3600)),
    )
    try:
        yield running
    finally:
        with contextlib.suppress(Exception):
            shutdown()
        print(_broker_stderr(data_dir))


def _checker(platform: RunningPlatform) -> AlarmChecker:
    assert platform.app is not None
    checker: AlarmChecker = platform.app.state.alarm_checker
    return checker


def test_an_idle_serverless_deployment_is_warned_stopped_then_deleted(platform: RunningPlatform) -> None:
    idle = platform.create_serverless()
    busy = platform.create_serverless()
    client = Paho("lifecycle-busy", "tcp", sni_context(platform.ca_pem, platform.host(busy)))
    client.start(platform.mqtts_port)
    checker = _checker(platform)
    events: list[tuple[str, str | None, str]] = []
    statuses: list[str] = []
    listed_warning = False
    try:
        deadline = time.monotonic() + 60
        while (read := platform.api("GET", f"/deployments/{idle}")).status_code != 404:
            assert time.monotonic() < deadline, f"not deleted; alarms seen: {events}"
            if (status := read.json()["status"]) not in statuses[-1:]:
                statuses.append(status)
            raised, cleared = platform.run(checker.check())
            events += [("cleared", r.deployment_id, r.name) for r in cleared]
            events += [("raised", r.deployment_id, r.name) for r in raised]
            if not listed_warning and ("raised", idle, "serverless_stop_in_5s") in events:
                active = platform.api("GET", "/alarms", params={"activated": "true"}).json()["data"]
                (warning,) = [a for a in active if a["deployment_id"] == idle]
                assert warning["name"] == "serverless_stop_in_5s"
                assert "will be stopped at" in warning["message"]
                listed_warning = True
            time.sleep(0.5)
        assert platform.status(busy) == "running"
        assert client.connected.is_set()
    finally:
        client.stop()

    assert [(event, name) for event, did, name in events if did == idle] == [
        ("raised", "serverless_stop_in_5s"),
        ("cleared", "serverless_stop_in_5s"),  # the stop
        ("raised", IDLE_STOPPED),
        ("raised", "serverless_delete_in_5s"),
    ]
    assert [e for e in events if e[1] == busy] == []
    assert statuses[0] == "running"
    assert "stopped" in statuses
    audit = platform.api("GET", "/audit_logs", params={"from": "system"}).json()["data"]
    assert [(e["operation"], e["target"], e["source_kind"], e["source"]) for e in audit] == [
        (
            "DELETE /public_api/v1/deployments/{deployment_id}",
            f"deployment_id={idle}",
            "system",
            "serverless-lifecycle",
        ),
        (
            "POST /public_api/v1/deployments/{deployment_id}/stop",
            f"deployment_id={idle}",
            "system",
            "serverless-lifecycle",
        ),
    ]


def test_starting_a_deployment_the_policy_stopped_restarts_its_clock(platform: RunningPlatform) -> None:
    deployment_id = platform.create_serverless()
    checker = _checker(platform)
    deadline = time.monotonic() + 30
    while platform.status(deployment_id) != "stopped":
        assert time.monotonic() < deadline, "the policy did not stop the idle deployment"
        platform.run(checker.check())
        time.sleep(0.5)
    started = platform.api("POST", f"/deployments/{deployment_id}/start")
    assert started.status_code == 201, started.text
    platform.run(checker.check())  # it runs again: the idle clock starts over, no alarm holds
    active = platform.api("GET", "/alarms", params={"activated": "true"}).json()["data"]
    assert [a["name"] for a in active if a["deployment_id"] == deployment_id] == []
