"""The HTTP actions' client: request and response framing, on a fake transport."""

import asyncio

import pytest
from tests.unit.runtime.fakes import MockTransport

from mqttcloud.runtime.rules.httpclient import (
    MAX_HEAD,
    HttpConnection,
    RequestFailedError,
    Response,
    encode_headers,
    encode_request,
    parse_url,
)


async def answer(*chunks: bytes, close: bool = False) -> tuple[HttpConnection, MockTransport, Response]:
    """Send a request on a fake transport, feed `chunks` as the server's bytes, return the response."""
    conn = HttpConnection()
    transport = MockTransport(conn)
    conn.connection_made(transport)
    pending = asyncio.ensure_future(conn.request(b"GET / HTTP/1.1\r\n\r\n"))
    await asyncio.sleep(0)
    for chunk in chunks:
        conn.data_received(chunk)
    if close:
        conn.connection_lost(None)
    return conn, transport, await asyncio.wait_for(pending, 1)


async def test_content_length_body_split_across_reads() -> None:
    conn, _t, response = await answer(b"HTTP/1.1 201 Created\r\nContent-Le", b"ngth: 5\r\n\r\nhel", b"lo")
    assert (response.status, response.body, response.keep_alive) == (201, b"hello", True)
    assert not conn.closed


async def test_chunked_body_with_extensions_and_trailers() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    _c, _t, response = await answer(head, b"3;x=1\r\nabc\r\n", b"2\r\nde\r\n0\r\nX-T: 1\r\n\r\n")
    assert response.body == b"abcde"


async def test_body_until_close_and_connection_close() -> None:
    conn, transport, response = await answer(b"HTTP/1.0 200 OK\r\n\r\npartial", b" body", close=True)
    assert (response.body, response.keep_alive, conn.closed) == (b"partial body", False, True)
    conn, transport, response = await answer(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
    assert (response.status, conn.closed, transport.closed) == (204, True, True)


async def test_interim_100_continue_is_skipped() -> None:
    _c, _t, response = await answer(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
    )
    assert response.status == 200


@pytest.mark.parametrize(
    "data",
    [b"garbage\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"],
)
async def test_a_bad_response_fails_the_request_and_closes(data: bytes) -> None:
    with pytest.raises(RequestFailedError):
        await answer(data)


async def test_an_endless_head_is_refused() -> None:
    with pytest.raises(RequestFailedError, match="too large"):
        await answer(b"HTTP/1.1 200 OK\r\n" + b"x" * (MAX_HEAD + 1))


async def test_a_connection_lost_mid_body_fails_the_request() -> None:
    with pytest.raises(RequestFailedError, match="closed"):
        await answer(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", close=True)


def test_requests_are_framed_with_host_and_length() -> None:
    origin = parse_url("http://example.com:8080/in?x=1")
    data = encode_request("POST", origin, encode_headers({"x-k": "v"}), b"{}")
    assert data == b"POST /in?x=1 HTTP/1.1\r\nhost: example.com:8080\r\nx-k: v\r\ncontent-length: 2\r\n\r\n{}"
    assert parse_url("https://[::1]/").host_header == "[::1]"
    with pytest.raises(RequestFailedError):
        encode_headers({"x": "a\r\nevil: 1"})
    with pytest.raises(RequestFailedError):
        parse_url("ftp://host/")
