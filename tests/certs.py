"""Certificate factories for tests: CAs, intermediates, server and client leaves, bad material.

How to import: `from tests.certs import default_pki, make_leaf, ...`. The suite runs from the repository
root (`python -m pytest`, as scripts/test.sh does), which puts the root on sys.path; `tests` is a
namespace package (no __init__.py anywhere under tests/).

The small API:
- `private_key(kind, index=0)`: a cached key ("ec256", "ec384", "rsa1024", "rsa2048", "ed25519");
  different `index` values give different keys. RSA generation is slow, so reuse these.
- `make_root_ca(...)`, `make_intermediate(issuer, ...)`, `make_leaf(issuer, ...)`, `make_self_signed(...)`
  return an `Issued` (certificate + key) with `.cert_pem`, `.key_pem` (PKCS#8, unencrypted),
  `.key_pem_traditional` (PKCS#1 / SEC1), `.encrypted_key_pem(password)` and `.write(dir)`.
- `pem_bundle(*items)`: concatenate certificates as PEM (leaf first, then its chain).
- `default_pki()`: one cached, valid set for a whole test session: root → intermediate → server leaf
  (hosts localhost, 127.0.0.1, ::1), a client leaf issued by the root (two-way TLS), and an unrelated root
  with its own client (a client the server must refuse).
- `v1_certificate_pem(issued)`: the same certificate re-encoded as X.509 v1 (for the "v3 only" rule).

Times are real UTC (not_before one day ago, not_after a year ahead) unless passed explicitly.

Recipes for bad material:
- expired leaf: `make_leaf(default_pki().intermediate, not_before=past, not_after=past)`;
- wrong key: pair a certificate with `Issued(cert, private_key("ec256", 1))` or `new_key()`'s PEM;
- encrypted key: `issued.encrypted_key_pem(b"pw")`; RSA 1024: `make_self_signed(key=private_key("rsa1024"))`;
- two-way TLS: server trusts `default_pki().root.cert_pem` as client CA; `client` passes, `other_client`
  is refused.
"""

