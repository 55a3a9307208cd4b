"""Validation of an uploaded deployment TLS certificate (Platform API `POST/PUT .../tls`, spec §2.1.1).

`validate_tls_upload(...)` either returns a `ValidatedTls` (normalised PEM text plus the facts the API
reports: common name, expiry, SANs) or raises `CertificateRejected(rule, message)`, a 422 `Invalid`
whose message starts with the id of the rule that failed. Pure code: no files, no clock (`now` is passed).

Rules, in the order they are checked (ids in brackets):
- [tls-type] `tlsType` is "one-way" or "two-way".
- [cacert-required] "two-way" needs `cacert` (the CA that signs client certificates);
  [cacert-not-allowed] "one-way" with a `cacert` is refused, as the official Terraform provider does.
- [cert-pem] `cert` is PEM holding only CERTIFICATE blocks: the server certificate first, then its chain.
- [key-pem] `key` is exactly one PEM private key (PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY" or
  PKCS#8 "PRIVATE KEY"; an "EC PARAMETERS" block is ignored); [key-encrypted] it has no passphrase.
- [cacert-pem] `cacert`, when given, is PEM holding only certificates.
- [x509-v3] every certificate in `cert` is X.509 v3.
- [key-algorithm] the key is RSA of at least 2048 bits or ECDSA on P-256 / P-384. The console docs also
  list RSA 1024; we refuse it because current TLS clients (OpenSSL security level 2) refuse it too.
- [key-mismatch] the private key belongs to the first certificate.
- [not-yet-valid] / [expired] every certificate in `cert` and `cacert` is valid at `now`.
- [expires-soon] the server certificate is still valid `min_validity_days` after `now`. The docs'
  "cannot be imported within 60 days before the end of the validity period" is ambiguous (spec §5 item 9)
  and would refuse every short-lived test certificate, so the default is 0 days; operators can set 60.
- [chain] each certificate in `cert` is signed by the next one, which must be a CA; the last one is
  either self-signed (its own signature must verify) or issued by a CA in `cacert` (then that signature
  is checked too) or by a root the upload leaves out (clients hold it in their trust store, as for a
  Let's Encrypt fullchain.pem). The docs' "key type must match the CA's key type" is not enforced: mixed
  chains (an ECDSA leaf under an RSA root) are common and verify fine.
"""

import datetime as dt
import ipaddress
import itertools
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from mqttcloud.control.errors import Invalid

TLS_TYPES = ("one-way", "two-way")
MIN_RSA_BITS = 2048
ALLOWED_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")
_IGNORED_KEY_LABELS = ("EC PARAMETERS",)
_LEGACY_ENCRYPTED = re.compile(r"^Proc-Type:\s*4,ENCRYPTED", re.MULTILINE)  # OpenSSL traditional PEM header


