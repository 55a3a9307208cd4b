"""The platform CA: created once with safe file modes, reloaded unchanged, issuing certs TLS accepts."""

import datetime as dt
import os
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from tests.certs import make_self_signed

from mqttcloud.control.certificates.validation import validate_tls_upload
from mqttcloud.control.pki import CA_CERT_FILE, CA_KEY_FILE, PkiError, load_or_create_ca


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_ca_files_with_private_key_mode_0600(tmp_path: Path) -> None:
    ca = load_or_create_ca(tmp_path / "pki")
    assert _mode(tmp_path / "pki" / CA_KEY_FILE) == 0o600
    assert _mode(tmp_path / "pki") == 0o700
    assert (tmp_path / "pki" / CA_CERT_FILE).read_text() == ca.ca_pem
    assert ca.cert_path == tmp_path / "pki" / CA_CERT_FILE
    assert not [p for p in (tmp_path / "pki").iterdir() if p.name.startswith(".")]  # no temp files left


def test_ca_certificate_is_a_self_signed_ca(tmp_path: Path) -> None:
    ca = load_or_create_ca(tmp_path)
    cert = x509.load_pem_x509_certificate(ca.ca_pem.encode())
    cert.verify_directly_issued_by(cert)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign


def test_reload_returns_the_same_ca(tmp_path: Path) -> None:
    first = load_or_create_ca(tmp_path)
    second = load_or_create_ca(tmp_path)
    assert second.ca_pem == first.ca_pem


def test_reload_tightens_loose_key_permissions(tmp_path: Path) -> None:
    load_or_create_ca(tmp_path)
    (tmp_path / CA_KEY_FILE).chmod(0o644)
    load_or_create_ca(tmp_path)
    assert _mode(tmp_path / CA_KEY_FILE) == 0o600


@pytest.mark.parametrize("missing", [CA_CERT_FILE, CA_KEY_FILE])
def test_half_a_ca_is_never_replaced(tmp_path: Path, missing: str) -> None:
    load_or_create_ca(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(PkiError, match="refusing to replace"):
        load_or_create_ca(tmp_path)


def test_mismatched_key_is_refused(tmp_path: Path) -> None:
    load_or_create_ca(tmp_path)
    (tmp_path / CA_KEY_FILE).write_text(make_self_signed().key_pem)
    with pytest.raises(PkiError, match="is not the key of"):
        load_or_create_ca(tmp_path)


def test_garbage_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / CA_CERT_FILE).write_text("garbage")
    (tmp_path / CA_KEY_FILE).write_text("garbage")
    with pytest.raises(PkiError, match="cannot load"):
        load_or_create_ca(tmp_path)


def test_server_cert_has_hosts_as_sans_and_is_signed_by_the_ca(tmp_path: Path) -> None:
    ca = load_or_create_ca(tmp_path)
    cert_pem, _ = ca.issue_server_cert(["*.mqtt.example.com", "Broker.example.com", "127.0.0.1", "::1"])
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    cert.verify_directly_issued_by(ca.cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["*.mqtt.example.com", "broker.example.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert cert.subject.rfc4514_string() == "CN=*.mqtt.example.com"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_server_cert_validity_is_days_and_capped_by_the_ca(tmp_path: Path) -> None:
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    ca = load_or_create_ca(tmp_path, now=now)
    cert_pem, _ = ca.issue_server_cert(["a.example"], days=10, now=now)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    assert cert.not_valid_after_utc == now + dt.timedelta(days=10)
    assert cert.not_valid_before_utc < now
    long_pem, _ = ca.issue_server_cert(["a.example"], days=100_000, now=now)
    capped = x509.load_pem_x509_certificate(long_pem.encode())
    assert capped.not_valid_after_utc == ca.cert.not_valid_after_utc


def test_expired_ca_refuses_to_issue(tmp_path: Path) -> None:
    ca = load_or_create_ca(tmp_path)
    with pytest.raises(ValueError, match="expired"):
        ca.issue_server_cert(["a.example"], now=ca.cert.not_valid_after_utc)


@pytest.mark.parametrize(
    "hosts",
    [[], ["bad host"], ["*.com"], ["a.*.example"], ["-a.example"], ["a" * 64 + ".example"], [""]],
)
def test_invalid_hosts_are_refused(tmp_path: Path, hosts: list[str]) -> None:
    ca = load_or_create_ca(tmp_path)
    with pytest.raises(ValueError, match=r"host|wildcard|DNS"):
        ca.issue_server_cert(hosts)


def test_days_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="days"):
        load_or_create_ca(tmp_path).issue_server_cert(["a.example"], days=0)


def test_issued_cert_passes_upload_validation(tmp_path: Path) -> None:
    ca = load_or_create_ca(tmp_path)
    cert_pem, key_pem = ca.issue_server_cert(["broker.example"])
    result = validate_tls_upload(
        tls_type="one-way", cert_pem=cert_pem, key_pem=key_pem, cacert_pem=None, now=dt.datetime.now(dt.UTC)
    )
    assert result.cn == "broker.example"


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, server_hostname: str) -> None:
    """A TLS handshake over memory BIOs: no sockets."""
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    s = server.wrap_bio(s_in, s_out, server_side=True)
    c = client.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    done = {"s": False, "c": False}
    for _ in range(20):
        for name, obj in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


@pytest.mark.parametrize("server_hostname", ["x.mqtt.example.com", "127.0.0.1"])
def test_openssl_client_trusting_the_ca_accepts_the_issued_cert(tmp_path: Path, server_hostname: str) -> None:
    ca = load_or_create_ca(tmp_path / "ca")
    cert_pem, key_pem = ca.issue_server_cert(["*.mqtt.example.com", "127.0.0.1"])
    (tmp_path / "server.pem").write_text(cert_pem)
    (tmp_path / "server.key").write_text(key_pem)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    client = ssl.create_default_context(cadata=ca.ca_pem)
    _handshake(server, client, server_hostname)


def test_openssl_client_refuses_a_host_not_in_the_cert(tmp_path: Path) -> None:
    ca = load_or_create_ca(tmp_path / "ca")
    cert_pem, key_pem = ca.issue_server_cert(["*.mqtt.example.com"])
    (tmp_path / "server.pem").write_text(cert_pem)
    (tmp_path / "server.key").write_text(key_pem)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    client = ssl.create_default_context(cadata=ca.ca_pem)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(server, client, "a.b.mqtt.example.com")  # a wildcard covers one label only


def test_ca_certificate_is_world_readable_even_under_a_strict_umask(tmp_path: Path) -> None:
    """Clients download ca.pem; a umask of 077 must not make it private (the key stays 0600)."""
    old = os.umask(0o077)
    try:
        load_or_create_ca(tmp_path)
    finally:
        os.umask(old)
    assert _mode(tmp_path / CA_CERT_FILE) == 0o600
    assert _mode(tmp_path / CA_KEY_FILE) == 0o600
