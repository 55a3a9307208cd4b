"""`serve --log-format json`: its lines and its brokers' lines are JSON objects (the supervisor passes the
choice on), and a request's `X-Request-Id` joins the API's line to the broker's line for the work it
caused."""

import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests.integration.control.harness import ServeProcess, free_port_range, poll, serve_env


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects of a log (the supervisor's `--- spawn` header lines are not the broker's)."""
    return [json.loads(line) for line in text.splitlines() if not line.startswith("--- ")]


@pytest.fixture
def json_serve(tmp_path: Path) -> Iterator[ServeProcess]:
    """A platform started with the flag (its environment has no MQTTCLOUD_LOG_FORMAT)."""
    serve = ServeProcess(tmp_path / "data", serve_env(None, free_port_range()), args=("--log-format", "json"))
    serve.start()
    yield serve
    serve.stop()
    print(f"--- serve log ---\n{serve.stderr()}")  # shown when the test failed


def test_a_kick_with_x_request_id_shows_that_id_in_the_brokers_json_line(json_serve: ServeProcess) -> None:
    serve = json_serve
    platform = serve.client()
    key = serve.create_key()
    created = platform.post("/deployments", json={"projectID": "default", "allowAnonymous": True}, auth=key)
    assert created.status_code == 201, created.text
    deployment_id: str = created.json()["deploymentID"]
    deployment = poll(
        lambda: (
            (d := platform.get(f"/deployments/{deployment_id}", auth=key).json())["status"] == "running" and d
        ),
        within=30,
        what="the deployment running",
    )
    host, port = deployment["endpoints"]["mqtt"].rsplit(":", 1)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="json-kicked", protocol=mqtt.MQTTv5)
    connected, disconnected = threading.Event(), threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.on_disconnect = lambda *_args: disconnected.set()
    client.connect(host, int(port), keepalive=30)
    client.loop_start()
    try:
        assert connected.wait(10)
        app = serve.create_deployment_key(deployment_id)
        context = ssl.create_default_context(cafile=str(serve.ca_path))
        with httpx.Client(base_url=serve.base_url + "/api/v5", verify=context, timeout=10.0) as api:
            kicked = api.delete("/clients/json-kicked", auth=app, headers={"X-Request-Id": "abc123"})
            assert kicked.status_code == 204, kicked.text
            assert kicked.headers["x-request-id"] == "abc123"
            unnamed = api.get("/clients", auth=app)
            assert len(unnamed.headers["x-request-id"]) == 16  # none sent: one generated
            insane = api.get("/clients", auth=app, headers={"X-Request-Id": "a b" + "x" * 200})
            assert insane.headers["x-request-id"] != "a b" + "x" * 200
        assert disconnected.wait(10)
    finally:
        client.loop_stop()
        platform.close()

    broker_log = serve.data_dir / "brokers" / deployment_id / "broker.log"

    def joined() -> list[dict[str, Any]] | None:
        lines = [line for line in json_lines(broker_log.read_text()) if line.get("request_id") == "abc123"]
        return lines if len(lines) >= 2 else None

    lines = poll(joined, within=10, what="the broker's lines for the kick")
    messages = [line["message"] for line in lines]
    assert f"tenant {deployment_id}: kick json-kicked: kicked" in messages, lines
    assert f"tenant {deployment_id}: client.disconnected clientid=json-kicked reason=kicked" in messages
    assert {line["actor"] for line in lines} == {f"deployment_key:{app[0]}"}
    assert {line["level"] for line in lines} == {"INFO"}
    assert all(line["time"].endswith("Z") for line in lines)

    served = json_lines(serve.stderr())  # every line of serve's stderr is one JSON object
    [request] = [line for line in served if line.get("request_id") == "abc123"]
    assert request["message"].startswith("DELETE /api/v5/clients/json-kicked -> 204"), request
    assert request["logger"] == "mqttcloud.control.request_ids"
    starting = [line for line in served if "starting: generation 1" in line["message"]]
    running = [line for line in served if "running: pid" in line["message"]]
    assert starting
    assert running
    assert "request_id" not in starting[0]  # a broker's worker outlives the request that created it
    assert "request_id" not in running[0]