class CertificateRejected(Invalid):
    """The upload breaks rule `rule`; rendered as a 422 whose message starts with the rule id."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"certificate rejected [{rule}]: {message}")
        self.rule = rule
        self.detail = message


@dataclass(frozen=True, slots=True)
class ValidatedTls:
    """An accepted upload, normalised: what the database stores and the broker serves."""

    tls_type: str  # "one-way" | "two-way"
    cn: str | None  # subject common name of the server certificate
    not_before: dt.datetime  # UTC
    not_after: dt.datetime  # UTC: the API's `expire`
    sans: tuple[str, ...]  # DNS names and IP addresses, in certificate order
    key_type: str  # "RSA 2048", "EC P-256", ...
    cert_pem: str  # server certificate followed by its chain, re-encoded
    key_pem: str  # unencrypted PKCS#8
    cacert_pem: str | None  # client CA certificates (two-way), re-encoded


@dataclass(frozen=True, slots=True)
class _Block:
    label: str
    text: str


def _pem_blocks(data: str, rule: str, field: str) -> list[_Block]:
    blocks = [_Block(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(data)]
    if data.count("-----BEGIN ") != len(blocks):
        raise CertificateRejected(rule, f"`{field}` holds a malformed or truncated PEM block")
    return blocks


def _describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


def _parse_certificates(data: str, rule: str, field: str) -> list[x509.Certificate]:
    blocks = _pem_blocks(data, rule, field)
    if not blocks:
        raise CertificateRejected(rule, f"`{field}` holds no PEM certificate")
    certs = []
    for index, block in enumerate(blocks, start=1):
        if block.label != "CERTIFICATE":
            raise CertificateRejected(
                rule, f"`{field}` block {index} is {block.label!r}; only CERTIFICATE blocks are allowed"
            )
        try:
            certs.append(x509.load_pem_x509_certificate(block.text.encode()))
        except ValueError as exc:
            raise CertificateRejected(
                rule, f"`{field}` certificate {index} cannot be decoded: {exc}"
            ) from exc
    return certs


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _parse_key(data: str) -> PrivateKey:
    blocks = [b for b in _pem_blocks(data, "key-pem", "key") if b.label not in _IGNORED_KEY_LABELS]
    if any(b.label == "ENCRYPTED PRIVATE KEY" or _LEGACY_ENCRYPTED.search(b.text) for b in blocks):
        raise CertificateRejected(
            "key-encrypted", "the private key is encrypted; upload it without a passphrase"
        )
    if len(blocks) != 1:
        raise CertificateRejected(
            "key-pem", f"`key` must hold exactly one PEM private key, found {len(blocks)}"
        )
    block = blocks[0]
    if block.label not in _KEY_LABELS:
        raise CertificateRejected("key-pem", f"`key` holds {block.label!r}, not a private key")
    try:
        key = serialization.load_pem_private_key(block.text.encode(), password=None)
    except TypeError as exc:  # cryptography: "Password was not given but private key is encrypted"
        raise CertificateRejected(
            "key-encrypted", "the private key is encrypted; upload it without a passphrase"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateRejected("key-pem", f"the private key cannot be decoded: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateRejected(
            "key-algorithm",
            f"{type(key).__name__.removeprefix('_')} keys are not supported; use RSA or ECDSA",
        )
    return key


def _key_type(key: PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise CertificateRejected(
                "key-algorithm", f"RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} are required"
            )
        return f"RSA {key.key_size}"
    curve = ALLOWED_CURVES.get(key.curve.name)
    if curve is None:
        raise CertificateRejected(
            "key-algorithm", f"EC curve {key.curve.name} is not supported; use P-256 or P-384"
        )
    return f"EC {curve}"


def _spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _when(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _check_dates(certs: list[x509.Certificate], field: str, now: dt.datetime) -> None:
    for cert in certs:
        if now < cert.not_valid_before_utc:
            raise CertificateRejected(
                "not-yet-valid",
                f"`{field}` certificate {_describe(cert)} is valid from {_when(cert.not_valid_before_utc)}",
            )
        if now > cert.not_valid_after_utc:
            raise CertificateRejected(
                "expired",
                f"`{field}` certificate {_describe(cert)} expired at {_when(cert.not_valid_after_utc)}",
            )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _verify_link(child: x509.Certificate, issuer: x509.Certificate, where: str) -> None:
    try:
        child.verify_directly_issued_by(issuer)
    except ValueError as exc:
        raise CertificateRejected(
            "chain", f"{where}: {_describe(child)} is not issued by {_describe(issuer)} ({exc})"
        ) from exc
    except InvalidSignature as exc:
        raise CertificateRejected(
            "chain",
            f"{where}: the signature on {_describe(child)} does not verify with {_describe(issuer)}'s key",
        ) from exc
    except TypeError as exc:
        raise CertificateRejected(
            "chain", f"{where}: unsupported signature on {_describe(child)} ({exc})"
        ) from exc


def _check_chain(chain: list[x509.Certificate], cacerts: list[x509.Certificate]) -> None:
    for position, (child, issuer) in enumerate(itertools.pairwise(chain), start=1):
        where = f"`cert` certificate {position} → {position + 1}"
        _verify_link(child, issuer, where)
        if not _is_ca(issuer):
            raise CertificateRejected("chain", f"{where}: {_describe(issuer)} is not a CA certificate")
    top = chain[-1]
    if top.issuer == top.subject:
        _verify_link(top, top, "self-signed certificate")
        return
    for ca in cacerts:
        if ca.subject == top.issuer:
            _verify_link(top, ca, "`cert` chain → `cacert`")
            if not _is_ca(ca):
                raise CertificateRejected("chain", f"`cacert` {_describe(ca)} is not a CA certificate")
            return
    # Issued by a root the upload leaves out: clients verify that last link with their trust store.


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    names: list[str] = []
    for name in san:
        if isinstance(name, x509.DNSName):
            names.append(name.value)
        elif isinstance(name, x509.IPAddress) and isinstance(
            name.value, ipaddress.IPv4Address | ipaddress.IPv6Address
        ):
            names.append(str(name.value))
    return tuple(names)


def _common_name(cert: x509.Certificate) -> str | None:
    attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return None
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode(errors="replace")


def _pem(certs: list[x509.Certificate]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def validate_tls_upload(
    *,
    tls_type: str,
    cert_pem: str,
    key_pem: str,
    cacert_pem: str | None,
    now: dt.datetime,
    min_validity_days: int = 0,
) -> ValidatedTls:
    """Check an uploaded certificate against every rule of the module docstring.

    Args:
        tls_type: the request's `tlsType`.
        cert_pem: server certificate, then its chain (intermediates, optionally the root).
        key_pem: the server certificate's private key.
        cacert_pem: client CA for two-way TLS; None or blank when absent.
        now: the current time (a naive value is taken as UTC).
        min_validity_days: refuse a certificate that expires sooner than this.

    Raises:
        CertificateRejected: the first rule that fails, named in `.rule` and at the start of the message.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    if tls_type not in TLS_TYPES:
        raise CertificateRejected("tls-type", f"tlsType must be 'one-way' or 'two-way', not {tls_type!r}")
    cacert_text = cacert_pem if cacert_pem and cacert_pem.strip() else None
    if tls_type == "two-way" and cacert_text is None:
        raise CertificateRejected(
            "cacert-required", "two-way TLS needs `cacert`, the CA of the client certificates"
        )
    if tls_type == "one-way" and cacert_text is not None:
        raise CertificateRejected("cacert-not-allowed", "`cacert` is only accepted with tlsType 'two-way'")

    chain = _parse_certificates(cert_pem, "cert-pem", "cert")
    key = _parse_key(key_pem)
    cacerts = _parse_certificates(cacert_text, "cacert-pem", "cacert") if cacert_text is not None else []
    leaf = chain[0]

    for position, cert in enumerate(chain, start=1):
        if cert.version is not x509.Version.v3:
            raise CertificateRejected(
                "x509-v3",
                f"`cert` certificate {position} ({_describe(cert)}) is X.509 {cert.version.name}, not v3",
            )
    key_type = _key_type(key)
    key_spki = _spki(key.public_key())
    if _spki(leaf.public_key()) != key_spki:
        message = f"the private key does not belong to the first certificate, {_describe(leaf)}"
        for position, cert in enumerate(chain[1:], start=2):
            if _spki(cert.public_key()) == key_spki:
                message += f"; it is the key of certificate {position}: put the server certificate first"
        raise CertificateRejected("key-mismatch", message)

    _check_dates(chain, "cert", now)
    _check_dates(cacerts, "cacert", now)
    if min_validity_days > 0 and leaf.not_valid_after_utc - now < dt.timedelta(days=min_validity_days):
        raise CertificateRejected(
            "expires-soon",
            f"the certificate expires at {_when(leaf.not_valid_after_utc)}, "
            f"less than {min_validity_days} days from now",
        )
    _check_chain(chain, cacerts)

    return ValidatedTls(
        tls_type=tls_type,
        cn=_common_name(leaf),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        sans=_sans(leaf),
        key_type=key_type,
        cert_pem=_pem(chain),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        cacert_pem=_pem(cacerts) if cacerts else None,
    )
