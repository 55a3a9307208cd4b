"""The admin channel authenticates each connection with its first line, within a deadline and a small
size; only then are large lines read. Raw sockets against a real broker."""

import base64
import json
import socket
import time

from tests.integration.broker.harness import TENANT, TOKEN, BrokerProcess

from mqttcloud import contracts
from mqttcloud.control.broker_client import BrokerClient
from mqttcloud.runtime.admin import AUTH_TIMEOUT, MAX_AUTH_LINE


def _connect(broker: BrokerProcess) -> socket.socket:
    assert broker.ready is not None
    return socket.create_connection(("127.0.0.1", broker.ready.admin.port), timeout=AUTH_TIMEOUT + 5)


def _line(request_id: int, token: str = TOKEN, op: str = "ping", **args: object) -> bytes:
    return json.dumps({"id": request_id, "token": token, "op": op, "args": args}).encode() + b"\n"


def test_idle_connection_without_a_request_is_closed_after_the_deadline(broker: BrokerProcess) -> None:
    with _connect(broker) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""
        assert AUTH_TIMEOUT - 0.5 <= time.monotonic() - started <= AUTH_TIMEOUT + 3


def test_oversized_first_line_is_refused_before_the_token_is_read(broker: BrokerProcess) -> None:
    """No newline in 4x MAX_AUTH_LINE bytes: refused at once, not read on towards MAX_ADMIN_LINE."""
    with _connect(broker) as sock:
        started = time.monotonic()
        try:
            sock.sendall(b"x" * (4 * MAX_AUTH_LINE))
            with sock.makefile("rb") as reader:
                answer = json.loads(reader.readline())
                assert answer["error"]["message"] == "request line too long"
                assert reader.readline() == b""
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed with our unread bytes in its buffer: a reset, also a refusal
        assert time.monotonic() - started < AUTH_TIMEOUT


def test_malformed_first_line_closes_the_connection(broker: BrokerProcess) -> None:
    with _connect(broker) as sock:
        sock.sendall(b"not json\n" + _line(2))
        with sock.makefile("rb") as reader:
            assert json.loads(reader.readline())["error"]["code"] == "BAD_REQUEST"
            assert reader.readline() == b""  # the valid ping after it is never read


def test_after_a_valid_first_line_large_lines_are_read(broker: BrokerProcess) -> None:
    with _connect(broker) as sock:
        big = _line(2, op="ping", padding="p" * (2 * MAX_AUTH_LINE))
        sock.sendall(_line(1) + big + _line(3))
        with sock.makefile("rb") as reader:
            answers = [json.loads(reader.readline()) for _ in range(3)]
        assert answers[0]["ok"] is True
        assert answers[1]["error"]["message"] != "request line too long"  # read whole, args refused
        assert answers[2]["ok"] is True


async def test_client_whose_first_request_is_large_authenticates_with_a_ping_first(
    broker: BrokerProcess,
) -> None:
    """A 3x MAX_AUTH_LINE publish as the first request of a fresh BrokerClient connection."""
    assert broker.ready is not None
    client = BrokerClient("127.0.0.1", broker.ready.admin.port, TOKEN, timeout=10)
    try:
        payload = base64.b64encode(b"m" * (3 * MAX_AUTH_LINE)).decode()
        args = contracts.PublishArgs(tenant=TENANT, topic="t/big", payload_b64=payload)
        result = await client.call("publish", args, contracts.PublishResult)
        assert result.matched == 0
    finally:
        await client.close()
