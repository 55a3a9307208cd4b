"""Console CSRF tokens, the console secret, and sign-in protection (throttle, client address, gate)."""

import ipaddress
import stat
from pathlib import Path

import pytest

from mqttcloud.control.config import IPNetwork
from mqttcloud.control.console.security import (
    SECRET_FILE,
    LoginThrottle,
    Signer,
    SignInBusy,
    SignInGate,
    client_address,
    load_secret,
)


def test_csrf_token_is_tied_to_the_nonce() -> None:
    signer = Signer(b"k" * 32)
    token = signer.csrf_token("nonce-one")
    assert signer.check_csrf("nonce-one", token)
    assert not signer.check_csrf("nonce-two", token)
    assert not signer.check_csrf("nonce-one", None)
    assert not signer.check_csrf("nonce-one", "é" + token[1:])


def test_secret_is_created_private_and_reused(tmp_path: Path) -> None:
    first = load_secret(tmp_path / "data")
    assert len(first) == 32
    mode = (tmp_path / "data" / SECRET_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert load_secret(tmp_path / "data") == first


def test_truncated_secret_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_bytes(b"short")
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        load_secret(tmp_path)


def test_throttle_counts_per_address_and_forgets() -> None:
    """Failures from one address never block another (a real user elsewhere keeps signing in)."""
    throttle = LoginThrottle(max_failures=3, window=60.0)
    for at in (0.0, 1.0, 2.0):
        assert not throttle.is_blocked("10.0.0.1", at)
        throttle.failed("10.0.0.1", at)
    assert throttle.is_blocked("10.0.0.1", 3.0)
    assert not throttle.is_blocked("10.0.0.2", 3.0)
    assert not throttle.is_blocked("10.0.0.1", 61.0)


def test_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_failures=2, window=60.0, max_addresses=3)
    for address in ("a", "b", "c", "d", "e"):
        throttle.failed(address, 2.0)
    assert len(throttle._failures) == 3


PROXY = (ipaddress.ip_network("10.1.0.0/16"),)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", "198.51.100.1", (), "203.0.113.9"),  # no trusted proxies: the header is ignored
        ("203.0.113.9", "198.51.100.1", PROXY, "203.0.113.9"),  # an untrusted peer's header is ignored
        ("10.1.0.5", "198.51.100.1", PROXY, "198.51.100.1"),
        ("10.1.0.5", "6.6.6.6, 198.51.100.1", PROXY, "198.51.100.1"),  # client-written hops prove nothing
        ("10.1.0.5", "198.51.100.1, 10.1.0.7", PROXY, "198.51.100.1"),  # two trusted proxies in a row
        ("10.1.0.5", "garbage", PROXY, "10.1.0.5"),
        ("2001:db8:1:2::5", None, (), "2001:db8:1:2::/64"),
    ],
)
def test_client_address_honours_forwarded_for_only_from_trusted_proxies(
    peer: str, forwarded: str | None, trusted: tuple[IPNetwork, ...], expected: str
) -> None:
    assert client_address(peer, forwarded, trusted) == expected


async def test_sign_in_gate_refuses_when_no_slot_frees_in_time() -> None:
    gate = SignInGate(limit=1, wait=0.05)
    async with gate.slot():
        with pytest.raises(SignInBusy):
            async with gate.slot():
                pass
    async with gate.slot():  # the slot is free again
        pass
