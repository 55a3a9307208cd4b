"""TLS upload validation: one test per rule, each failing if that rule is removed."""

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.certs import (
    Issued,
    KeyKind,
    default_pki,
    make_intermediate,
    make_leaf,
    make_root_ca,
    make_self_signed,
    new_key,
    pem_bundle,
    private_key,
    v1_certificate_pem,
)

from mqttcloud.control.certificates.validation import CertificateRejected, ValidatedTls, validate_tls_upload
from mqttcloud.control.errors import Invalid

NOW = dt.datetime.now(dt.UTC)


def validate(
    cert: str,
    key: str,
    *,
    tls_type: str = "one-way",
    cacert: str | None = None,
    now: dt.datetime = NOW,
    min_validity_days: int = 0,
) -> ValidatedTls:
    return validate_tls_upload(
        tls_type=tls_type,
        cert_pem=cert,
        key_pem=key,
        cacert_pem=cacert,
        now=now,
        min_validity_days=min_validity_days,
    )


def rejected(rule: str, cert: str, key: str, **kwargs: object) -> CertificateRejected:
    with pytest.raises(CertificateRejected) as info:
        validate(cert, key, **kwargs)  # type: ignore[arg-type]  # kwargs mirror validate's keywords
    assert info.value.rule == rule, info.value.message
    assert info.value.message.startswith(f"certificate rejected [{rule}]")
    return info.value


# -- accepted uploads ----------------------------------------------------------------------------


def test_chain_signed_by_intermediate_is_accepted_and_normalised() -> None:
    pki = default_pki()
    result = validate(pki.server_chain_pem, pki.server.key_pem_traditional)
    assert result.cn == "localhost"
    assert result.sans == ("localhost", "127.0.0.1", "::1")
    assert result.not_after == pki.server.cert.not_valid_after_utc
    assert result.key_type == "EC P-256"
    assert result.tls_type == "one-way"
    assert result.cert_pem == pki.server_chain_pem
    assert result.key_pem == pki.server.key_pem  # PKCS#1/SEC1 in, PKCS#8 out
    assert result.cacert_pem is None


def test_chain_including_the_root_is_accepted() -> None:
    pki = default_pki()
    validate(pem_bundle(pki.server, pki.intermediate, pki.root), pki.server.key_pem)


def test_self_signed_certificate_is_accepted() -> None:
    issued = make_self_signed()
    assert validate(issued.cert_pem, issued.key_pem).cn == "localhost"


def test_two_way_with_cacert_is_accepted() -> None:
    pki = default_pki()
    result = validate(pki.server_chain_pem, pki.server.key_pem, tls_type="two-way", cacert=pki.root.cert_pem)
    assert result.cacert_pem == pki.root.cert_pem
    assert result.tls_type == "two-way"


@pytest.mark.parametrize("kind", ["rsa2048", "ec384"])
def test_rsa_2048_and_p384_keys_are_accepted(kind: KeyKind) -> None:
    issued = make_self_signed(key=private_key(kind))
    assert validate(issued.cert_pem, issued.key_pem).key_type in ("RSA 2048", "EC P-384")


def test_ec_parameters_block_before_the_key_is_ignored() -> None:
    issued = make_self_signed()
    params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    validate(issued.cert_pem, params + issued.key_pem_traditional)


def test_leaf_without_its_root_is_accepted() -> None:
    """A fullchain.pem (leaf + intermediate) stops below the root that clients already trust."""
    pki = default_pki()
    validate(pki.server_chain_pem, pki.server.key_pem)
    direct = make_leaf(pki.root)
    validate(direct.cert_pem, direct.key_pem)


def test_rejection_is_a_422_invalid() -> None:
    error = rejected("tls-type", "", "", tls_type="mutual")
    assert isinstance(error, Invalid)
    assert error.status_code == 422


# -- request shape -------------------------------------------------------------------------------


def test_tls_type_must_be_one_way_or_two_way() -> None:
    pki = default_pki()
    error = rejected("tls-type", pki.server_chain_pem, pki.server.key_pem, tls_type="three-way")
    assert "three-way" in error.message


def test_two_way_requires_cacert() -> None:
    pki = default_pki()
    rejected("cacert-required", pki.server_chain_pem, pki.server.key_pem, tls_type="two-way")
    rejected("cacert-required", pki.server_chain_pem, pki.server.key_pem, tls_type="two-way", cacert="  \n")


