"""Inputs shared by the rule SQL tests: a published message as EMQX's columns carry it."""

import json
from typing import Final

NOW: Final = 1653561612.0  # 2022-05-26T10:40:12Z, the instant of EMQX's format_date example

PAYLOAD: Final = {
    "msg": "hello",
    "temp": 31.5,
    "n": 7,
    "x": {"y": 1, "z": {"deep": "down"}},
    "list": [1, 2, 3, 4],
    "idx": 2,
    "name": "sensor_1",
    "s": "12",
    "sensors": [{"idx": 0, "name": "t0"}, {"idx": 1, "name": "t1"}, {"idx": 2, "name": "t2"}],
    "enabled": True,
    "nothing": None,
}


def message(**overrides: object) -> dict[str, object]:
    """The columns of a message published by c_emqx on t/a with PAYLOAD as JSON."""
    columns: dict[str, object] = {
        "id": "0005E27C1D24E44FF440000017520000",
        "clientid": "c_emqx",
        "username": "u_emqx",
        "payload": json.dumps(PAYLOAD),
        "peerhost": "127.0.0.1",
        "topic": "t/a",
        "qos": 1,
        "flags": {"retain": False, "dup": False},
        "headers": {},
        "pub_props": {"User-Property": {"foo": "bar"}},
        "timestamp": 1645002753259,
        "publish_received_at": 1645002753259,
        "node": "emqx@127.0.0.1",
    }
    columns.update(overrides)
    return columns
