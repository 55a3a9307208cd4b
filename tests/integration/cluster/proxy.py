"""A TCP proxy in front of nats-server that delays what one side sends, for cluster race tests.

`SlowLink(upstream_port)` listens on an ephemeral 127.0.0.1 port (`url`) and relays every connection
to the upstream port; bytes from the client (a node) reach the server `delay` seconds after they were
read, in order, and the server's answers come back at once. `delay` can be changed at any time (it
applies to bytes read from then on). `cut` closes every relayed connection and refuses new ones (the
node loses NATS, the server drops its subscriptions) until `restore`; `close` stops for good.
"""

import contextlib
import socket
import threading
import time
from collections import deque


class SlowLink:
    def __init__(self, upstream_port: int, delay: float = 0.0) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self.url = f"nats://127.0.0.1:{self.port}"
        self._sockets: list[socket.socket] = [self._server]
        self._closed = False
        self._refusing = False  # `cut`: accepted connections are closed at once
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="slow-link-accept").start()

    def _accept(self) -> None:
        while True:
            try:
                client, _addr = self._server.accept()
            except OSError:
                return
            if self._refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            threading.Thread(target=self._delayed, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._relay, args=(upstream, client), daemon=True).start()

    def _relay(self, src: socket.socket, dst: socket.socket) -> None:
        """Server to node, at once."""
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        self._shut(dst)

    def _delayed(self, src: socket.socket, dst: socket.socket) -> None:
        """Node to server: each read is written `delay` seconds after it was read, in order."""
        pending: deque[tuple[float, bytes]] = deque()
        ready = threading.Condition()
        done = threading.Event()

        def writer() -> None:
            while True:
                with ready:
                    while not pending and not done.is_set():
                        ready.wait()
                    if not pending:
                        break
                    due, data = pending.popleft()
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    dst.sendall(data)
                except OSError:
                    break
            self._shut(dst)

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            while data := src.recv(65536):
                with ready:
                    pending.append((time.monotonic() + self.delay, data))
                    ready.notify()
        except OSError:
            pass
        with ready:
            done.set()
            ready.notify()

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Close every relayed connection and refuse new ones until `restore`."""
        with self._lock:
            self._refusing = True
            relayed = self._sockets[1:]
            self._sockets = self._sockets[:1]
        self._close_all(relayed)

    def restore(self) -> None:
        """Relay new connections again after `cut`."""
        self._refusing = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sockets, self._sockets = self._sockets, []
        self._close_all(sockets)

    @staticmethod
    def _close_all(sockets: list[socket.socket]) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