def test_one_way_with_cacert_is_rejected() -> None:
    pki = default_pki()
    rejected("cacert-not-allowed", pki.server_chain_pem, pki.server.key_pem, cacert=pki.root.cert_pem)


# -- PEM parsing ---------------------------------------------------------------------------------

DOCS_EXAMPLE_CERT = "-----BEGIN CERTIFICATE-----\nMII...tH6j7afSg==\n-----END CERTIFICATE-----"


@pytest.mark.parametrize(
    "cert",
    [
        "",
        "not a certificate",
        DOCS_EXAMPLE_CERT,  # the elided PEM of the documented request (spec §5 item 10)
        "-----BEGIN CERTIFICATE-----\nMIIB\n",  # truncated
    ],
)
def test_cert_must_be_pem_certificates(cert: str) -> None:
    rejected("cert-pem", cert, default_pki().server.key_pem)


def test_cert_field_must_not_hold_a_key() -> None:
    pki = default_pki()
    error = rejected("cert-pem", pki.server.cert_pem + pki.server.key_pem, pki.server.key_pem)
    assert "PRIVATE KEY" in error.message


def test_truncated_second_certificate_is_rejected() -> None:
    pki = default_pki()
    rejected("cert-pem", pki.server.cert_pem + "-----BEGIN CERTIFICATE-----\nMIIB", pki.server.key_pem)


@pytest.mark.parametrize(
    "key", ["", "garbage", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]
)
def test_key_must_be_one_pem_private_key(key: str) -> None:
    rejected("key-pem", default_pki().server.cert_pem, key)


def test_key_field_with_two_keys_is_rejected() -> None:
    pki = default_pki()
    rejected("key-pem", pki.server.cert_pem, pki.server.key_pem + pki.client.key_pem)


def test_key_field_holding_a_certificate_is_rejected() -> None:
    pki = default_pki()
    error = rejected("key-pem", pki.server.cert_pem, pki.server.cert_pem)
    assert "'CERTIFICATE', not a private key" in error.message


def test_encrypted_pkcs8_key_is_rejected_with_a_clear_message() -> None:
    pki = default_pki()
    error = rejected("key-encrypted", pki.server_chain_pem, pki.server.encrypted_key_pem())
    assert "passphrase" in error.message


def test_encrypted_traditional_key_is_rejected() -> None:
    issued = make_self_signed(key=private_key("rsa2048"))
    legacy = issued.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode()
    assert "Proc-Type: 4,ENCRYPTED" in legacy
    rejected("key-encrypted", issued.cert_pem, legacy)


def test_cacert_must_be_pem_certificates() -> None:
    pki = default_pki()
    rejected("cacert-pem", pki.server_chain_pem, pki.server.key_pem, tls_type="two-way", cacert="nonsense")


# -- certificate and key properties --------------------------------------------------------------


def test_x509_v1_certificate_is_rejected() -> None:
    issued = make_self_signed(key=private_key("ec256", 7))
    v1 = v1_certificate_pem(issued)
    assert x509.load_pem_x509_certificate(v1.encode()).version is x509.Version.v1
    rejected("x509-v3", v1, issued.key_pem)


def test_rsa_1024_is_rejected() -> None:
    issued = make_self_signed(key=private_key("rsa1024"))
    error = rejected("key-algorithm", issued.cert_pem, issued.key_pem)
    assert "1024" in error.message


def test_ec_curve_other_than_p256_p384_is_rejected() -> None:
    issued = make_self_signed(key=ec.generate_private_key(ec.SECP521R1()))
    error = rejected("key-algorithm", issued.cert_pem, issued.key_pem)
    assert "secp521r1" in error.message


def test_ed25519_key_is_rejected() -> None:
    issued = make_self_signed(key=private_key("ed25519"))
    rejected("key-algorithm", issued.cert_pem, issued.key_pem)


def test_key_must_match_the_first_certificate() -> None:
    pki = default_pki()
    rejected(
        "key-mismatch",
        pki.server_chain_pem,
        new_key("ec256")
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode(),
    )


def test_key_of_the_intermediate_is_not_the_leafs_key() -> None:
    pki = default_pki()
    error = rejected("key-mismatch", pki.server_chain_pem, pki.intermediate.key_pem)
    assert "key of certificate 2" in error.message


def test_leaf_placed_after_its_issuer_is_explained() -> None:
    pki = default_pki()
    error = rejected("key-mismatch", pem_bundle(pki.intermediate, pki.server), pki.server.key_pem)
    assert "put the server certificate first" in error.message


