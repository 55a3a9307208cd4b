"""Console CSRF tokens, the session cookie's name, and sign-in protection (throttle, concurrency gate).

Sessions themselves live in the database (`accounts/sessions.py`): the cookie holds a random token. The
CSRF token of a session is an HMAC of its nonce, with a secret kept in the data folder; the login form
(no session yet) gets its own nonce cookie.

Sign-in protection: failures are counted per client address (`client_address`: X-Forwarded-For counts
only when the peer is a configured trusted proxy, MQTTCLOUD_TRUSTED_PROXIES), so one source's guesses
never lock a user out at another address; `SignInGate` caps concurrent sign-ins (each runs Argon2), an
excess request waits briefly and then gets 429.

Rules: the secret never leaves `<data-dir>/console-secret` (mode 0600); every comparison of a presented
value is constant-time (`hmac.compare_digest`).
"""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from mqttcloud.control.config import IPNetwork

SECRET_FILE = "console-secret"  # noqa: S105  (a file name, not a secret)
SESSION_COOKIE = "mqttcloud_console"
LOGIN_COOKIE = "mqttcloud_login"
SESSION_MAX_AGE = 12 * 3600  # seconds; the cookie's Max-Age (the server-side row expires with it)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_secret(data_dir: Path) -> bytes:
    """Read the console secret, creating it (32 random bytes, mode 0600) on first use.

    Two processes starting together agree: the file is created with O_EXCL and the loser reads it.
    """
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) >= 32:
            return secret
        raise ValueError(f"{path} is shorter than 32 bytes; delete it to get a new one") from None
    secret = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret


class Signer:
    """Makes and checks CSRF tokens with one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, *parts: str) -> str:
        message = "\x1f".join(parts).encode("utf-8")
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())

    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def check_csrf(self, nonce: str, presented: str | None) -> bool:
        if not presented:
            return False
        expected = self.csrf_token(nonce)
        return hmac.compare_digest(expected.encode("ascii"), presented.encode("ascii", "replace"))

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(16)


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """The address a sign-in is counted against.

    The TCP peer, unless it is a trusted proxy: then the right-most X-Forwarded-For entry that is not a
    trusted proxy (entries left of it were written by the client and prove nothing). IPv6 addresses count
    per /64, the block one subscriber usually gets.
    """
    address = _parse_ip(peer or "")
    if address is not None and forwarded_for and _is_trusted(address, trusted):
        for entry in reversed(forwarded_for.split(",")):
            hop = _parse_ip(entry)
            if hop is None:
                break  # a garbled hop: count the request against the last address we could trust
            address = hop
            if not _is_trusted(hop, trusted):
                break
    if address is None:
        return peer or ""
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class SignInBusy(Exception):  # noqa: N818  (a refusal, answered with 429)
    """Too many sign-ins are being checked at once; the caller answers 429."""


class SignInGate:
    """Caps concurrent sign-ins: each costs an Argon2 run (CPU and memory); an excess one waits up to
    `wait` seconds for a slot, then is refused."""

    def __init__(self, *, limit: int = 4, wait: float = 2.0) -> None:
        self.limit = limit
        self.wait = wait
        self._semaphore = asyncio.Semaphore(limit)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Raises: SignInBusy when no slot frees within `wait` seconds."""
        try:
            async with asyncio.timeout(self.wait):
                await self._semaphore.acquire()
        except TimeoutError:
            raise SignInBusy from None
        try:
            yield
        finally:
            self._semaphore.release()


class LoginThrottle:
    """Refuses sign-in from a client address after too many recent failures from it.

    Argon2 already makes each guess slow; this bounds how many guesses one source gets per window, and a
    success does not reset it (an attacker with one valid account could otherwise guess on forever).
    Failures from one address never block another. Pure bookkeeping: the caller passes the clock. Memory
    is bounded by dropping the oldest addresses.
    """

    def __init__(self, *, max_failures: int = 20, window: float = 600.0, max_addresses: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_addresses = max_addresses
        self._failures: dict[str, list[float]] = {}

    def _recent(self, address: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(address, []) if now - t < self.window]
        if times:
            self._failures[address] = times
        else:
            self._failures.pop(address, None)
        return times

    def is_blocked(self, address: str, now: float) -> bool:
        return len(self._recent(address, now)) >= self.max_failures

    def failed(self, address: str, now: float) -> None:
        times = self._recent(address, now)
        times.append(now)
        self._failures[address] = times
        while len(self._failures) > self.max_addresses:
            del self._failures[next(iter(self._failures))]
