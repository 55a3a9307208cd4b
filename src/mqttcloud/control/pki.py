"""The platform certificate authority: one self-signed CA that issues the platform's own server certificates.

`mqttcloud serve` uses it for its HTTPS certificate and for the Serverless broker's wildcard certificate;
clients trust it by downloading `ca.pem` (EMQX Cloud's `emqxsl-ca.crt`).

Files in the CA directory: `ca.pem` (certificate, 0644) and `ca.key` (EC P-256 private key, unencrypted
PKCS#8, 0600; the directory is created 0700).

Rules this module must not break:
- An existing CA is never replaced: when only one of the two files exists, or they do not belong
  together, `load_or_create_ca` raises `PkiError` instead of minting a new CA that clients don't trust.
- Files are written to a temporary name and renamed, so a crash never leaves half a key; the key file is
  created with mode 0600 (never world-readable, even for a moment).
- An issued certificate never outlives the CA that signed it.
"""

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
CA_VALIDITY_DAYS = 3650
DEFAULT_SERVER_CERT_DAYS = 397  # the longest validity browsers accept for server certificates
_CLOCK_SKEW = dt.timedelta(minutes=5)  # not_before is backdated this much for clients with slow clocks
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_MAX_CN = 64  # ub-common-name (RFC 5280)

CaKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class PkiError(Exception):
    """The CA directory holds unusable material (reported to the operator)."""


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    return now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)


def _san_entry(host: str) -> x509.GeneralName:
    """A SAN for an IP address, a DNS name or a `*.` wildcard; ValueError for anything else."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    name = host.lower().rstrip(".")
    labels = name.split(".")
    if labels[0] == "*":
        labels = labels[1:]
        if len(labels) < 2:
            raise ValueError(f"wildcard {host!r} must cover a domain with at least two labels")
    if not labels or len(name) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        raise ValueError(f"{host!r} is neither an IP address nor a DNS name")
    return x509.DNSName(name)


@dataclass(frozen=True)
class CertificateAuthority:
    """A loaded CA: certificate, key and where they live."""

    cert: x509.Certificate
    key: CaKey
    directory: Path

    @property
    def ca_pem(self) -> str:
        """The CA certificate as PEM, for clients to trust."""
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def cert_path(self) -> Path:
        return self.directory / CA_CERT_FILE

    def issue_server_cert(
        self,
        hosts: Sequence[str],
        days: int = DEFAULT_SERVER_CERT_DAYS,
        *,
        now: dt.datetime | None = None,
    ) -> tuple[str, str]:
        """Issue a TLS server certificate for `hosts` with a fresh EC P-256 key.

        Args:
            hosts: DNS names, `*.domain` wildcards and IP addresses; the first is also the subject CN.
            days: validity, cut short to the CA's own expiry.
            now: issuing time (default: the current time).

        Returns:
            (certificate PEM, unencrypted PKCS#8 key PEM). The certificate is the leaf alone: the CA is
            a root, which clients hold already.

        Raises:
            ValueError: no hosts, an invalid host, `days` < 1, or the CA has expired.
        """
        if not hosts:
            raise ValueError("a server certificate needs at least one host")
        if days < 1:
            raise ValueError("days must be at least 1")
        issued_at = _now(now)
        ca_expiry = self.cert.not_valid_after_utc
        if issued_at >= ca_expiry:
            raise ValueError(f"the platform CA expired at {ca_expiry:%Y-%m-%d %H:%M:%S} UTC")
        sans = [_san_entry(host) for host in hosts]
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0][:_MAX_CN])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(issued_at - _CLOCK_SKEW)
            .not_valid_after(min(issued_at + dt.timedelta(days=days), ca_expiry))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def _create_ca_cert(key: CaKey, common_name: str, now: dt.datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mqttcloud"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=CA_VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed the mode os.open was given
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _load(directory: Path) -> CertificateAuthority:
    cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"cannot load the platform CA from {directory}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PkiError(f"{key_path} must hold an EC or RSA key")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(serialization.Encoding.DER, spki) != key.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ):
        raise PkiError(f"{key_path} is not the key of {cert_path}")
    if key_path.stat().st_mode & 0o077:
        key_path.chmod(0o600)  # tighten a key someone copied in with loose permissions
    return CertificateAuthority(cert=cert, key=key, directory=directory)


def load_or_create_ca(
    directory: Path,
    *,
    common_name: str = "mqttcloud platform CA",
    now: dt.datetime | None = None,
) -> CertificateAuthority:
    """Load the CA from `directory`, or create it there (EC P-256, 10 years) when neither file exists.

    Raises:
        PkiError: only one of ca.pem / ca.key exists, or they cannot be loaded or don't match.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    have_cert, have_key = cert_path.exists(), key_path.exists()
    if have_cert and have_key:
        return _load(directory)
    if have_cert or have_key:
        present, missing = (cert_path, key_path) if have_cert else (key_path, cert_path)
        raise PkiError(f"{present} exists but {missing} does not; refusing to replace the platform CA")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _create_ca_cert(key, common_name, _now(now))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_atomic(key_path, key_pem, 0o600)
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o600)  # owner-only (at_rest.py)
    return CertificateAuthority(cert=cert, key=key, directory=directory)