def test_crlf_line_endings_are_accepted() -> None:
    pki = default_pki()
    result = validate(pki.server_chain_pem.replace("\n", "\r\n"), pki.server.key_pem.replace("\n", "\r\n"))
    assert result.cert_pem == pki.server_chain_pem


# -- validity period -----------------------------------------------------------------------------


def test_expired_certificate_is_rejected() -> None:
    issued = make_self_signed(not_before=NOW - dt.timedelta(days=30), not_after=NOW - dt.timedelta(seconds=1))
    error = rejected("expired", issued.cert_pem, issued.key_pem)
    assert "expired at" in error.message


def test_not_yet_valid_certificate_is_rejected() -> None:
    issued = make_self_signed(not_before=NOW + dt.timedelta(hours=1), not_after=NOW + dt.timedelta(days=30))
    rejected("not-yet-valid", issued.cert_pem, issued.key_pem)


def test_expired_intermediate_is_rejected() -> None:
    root = default_pki().root
    old = make_intermediate(
        root, not_before=NOW - dt.timedelta(days=30), not_after=NOW - dt.timedelta(days=1)
    )
    leaf = make_leaf(old)
    rejected("expired", pem_bundle(leaf, old), leaf.key_pem)


def test_expired_cacert_is_rejected() -> None:
    pki = default_pki()
    old_ca = make_root_ca(not_before=NOW - dt.timedelta(days=30), not_after=NOW - dt.timedelta(days=1))
    rejected("expired", pki.server_chain_pem, pki.server.key_pem, tls_type="two-way", cacert=old_ca.cert_pem)


def test_validity_is_judged_at_the_given_now() -> None:
    issued = make_self_signed()
    later = issued.cert.not_valid_after_utc + dt.timedelta(seconds=1)
    rejected("expired", issued.cert_pem, issued.key_pem, now=later)
    validate(issued.cert_pem, issued.key_pem, now=later.replace(tzinfo=None) - dt.timedelta(days=1))


def test_min_validity_days_rejects_certificates_expiring_soon() -> None:
    issued = make_self_signed(not_after=NOW + dt.timedelta(days=30))
    validate(issued.cert_pem, issued.key_pem)  # default 0: short-lived certificates are fine
    validate(issued.cert_pem, issued.key_pem, min_validity_days=29)
    rejected("expires-soon", issued.cert_pem, issued.key_pem, min_validity_days=60)


# -- chain -------------------------------------------------------------------------------------


def test_chain_in_wrong_order_is_rejected() -> None:
    pki = default_pki()
    rejected("chain", pem_bundle(pki.server, pki.root, pki.intermediate), pki.server.key_pem)


def test_unrelated_certificate_in_chain_is_rejected() -> None:
    pki = default_pki()
    rejected("chain", pem_bundle(pki.server, pki.other_root), pki.server.key_pem)


def test_forged_issuer_with_same_name_but_other_key_is_rejected() -> None:
    """Name chaining alone is not enough: the signature must verify with the next certificate's key."""
    pki = default_pki()
    impostor = make_intermediate(pki.root, key=private_key("ec256", 55))  # same subject name, other key
    error = rejected("chain", pem_bundle(pki.server, impostor), pki.server.key_pem)
    assert "signature" in error.message


def test_issuer_in_chain_must_be_a_ca() -> None:
    not_ca = make_self_signed(cn="not a ca", key=private_key("ec256", 56))
    leaf = make_leaf(not_ca, key=private_key("ec256", 57))
    rejected("chain", pem_bundle(leaf, not_ca), leaf.key_pem)


def test_tampered_self_signed_certificate_is_rejected() -> None:
    """A self-issued top certificate must carry a valid self-signature."""
    key = private_key("ec256", 58)
    other = private_key("ec256", 59)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "selfish")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(other, hashes.SHA256())
    )
    issued = Issued(cert=cert, key=key)
    rejected("chain", issued.cert_pem, issued.key_pem)


def test_cacert_that_did_not_issue_the_chain_top_is_checked_when_names_match() -> None:
    pki = default_pki()
    leaf = make_leaf(pki.root)  # issued by the root, root left out of `cert`
    impostor_root = make_root_ca(key=private_key("ec256", 60))  # same name as the real root
    rejected("chain", leaf.cert_pem, leaf.key_pem, tls_type="two-way", cacert=impostor_root.cert_pem)
    validate(leaf.cert_pem, leaf.key_pem, tls_type="two-way", cacert=pki.root.cert_pem)
