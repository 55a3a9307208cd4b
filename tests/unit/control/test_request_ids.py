"""Request ids (`control/request_ids.py`): kept when sane, generated otherwise, answered and logged."""

import json
import logging
import re
from collections.abc import Iterator

import pytest
from tests.unit.control.conftest import Platform

from mqttcloud import logs
from mqttcloud.control.request_ids import accepted_id

GENERATED = re.compile(r"[0-9a-f]{16}")


@pytest.mark.parametrize("value", [b"abc123", b"3f2a-11ef.b:c/d+e=_", b"x" * 128])
def test_a_sane_incoming_id_is_kept(value: bytes) -> None:
    assert accepted_id(value) == value.decode()


@pytest.mark.parametrize("value", [None, b"", b"x" * 129, b"a b", b"a\nb", b"caf\xc3\xa9", b"<script>"])
def test_anything_else_gets_a_fresh_id(value: bytes | None) -> None:
    assert GENERATED.fullmatch(accepted_id(value))
    assert accepted_id(value) != accepted_id(value)


async def test_the_id_is_answered_on_every_surface(platform: Platform) -> None:
    for path in ("/public_api/v1/projects", "/console/login", "/api/v5/clients", "/status"):
        response = await platform.client.get(path, headers={"X-Request-Id": "abc123"})
        assert response.headers["x-request-id"] == "abc123", path
        response = await platform.client.get(path, headers={"X-Request-Id": "a b"})
        assert GENERATED.fullmatch(response.headers["x-request-id"]), path


class JsonLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def request_lines() -> Iterator[JsonLines]:
    handler = JsonLines()
    logger = logging.getLogger("mqttcloud.control.request_ids")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.setLevel(level)
    logger.removeHandler(handler)


async def test_writes_are_logged_with_their_id_and_actor_and_reads_are_not(
    platform: Platform, request_lines: JsonLines
) -> None:
    key = platform.key()
    response = await platform.client.post(
        "/public_api/v1/deployments",
        json={"projectID": "default"},
        auth=key,
        headers={"X-Request-Id": "req-1"},
    )
    await platform.client.get("/public_api/v1/projects", auth=key)  # a read: at DEBUG
    [line] = request_lines.lines
    assert response.status_code == 201, response.text
    assert str(line["message"]).startswith("POST /public_api/v1/deployments -> 201 (")
    assert (line["level"], line["request_id"], line["actor"]) == ("INFO", "req-1", f"platform_key:{key[0]}")


async def test_the_log_context_ends_with_the_request(platform: Platform) -> None:
    """httpx's ASGI transport runs the app in this very task: the middleware resets both values."""
    await platform.client.get("/public_api/v1/projects", auth=platform.key(), headers={"X-Request-Id": "r"})
    assert logs.request_id.get() is None
    assert logs.actor.get() is None