import datetime as dt
import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyKind = Literal["ec256", "ec384", "rsa1024", "rsa2048", "ed25519"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


def new_key(kind: KeyKind = "ec256") -> PrivateKey:
    """A fresh (uncached) private key of the given kind."""
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ed25519.Ed25519PrivateKey.generate()


@functools.cache
def private_key(kind: KeyKind = "ec256", index: int = 0) -> PrivateKey:
    """A key cached per (kind, index) for the whole session: same arguments, same key."""
    return new_key(kind)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _hash_for(key: PrivateKey) -> hashes.SHA256 | None:
    # Ed25519 signs without a separate digest; cryptography wants None for it.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        """PKCS#8 `-----BEGIN PRIVATE KEY-----`, unencrypted."""
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    @property
    def key_pem_traditional(self) -> str:
        """`-----BEGIN RSA PRIVATE KEY-----` or `-----BEGIN EC PRIVATE KEY-----`, unencrypted."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()

    def encrypted_key_pem(self, password: bytes = b"secret") -> str:
        """PKCS#8 `-----BEGIN ENCRYPTED PRIVATE KEY-----` protected by `password`."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        ).decode()

    def write(self, directory: Path, name: str = "cert") -> tuple[Path, Path]:
        """Write `<name>.pem` and `<name>.key` into `directory`; return (cert path, key path)."""
        cert_path = directory / f"{name}.pem"
        key_path = directory / f"{name}.key"
        cert_path.write_text(self.cert_pem)
        key_path.write_text(self.key_pem)
        key_path.chmod(0o600)
        return cert_path, key_path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _build(
    *,
    subject: str,
    key: PrivateKey,
    issuer: Issued | None,
    ca: bool,
    path_length: int | None,
    hosts: Sequence[str],
    client: bool,
    not_before: dt.datetime | None,
    not_after: dt.datetime | None,
) -> Issued:
    now = _now()
    signer_key = issuer.key if issuer is not None else key
    issuer_name = issuer.cert.subject if issuer is not None else _name(subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    if ca:
        builder = builder.add_extension(
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
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if hosts:
            builder = builder.add_extension(_san(hosts), critical=False)
    cert = builder.sign(signer_key, _hash_for(signer_key))
    return Issued(cert=cert, key=key)


def make_root_ca(
    cn: str = "mqttcloud test root CA",
    *,
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """A self-signed CA certificate (default key: `private_key("ec256", 100)`)."""
    return _build(
        subject=cn,
        key=key or private_key("ec256", 100),
        issuer=None,
        ca=True,
        path_length=None,
        hosts=(),
        client=False,
        not_before=not_before,
        not_after=not_after,
    )


def make_intermediate(
    issuer: Issued,
    cn: str = "mqttcloud test intermediate CA",
    *,
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """A CA certificate (path length 0) issued by `issuer` (default key: `private_key("ec256", 101)`)."""
    return _build(
        subject=cn,
        key=key or private_key("ec256", 101),
        issuer=issuer,
        ca=True,
        path_length=0,
        hosts=(),
        client=False,
        not_before=not_before,
        not_after=not_after,
    )


def make_leaf(
    issuer: Issued,
    cn: str = "localhost",
    *,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    key: PrivateKey | None = None,
    client: bool = False,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """An end-entity certificate issued by `issuer`: serverAuth with SAN `hosts`, or clientAuth if `client`.

    The default key is `private_key("ec256", 102)` (server) or `private_key("ec256", 103)` (client).
    """
    return _build(
        subject=cn,
        key=key or private_key("ec256", 103 if client else 102),
        issuer=issuer,
        ca=False,
        path_length=None,
        hosts=hosts,
        client=client,
        not_before=not_before,
        not_after=not_after,
    )


def make_self_signed(
    cn: str = "localhost",
    *,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """A self-signed server certificate (not a CA), as Dedicated deployments may upload."""
    return _build(
        subject=cn,
        key=key or private_key("ec256", 104),
        issuer=None,
        ca=False,
        path_length=None,
        hosts=hosts,
        client=False,
        not_before=not_before,
        not_after=not_after,
    )


def pem_bundle(*items: Issued | x509.Certificate) -> str:
    """Concatenate certificates as PEM, in the order given (leaf first)."""
    parts = []
    for item in items:
        cert = item.cert if isinstance(item, Issued) else item
        parts.append(cert.public_bytes(serialization.Encoding.PEM).decode())
    return "".join(parts)


@dataclass(frozen=True)
class Pki:
    """A consistent set of test certificates; see `default_pki`."""

    root: Issued
    intermediate: Issued
    server: Issued  # issued by `intermediate`; serve it with `server_chain_pem`
    client: Issued  # issued by `root` (clientAuth): accepted by a server whose client CA is `root`
    other_root: Issued  # unrelated CA
    other_client: Issued  # issued by `other_root`: refused by a server trusting only `root`

    @property
    def server_chain_pem(self) -> str:
        """Server leaf followed by the intermediate (what a TLS listener sends)."""
        return pem_bundle(self.server, self.intermediate)


@functools.cache
def default_pki() -> Pki:
    """One valid PKI for the whole session (EC P-256 keys, so it is fast)."""
    root = make_root_ca()
    intermediate = make_intermediate(root)
    other_root = make_root_ca("mqttcloud other root CA", key=private_key("ec256", 110))
    return Pki(
        root=root,
        intermediate=intermediate,
        server=make_leaf(intermediate),
        client=make_leaf(root, "test-client", hosts=(), client=True),
        other_root=other_root,
        other_client=make_leaf(
            other_root, "other-client", hosts=(), client=True, key=private_key("ec256", 111)
        ),
    )


# -- X.509 v1 ------------------------------------------------------------------------------------
# cryptography only builds v3 certificates, so a v1 one is made by dropping the explicit [0] version
# field from the TBSCertificate DER and signing it again. A minimal DER writer is enough for that.


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_read(data: bytes, offset: int) -> tuple[int, int, int]:
    """Return (tag, content start, content end) of the TLV at `offset`."""
    tag = data[offset]
    first = data[offset + 1]
    if first < 0x80:
        return tag, offset + 2, offset + 2 + first
    count = first & 0x7F
    length = int.from_bytes(data[offset + 2 : offset + 2 + count], "big")
    start = offset + 2 + count
    return tag, start, start + length


def _der_tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def v1_certificate_pem(issued: Issued) -> str:
    """`issued`'s certificate re-encoded as X.509 v1 (no version field, no extensions), signed by its own key.

    Use it with `make_self_signed(...)` to get a consistent self-signed v1 certificate. EC and RSA keys only.
    """
    tbs = issued.cert.tbs_certificate_bytes
    _, start, end = _der_read(tbs, 0)
    fields: list[bytes] = []
    offset = start
    while offset < end:
        tag, _, c_end = _der_read(tbs, offset)
        if tag not in (0xA0, 0xA3):  # drop [0] version and [3] extensions
            fields.append(tbs[offset:c_end])
        offset = c_end
    new_tbs = _der_tlv(0x30, b"".join(fields))
    if isinstance(issued.key, rsa.RSAPrivateKey):
        signature = issued.key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(issued.key, ec.EllipticCurvePrivateKey):
        signature = issued.key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    else:
        raise TypeError("v1 certificates need an RSA or EC key")
    # The original signatureAlgorithm (second element) stays right for a self-signed certificate:
    # same key type, SHA-256.
    der = issued.cert.public_bytes(serialization.Encoding.DER)
    _, outer_start, _ = _der_read(der, 0)
    _, _, tbs_end = _der_read(der, outer_start)
    _, _, alg_end = _der_read(der, tbs_end)
    algorithm = der[tbs_end:alg_end]
    cert_der = _der_tlv(0x30, new_tbs + algorithm + _der_tlv(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(cert_der).public_bytes(serialization.Encoding.PEM).decode()
