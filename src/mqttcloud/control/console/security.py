"""Console sessions and CSRF tokens: HMAC-SHA256 with a secret kept in the data folder.

A session cookie is `<account id>.<issued at>.<nonce>.<signature>`. The signature covers the first three
parts *and* the account's current password hash, so changing a password (or deleting the account) ends
every session of that account without any server-side session table. The CSRF token of a session is an
HMAC of its nonce; the login form (no session yet) gets its own nonce cookie.

Rules: the secret never leaves `<data-dir>/console-secret` (mode 0600); every comparison of a presented
value is constant-time (`hmac.compare_digest`).
"""

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

SECRET_FILE = "console-secret"  # noqa: S105  (a file name, not a secret)
SESSION_COOKIE = "mqttcloud_console"
LOGIN_COOKIE = "mqttcloud_login"
SESSION_MAX_AGE = 12 * 3600  # seconds; the cookie's Max-Age and the signature's validity


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


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """What a valid session cookie says, before the account is loaded."""

    account_id: int
    issued_at: int
    nonce: str
    payload: str  # the signed part, re-signed with the password hash to verify
    signature: str


class Signer:
    """Signs and checks session cookies and CSRF tokens with one secret."""

    def __init__(self, secret: bytes, *, max_age: int = SESSION_MAX_AGE) -> None:
        self._secret = secret
        self.max_age = max_age

    def _mac(self, *parts: str) -> str:
        message = "\x1f".join(parts).encode("utf-8")
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())

    def new_session(self, account_id: int, password_hash: str, *, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        payload = f"{account_id}.{issued}.{secrets.token_urlsafe(16)}"
        return f"{payload}.{self._mac('session', payload, password_hash)}"

    def parse_session(self, cookie: str | None, *, now: float | None = None) -> SessionClaims | None:
        """Split and date-check a cookie; the signature is checked by `verify_session`."""
        if not cookie or len(cookie) > 512:
            return None
        parts = cookie.split(".")
        if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        issued = int(parts[1])
        current = time.time() if now is None else now
        if not issued <= current + 60 or current - issued > self.max_age:
            return None
        return SessionClaims(int(parts[0]), issued, parts[2], ".".join(parts[:3]), parts[3])

    def verify_session(self, claims: SessionClaims, password_hash: str) -> bool:
        expected = self._mac("session", claims.payload, password_hash)
        return hmac.compare_digest(expected.encode("ascii"), claims.signature.encode("ascii", "replace"))

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


class LoginThrottle:
    """Refuses sign-in for a (user name, client address) pair after too many recent failures.

    Argon2 already makes each guess slow; this bounds how many guesses one source gets per window.
    Pure bookkeeping: the caller passes the clock. Memory is bounded by dropping the oldest pairs.
    """

    def __init__(self, *, max_failures: int = 10, window: float = 600.0, max_pairs: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_pairs = max_pairs
        self._failures: dict[tuple[str, str], list[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def is_blocked(self, username: str, address: str, now: float) -> bool:
        return len(self._recent((username, address), now)) >= self.max_failures

    def failed(self, username: str, address: str, now: float) -> None:
        key = (username, address)
        times = self._recent(key, now)
        times.append(now)
        self._failures[key] = times
        while len(self._failures) > self.max_pairs:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop((username, address), None)
