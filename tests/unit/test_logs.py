"""Log formats and the request context: `logs.py`, shared by `serve` and brokers."""

import asyncio
import contextvars
import json
import logging
import sys

import pytest

from mqttcloud import logs


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("mqttcloud.test", logging.WARNING, __file__, 1, message, args, exc_info)


def in_context(request: str | None, who: str | None, line: logging.LogRecord, fmt: logging.Formatter) -> str:
    """Format `line` in a context of its own (the test's context is left as it was)."""

    def run() -> str:
        logs.bind(request, who)
        return fmt.format(line)

    return contextvars.copy_context().run(run)


def test_json_line_has_time_level_logger_message_and_no_context_when_unknown() -> None:
    body = json.loads(in_context(None, None, record("kick %s: %s", "c1", "kicked"), logs.JsonFormatter()))
    assert body.keys() == {"time", "level", "logger", "message"}
    assert body["message"] == "kick c1: kicked"
    assert (body["level"], body["logger"]) == ("WARNING", "mqttcloud.test")
    assert body["time"].endswith("Z")
    assert len(body["time"]) == len("2026-12-03T13:54:02.840Z")


def test_json_line_carries_request_id_and_actor_escaped_as_given() -> None:
    line = in_context('abc"123', "deployment_key:app\n1", record("x"), logs.JsonFormatter())
    assert "\n" not in line
    body = json.loads(line)
    assert (body["request_id"], body["actor"]) == ('abc"123', "deployment_key:app\n1")


def test_json_line_carries_the_traceback_as_text() -> None:
    body = json.loads(in_context(None, None, record("failed", exc=True), logs.JsonFormatter()))
    assert "ValueError: boom" in body["exc_info"]


def test_text_line_appends_request_id_and_actor_when_known() -> None:
    fmt = logs._TextWithRequest(logs.TEXT_FORMAT)
    assert in_context(None, None, record("x"), fmt).endswith("mqttcloud.test: x")
    assert in_context("r1", "account:root", record("x"), fmt).endswith(": x request_id=r1 actor=account:root")


@pytest.mark.parametrize(("value", "expected"), [("json", "json"), (" JSON ", "json"), ("text", "text")])
def test_parse_format(value: str, expected: str) -> None:
    assert logs.parse_format(value) == expected


def test_parse_format_refuses_an_unknown_format_naming_it() -> None:
    with pytest.raises(ValueError, match=r"one of text, json, not 'yaml'"):
        logs.parse_format("yaml")


async def test_unbound_context_drops_the_request_of_the_task_that_starts_it() -> None:
    async def seen() -> tuple[str | None, str | None]:
        return logs.request_id.get(), logs.actor.get()

    async def request() -> tuple[tuple[str | None, str | None], tuple[str | None, str | None]]:
        logs.bind("r1", "account:root")
        inherited = await asyncio.create_task(seen())
        detached = await asyncio.create_task(seen(), context=logs.unbound())
        return inherited, detached

    inherited, detached = await asyncio.create_task(request())
    assert inherited == ("r1", "account:root")
    assert detached == (None, None)
