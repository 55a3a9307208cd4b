"""A real `serve` with `MQTTCLOUD_NATS_URL` and a real `nats-server`: the NATS alarm is raised when the
server dies and cleared when it is back, listed by the Platform API and POSTed to the webhook."""

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.broker.webhook import WebhookServer
from tests.integration.cluster.conftest import NATS_SERVER, Nats
from tests.integration.control.harness import ServeProcess, poll

pytestmark = pytest.mark.skipif(NATS_SERVER is None, reason="nats-server is not installed")


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[Nats]:
    server = Nats(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.close()


def _nats_alarms(api: httpx.Client, key: tuple[str, str], *, activated: bool) -> list[dict[str, Any]]:
    response = api.get("/alarms", params={"activated": activated}, auth=key)
    assert response.status_code == 200, response.text
    return [a for a in response.json()["data"] if a["name"] == "nats_unreachable"]


def _posted(webhook: WebhookServer) -> dict[str, Any]:
    """The next alarm POSTed (other alarms of the platform, if any, are skipped)."""
    while True:
        body: dict[str, Any] = webhook.get().json()
        if body["name"] == "nats_unreachable":
            return body


def test_a_dead_nats_server_raises_then_clears_the_nats_alarm(
    start_serve: Callable[..., ServeProcess], nats: Nats, webhook: WebhookServer
) -> None:
    env = {
        "MQTTCLOUD_NATS_URL": nats.url,
        "MQTTCLOUD_ALARM_INTERVAL": "0.3",
        "MQTTCLOUD_ALARM_WEBHOOK": webhook.url,
    }
    serve = start_serve("sqlite", env)
    key = serve.create_key()
    with serve.client() as api:
        time.sleep(1.0)  # a few checks (every 0.3 s) while the server answers: no alarm
        assert _nats_alarms(api, key, activated=True) == []

        nats.stop()
        (raised,) = poll(
            lambda: _nats_alarms(api, key, activated=True) or None, within=15, what="the NATS alarm"
        )
        assert raised["details"]["url"] == nats.url
        assert "refused" in raised["details"]["error"].lower()
        assert raised["node"] == "mqttcloud@platform"
        assert raised["deployment_id"] is None
        posted = _posted(webhook)
        assert (posted["event"], posted["details"]["url"]) == ("alarm.activate", nats.url)

        nats.start()
        (cleared,) = poll(
            lambda: _nats_alarms(api, key, activated=False) or None, within=15, what="the alarm cleared"
        )
        assert cleared["activated"] is False
        assert _nats_alarms(api, key, activated=True) == []
        assert _posted(webhook)["event"] == "alarm.deactivate"
