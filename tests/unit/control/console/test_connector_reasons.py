# ruff: noqa: RUF001  (the expected Chinese texts use full-width punctuation)
"""A connector's status reason on the console: what we word ourselves is translated whole, a target's own
error stays as it is inside a translated sentence, so a 中文 page shows no bare English reason."""

import re

import pytest

from mqttcloud.control.console import connector_reasons, i18n
from mqttcloud.control.deployment_api.integration.service import NOT_RUNNING

CJK = re.compile(r"[\u4e00-\u9fff]")


def zh(message: str) -> str:
    return i18n.translate("zh-CN", message)


def en(message: str) -> str:
    return i18n.translate("en", message)


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("", ""),
        ("disabled", "已禁用"),
        (NOT_RUNNING, "部署未运行"),
        ("connect timeout", "连接目标超时。"),
        ("request timeout", "目标未在规定时间内响应。"),
        ("CONNACK refused: NOT_AUTHORIZED", "目标 Broker 拒绝了连接：NOT_AUTHORIZED"),
        ("disconnected by the broker: SERVER_SHUTTING_DOWN", "目标 Broker 断开了连接：SERVER_SHUTTING_DOWN"),
        (
            "ConnectionRefusedError: [Errno 111] Connection refused",
            "无法连接目标：ConnectionRefusedError: [Errno 111] Connection refused",
        ),
        (
            "OperationalError: connection failed: FATAL: password authentication failed",
            "无法连接目标：OperationalError: connection failed: FATAL: password authentication failed",
        ),
    ],
)
def test_reasons_in_chinese(reason: str, shown: str) -> None:
    assert connector_reasons.reason_text(zh, reason) == shown


def test_every_sink_reason_is_a_chinese_sentence() -> None:
    for reason in [*connector_reasons.SINK_REASONS, *(p + "X" for p in connector_reasons.SINK_PREFIXES)]:
        assert CJK.search(connector_reasons.reason_text(zh, reason)), reason


def test_a_target_error_is_kept_whole_in_english_too() -> None:
    raw = "ConnectionRefusedError: [Errno 111] Connection refused"
    assert connector_reasons.reason_text(en, raw) == f"Cannot reach the target: {raw}"
    assert connector_reasons.reason_text(en, "connect timeout") == "Connecting to the target timed out."
