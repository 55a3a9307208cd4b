"""Console session cookies and CSRF tokens: signed, bound to the password hash, dated, constant-time."""

import stat
from pathlib import Path

import pytest

from mqttcloud.control.console.security import SECRET_FILE, LoginThrottle, Signer, load_secret

HASH = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"


def test_session_round_trip_names_the_account() -> None:
    signer = Signer(b"k" * 32)
    claims = signer.parse_session(signer.new_session(42, HASH))
    assert claims is not None
    assert claims.account_id == 42
    assert signer.verify_session(claims, HASH)


def test_changed_password_hash_invalidates_the_session() -> None:
    signer = Signer(b"k" * 32)
    claims = signer.parse_session(signer.new_session(1, HASH))
    assert claims is not None
    assert not signer.verify_session(claims, HASH + "x")


@pytest.mark.parametrize(
    "mutate", [lambda c: "2" + c[1:], lambda c: c[:-2] + "AA", lambda c: c + ".x", lambda c: ""]
)
def test_tampered_cookie_is_refused(mutate: object) -> None:
    signer = Signer(b"k" * 32)
    cookie = signer.new_session(1, HASH)
    forged = mutate(cookie)  # type: ignore[operator]  # the parametrized lambdas take and return str
    claims = signer.parse_session(forged)
    assert claims is None or not signer.verify_session(claims, HASH)


def test_other_secret_does_not_verify() -> None:
    cookie = Signer(b"a" * 32).new_session(1, HASH)
    claims = Signer(b"b" * 32).parse_session(cookie)
    assert claims is not None
    assert not Signer(b"b" * 32).verify_session(claims, HASH)


def test_expired_and_future_sessions_are_refused() -> None:
    signer = Signer(b"k" * 32, max_age=100)
    assert signer.parse_session(signer.new_session(1, HASH, now=1000.0), now=1099.0) is not None
    assert signer.parse_session(signer.new_session(1, HASH, now=1000.0), now=1101.0) is None
    assert signer.parse_session(signer.new_session(1, HASH, now=5000.0), now=1000.0) is None


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


def test_throttle_blocks_a_pair_after_too_many_failures_then_forgets() -> None:
    throttle = LoginThrottle(max_failures=3, window=60.0)
    for at in (0.0, 1.0, 2.0):
        assert not throttle.is_blocked("root", "10.0.0.1", at)
        throttle.failed("root", "10.0.0.1", at)
    assert throttle.is_blocked("root", "10.0.0.1", 3.0)
    assert not throttle.is_blocked("root", "10.0.0.2", 3.0)
    assert not throttle.is_blocked("alice", "10.0.0.1", 3.0)
    assert not throttle.is_blocked("root", "10.0.0.1", 61.0)


def test_throttle_success_clears_and_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_failures=2, window=60.0, max_pairs=3)
    throttle.failed("a", "x", 0.0)
    throttle.succeeded("a", "x")
    throttle.failed("a", "x", 1.0)
    assert not throttle.is_blocked("a", "x", 1.0)
    for name in ("b", "c", "d", "e"):
        throttle.failed(name, "x", 2.0)
    assert len(throttle._failures) == 3
