"""The shadow relay's request parsing (the MQTT side; the relay itself runs in tests/integration)."""

import pytest

from mqttcloud.control.deployment_api.shadows import relay
from mqttcloud.control.deployment_api.shadows.service import Method
from mqttcloud.control.errors import BadRequest


def test_mqtt_request_parsing() -> None:
    assert relay.parse_request(b'{"method": "patch", "payload": {"a": 1}}') == (Method.PATCH, {"a": 1})
    assert relay.parse_request(b'{"method": "GET"}') == (Method.GET, {})
    for bad in (b"not json", b"[1]", b'{"method": "DELETE", "payload": {}}', b'{"payload": {}}'):
        with pytest.raises(BadRequest):
            relay.parse_request(bad)
