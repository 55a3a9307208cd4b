"""A small asyncio HTTP/1.1 client for HTTP actions: one keep-alive connection, one request at a time.

`HttpConnection` is an `asyncio.Protocol` that sends a request and parses the response (status line,
headers, a `Content-Length`, chunked or read-until-close body); `HttpClient` keeps one connection to
the last origin it was asked for and opens another when that one closed. An HTTP action runs
`pool_size` clients, so its pool is `pool_size` keep-alive connections. No pipelining, no redirects.

Rules this module must not break:
- A connection carries the next request only once the previous response was read to its end; one that
  failed mid-response, or that said `connection: close`, is closed and never reused.
- Buffers are bounded: a response head over `MAX_HEAD` bytes or a body over `MAX_BODY` bytes fails the
  request (an action needs the status only).
- Errors are two kinds: `UnreachableError` (connect refused or timed out, DNS, TLS handshake: the target is
  down) and `RequestFailedError` (this request: timeout, connection lost, bad response).
"""

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from typing import Final, cast
from urllib.parse import urlsplit

MAX_HEAD: Final = 64 * 1024
MAX_BODY: Final = 4 * 1024 * 1024
_NO_BODY: Final = frozenset({204, 304})


class HttpError(Exception):
    """A request did not get a response; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnreachableError(HttpError):
    """No connection could be opened to the target."""


class RequestFailedError(HttpError):
    """A connection was open but this request got no complete response."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request goes: scheme, host, port, and the request target (path and query)."""

    tls: bool
    host: str
    port: int
    target: str

    @property
    def key(self) -> tuple[bool, str, int]:
        return self.tls, self.host, self.port

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str) -> Origin:
    """Raises: RequestFailedError unless `url` is an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RequestFailedError(f"bad URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestFailedError(f"bad URL {url!r}: not http(s) with a host")
    tls = parts.scheme == "https"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Origin(tls, parts.hostname, port or (443 if tls else 80), target)


def client_ssl_context(*, verify: bool, ca_pem: str | None) -> ssl.SSLContext:
    """The TLS context of an https target: the system's CAs, or `ca_pem`; no checks when not `verify`."""
    context = ssl.create_default_context(cadata=ca_pem if verify and ca_pem else None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    keep_alive: bool


def describe(exc: BaseException) -> str:
    """An exception as a status reason: `ConnectionRefusedError: [Errno 111] Connection refused`."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


class HttpConnection(asyncio.Protocol):
    """One HTTP/1.1 connection; `request` writes the bytes and awaits the parsed response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buf = bytearray()
        self._waiter: asyncio.Future[Response] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast: uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            done = self._parse(eof=True)
            if done is None:
                reason = describe(exc) if exc is not None else "connection closed before the response"
                waiter.set_exception(RequestFailedError(reason))
            else:
                waiter.set_result(done)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        waiter = self._waiter
        if waiter is None or waiter.done():
            if len(self._buf) > MAX_HEAD:  # a server talking out of turn
                self.close()
            return
        try:
            done = self._parse(eof=False)
        except RequestFailedError as exc:
            waiter.set_exception(exc)
            self.close()
            return
        if done is not None:
            waiter.set_result(done)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def request(self, data: bytes) -> Response:
        """Send one complete request (`data`) and return its response (the caller bounds the wait;
        a cancelled request closes the connection). Raises: RequestFailedError."""
        if self.closed or self.transport is None:
            raise RequestFailedError("connection closed")
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self.transport.write(data)
        try:
            response = await waiter
        except BaseException:
            self.close()
            raise
        finally:
            self._waiter = None
        if not response.keep_alive:
            self.close()
        return response

    def _parse(self, *, eof: bool) -> Response | None:
        """A complete response from the buffer (consumed), or None while more bytes are needed."""
        buf = self._buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise RequestFailedError("response head too large")
                return None
            lines = bytes(buf[:end]).split(b"\r\n")
            status_line = lines[0].split(b" ", 2)
            version, code = status_line[0], status_line[1] if len(status_line) > 1 else b""
            if not version.startswith(b"HTTP/") or not code.isdigit():
                raise RequestFailedError(f"bad status line: {lines[0][:80]!r}")
            status = int(code)
            if 100 <= status < 200:  # 100 Continue and friends: skip, the real answer follows
                del buf[: end + 4]
                continue
            break
        length: int | None = None
        chunked = False
        keep_alive = version != b"HTTP/1.0"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                if not value.strip().isdigit():
                    raise RequestFailedError("bad content-length")
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                token = value.strip().lower()
                keep_alive = token == b"keep-alive" or (keep_alive and token != b"close")
        start = end + 4
        if status in _NO_BODY:
            del buf[:start]
            return Response(status, b"", keep_alive)
        if chunked:
            return self._chunked(start, status, keep_alive)
        if length is not None:
            if length > MAX_BODY:
                raise RequestFailedError("response body too large")
            if len(buf) < start + length:
                return None
            body = bytes(buf[start : start + length])
            del buf[: start + length]
            return Response(status, body, keep_alive)
        # Neither: the body runs until the server closes.
        if len(buf) - start > MAX_BODY:
            raise RequestFailedError("response body too large")
        if not eof:
            return None
        body = bytes(buf[start:])
        buf.clear()
        return Response(status, body, keep_alive=False)

    def _chunked(self, start: int, status: int, keep_alive: bool) -> Response | None:
        buf = self._buf
        pos = start
        body = bytearray()
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size_text = bytes(buf[pos:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise RequestFailedError("bad chunk size") from None
            if size == 0:
                trailer_end = buf.find(b"\r\n\r\n", line_end)  # = line_end when there are no trailers
                if trailer_end < 0:
                    return None
                del buf[: trailer_end + 4]
                return Response(status, bytes(body), keep_alive)
            if len(body) + size > MAX_BODY:
                raise RequestFailedError("response body too large")
            chunk_end = line_end + 2 + size
            if len(buf) < chunk_end + 2:
                return None
            body += buf[line_end + 2 : chunk_end]
            pos = chunk_end + 2


async def open_connection(
    origin: Origin, *, ssl_context: ssl.SSLContext | None, connect_timeout: float
) -> HttpConnection:
    """A connected `HttpConnection` (TLS when the origin is https). Raises: UnreachableError."""
    loop = asyncio.get_running_loop()
    context = (ssl_context or client_ssl_context(verify=True, ca_pem=None)) if origin.tls else None
    try:
        async with asyncio.timeout(connect_timeout):
            _transport, conn = await loop.create_connection(
                HttpConnection,
                origin.host,
                origin.port,
                ssl=context,
                server_hostname=origin.host if context is not None else None,
            )
    except TimeoutError:
        raise UnreachableError("connect timeout") from None
    except (OSError, ssl.SSLError) as exc:
        raise UnreachableError(describe(exc)) from None
    return conn


class HttpClient:
    """One keep-alive connection, reopened as needed; `request` is not reentrant (one worker owns it)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None, connect_timeout: float, timeout: float) -> None:
        self._ssl = ssl_context
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._conn: HttpConnection | None = None
        self._key: tuple[bool, str, int] | None = None

    async def request(self, origin: Origin, data: bytes) -> Response:
        """Send `data` (a whole request) to `origin`. Raises: UnreachableError, RequestFailedError."""
        conn = self._conn
        if conn is None or conn.closed or self._key != origin.key:
            if conn is not None:
                conn.close()
            self._conn = None
            conn = await open_connection(origin, ssl_context=self._ssl, connect_timeout=self._connect_timeout)
            self._conn, self._key = conn, origin.key
        try:
            async with asyncio.timeout(self._timeout):
                return await conn.request(data)
        except TimeoutError:
            raise RequestFailedError("request timeout") from None
        finally:
            if conn.closed:
                self._conn = None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(RuntimeError):  # the loop may be closing
                conn.close()


def encode_request(method: str, origin: Origin, head: bytes, body: bytes) -> bytes:
    """The request's bytes: request line, `host`, the other header lines (`head`), length, body."""
    return b"".join(
        (
            f"{method} {origin.target} HTTP/1.1\r\nhost: {origin.host_header}\r\n".encode(),
            head,
            b"content-length: %d\r\n\r\n" % len(body),
            body,
        )
    )


def encode_headers(headers: dict[str, str]) -> bytes:
    """Header lines (each ending in CRLF). Raises: RequestFailedError on a name or value holding CR or LF."""
    lines = []
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n") or not name or ":" in name:
            raise RequestFailedError(f"bad header {name!r}")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("utf-8")
