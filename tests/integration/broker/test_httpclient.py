"""The HTTP actions' client against real servers on 127.0.0.1: keep-alive, chunked answers, TLS, timeouts."""

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from tests.certs import default_pki

from mqttcloud.runtime.rules.httpclient import (
    HttpClient,
    RequestFailedError,
    UnreachableError,
    client_ssl_context,
    encode_request,
    parse_url,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(run, "127.0.0.1", 0, ssl=tls)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def chunked_keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers every request on the connection with a chunked echo of its body and the connection's count."""
    count = 0
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        count += 1
        payload = body + b"#%d" % count
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload))
        await writer.drain()


@pytest.fixture
async def tls_port(tmp_path: Path) -> AsyncIterator[int]:
    pki = default_pki()
    (tmp_path / "chain.pem").write_text(pki.server_chain_pem)
    (tmp_path / "key.pem").write_text(pki.server.key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")
    async for port in serve(chunked_keep_alive, context):
        yield port


async def test_tls_keep_alive_reuses_one_connection(tls_port: int) -> None:
    ca = client_ssl_context(verify=True, ca_pem=default_pki().root.cert_pem)
    client = HttpClient(ssl_context=ca, connect_timeout=2, timeout=2)
    origin = parse_url(f"https://localhost:{tls_port}/x")
    try:
        for n in range(1, 4):
            response = await client.request(origin, encode_request("POST", origin, b"", b"hi"))
            assert (response.status, response.body) == (200, b"hi#%d" % n)  # the same connection
    finally:
        client.close()


async def test_tls_with_an_unknown_ca_is_unreachable(tls_port: int) -> None:
    client = HttpClient(
        ssl_context=client_ssl_context(verify=True, ca_pem=None), connect_timeout=2, timeout=2
    )
    origin = parse_url(f"https://localhost:{tls_port}/x")
    with pytest.raises(UnreachableError, match="CERTIFICATE_VERIFY_FAILED"):
        await client.request(origin, encode_request("POST", origin, b"", b""))
    insecure = HttpClient(
        ssl_context=client_ssl_context(verify=False, ca_pem=None), connect_timeout=2, timeout=2
    )
    try:
        assert (await insecure.request(origin, encode_request("GET", origin, b"", b""))).status == 200
    finally:
        insecure.close()


async def test_a_silent_server_times_out_and_a_closed_port_is_unreachable() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async for port in serve(silent):
        client = HttpClient(ssl_context=None, connect_timeout=1, timeout=0.2)
        origin = parse_url(f"http://127.0.0.1:{port}/")
        with pytest.raises(RequestFailedError, match="timeout"):
            await client.request(origin, encode_request("GET", origin, b"", b""))
        client.close()
    with pytest.raises(UnreachableError, match="ConnectionRefusedError"):
        await HttpClient(ssl_context=None, connect_timeout=1, timeout=1).request(
            origin, encode_request("GET", origin, b"", b"")
        )
