"""The RFC 6455 server codec: handshake, masking, fragmentation, control frames, bounds."""

import base64
import os

import pytest

from mqttcloud.runtime.websocket import (
    MAX_HANDSHAKE,
    CloseCode,
    Closed,
    Data,
    HandshakeError,
    Opcode,
    Reply,
    Request,
    WebSocketServer,
    WsState,
    accept_key,
    apply_mask,
    encode_frame,
)

KEY = base64.b64encode(b"0123456789abcdef").decode()


def handshake(path: str = "/mqtt", protocols: str = "mqtt", key: str = KEY, version: str = "13") -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: keep-alive, Upgrade",
        f"Sec-WebSocket-Key: {key}",
        f"Sec-WebSocket-Version: {version}",
    ]
    if protocols:
        lines.append(f"Sec-WebSocket-Protocol: {protocols}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def client_frame(opcode: Opcode, payload: bytes, *, fin: bool = True) -> bytes:
    frame = bytearray(encode_frame(opcode, payload, mask=b"\x01\x02\x03\x04"))
    if not fin:
        frame[0] &= 0x7F
    return bytes(frame)


def opened() -> WebSocketServer:
    ws = WebSocketServer()
    (req,) = ws.receive_data(handshake())
    assert isinstance(req, Request)
    ws.accept(req)
    return ws


def test_accept_key_matches_rfc_example() -> None:
    # RFC 6455 section 1.3
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_handshake_split_in_single_bytes_yields_one_request() -> None:
    ws = WebSocketServer()
    data = handshake()
    events = []
    for i in range(len(data)):
        events += ws.receive_data(data[i : i + 1])
    assert len(events) == 1
    assert isinstance(events[0], Request)
    assert events[0].subprotocols == ["mqtt"]


def test_accept_selects_mqtt_subprotocol() -> None:
    ws = WebSocketServer()
    (req,) = ws.receive_data(handshake(protocols="mqttv3.1, mqtt"))
    assert isinstance(req, Request)
    response = ws.accept(req).decode()
    assert response.startswith("HTTP/1.1 101 ")
    assert f"Sec-WebSocket-Accept: {accept_key(KEY)}\r\n" in response
    assert "Sec-WebSocket-Protocol: mqtt\r\n" in response
    assert ws.state is WsState.OPEN


def test_wrong_path_is_404() -> None:
    ws = WebSocketServer()
    with pytest.raises(HandshakeError) as info:
        ws.receive_data(handshake(path="/other"))
    assert info.value.status == 404
    assert ws.reject(404, "nope").startswith(b"HTTP/1.1 404 Not Found\r\n")


def test_query_string_is_ignored_for_path_match() -> None:
    ws = WebSocketServer()
    (req,) = ws.receive_data(handshake(path="/mqtt?x=1"))
    assert isinstance(req, Request)


def test_bad_version_is_426() -> None:
    with pytest.raises(HandshakeError) as info:
        WebSocketServer().receive_data(handshake(version="8"))
    assert info.value.status == 426


def test_bad_key_is_400() -> None:
    with pytest.raises(HandshakeError) as info:
        WebSocketServer().receive_data(handshake(key="short"))
    assert info.value.status == 400


def test_oversized_handshake_is_refused() -> None:
    ws = WebSocketServer()
    with pytest.raises(HandshakeError) as info:
        ws.receive_data(b"GET /mqtt HTTP/1.1\r\nX: " + b"a" * (MAX_HANDSHAKE + 1))
    assert info.value.status == 431


def test_frames_coalesced_with_handshake_come_after_accept() -> None:
    ws = WebSocketServer()
    (req,) = ws.receive_data(handshake() + client_frame(Opcode.BINARY, b"\x10\x00"))
    assert isinstance(req, Request)
    ws.accept(req)
    assert ws.pending_events() == [Data(b"\x10\x00")]


def test_binary_frames_unmask_and_split_anywhere() -> None:
    ws = opened()
    payload = os.urandom(70000)  # 64-bit length form
    data = client_frame(Opcode.BINARY, payload) + client_frame(Opcode.BINARY, b"abc")
    got = b""
    for i in range(0, len(data), 777):
        for ev in ws.receive_data(data[i : i + 777]):
            assert isinstance(ev, Data)
            got += ev.data
    assert got == payload + b"abc"


def test_fragmented_message_delivers_each_fragment() -> None:
    ws = opened()
    events = ws.receive_data(
        client_frame(Opcode.BINARY, b"ab", fin=False)
        + client_frame(Opcode.PING, b"p")
        + client_frame(Opcode.CONTINUATION, b"cd")
    )
    assert events == [Data(b"ab"), Reply(encode_frame(Opcode.PONG, b"p")), Data(b"cd")]


def test_unmasked_frame_is_protocol_error() -> None:
    ws = opened()
    (ev,) = ws.receive_data(encode_frame(Opcode.BINARY, b"x"))
    assert isinstance(ev, Closed)
    assert ev.code == CloseCode.PROTOCOL_ERROR
    assert ev.reply[:2] == b"\x88\x02" or ev.reply[0] == 0x88
    assert ws.state is WsState.CLOSED
    assert ws.receive_data(b"more") == []


def test_text_frame_is_unsupported_data() -> None:
    ws = opened()
    (ev,) = ws.receive_data(client_frame(Opcode.TEXT, b"hello"))
    assert isinstance(ev, Closed)
    assert ev.code == CloseCode.UNSUPPORTED_DATA


def test_frame_larger_than_limit_refused_before_payload() -> None:
    ws = WebSocketServer(max_message=100)
    (req,) = ws.receive_data(handshake())
    assert isinstance(req, Request)
    ws.accept(req)
    header = client_frame(Opcode.BINARY, b"x" * 200)[:8]  # header + mask only
    (ev,) = ws.receive_data(header)
    assert isinstance(ev, Closed)
    assert ev.code == CloseCode.MESSAGE_TOO_BIG


def test_fragments_summing_past_limit_refused() -> None:
    ws = WebSocketServer(max_message=100)
    (req,) = ws.receive_data(handshake())
    assert isinstance(req, Request)
    ws.accept(req)
    assert ws.receive_data(client_frame(Opcode.BINARY, b"x" * 60, fin=False)) == [Data(b"x" * 60)]
    (ev,) = ws.receive_data(client_frame(Opcode.CONTINUATION, b"x" * 60))
    assert isinstance(ev, Closed)
    assert ev.code == CloseCode.MESSAGE_TOO_BIG


def test_close_frame_is_echoed() -> None:
    ws = opened()
    (ev,) = ws.receive_data(client_frame(Opcode.CLOSE, b"\x03\xe8bye"))
    assert ev == Closed(code=1000, reason="bye", reply=encode_frame(Opcode.CLOSE, b"\x03\xe8"))


def test_continuation_without_start_is_protocol_error() -> None:
    ws = opened()
    (ev,) = ws.receive_data(client_frame(Opcode.CONTINUATION, b"x"))
    assert isinstance(ev, Closed)
    assert ev.code == CloseCode.PROTOCOL_ERROR


def test_reserved_bits_are_protocol_error() -> None:
    ws = opened()
    frame = bytearray(client_frame(Opcode.BINARY, b"x"))
    frame[0] |= 0x40
    (ev,) = ws.receive_data(bytes(frame))
    assert isinstance(ev, Closed)
    assert ev.code == CloseCode.PROTOCOL_ERROR


def test_send_is_unmasked_binary_frame() -> None:
    ws = opened()
    assert ws.send(b"\x20\x02\x00\x00") == b"\x82\x04\x20\x02\x00\x00"


def test_apply_mask_is_involution() -> None:
    data = os.urandom(1001)
    assert apply_mask(apply_mask(data, b"abcd"), b"abcd") == data
    assert apply_mask(b"", b"abcd") == b""
