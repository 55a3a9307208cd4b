"""EMQX-compatible password hashes: each format checked against an independent computation."""

import hashlib

import bcrypt
import pytest

from mqttcloud.contracts import HashAlgorithm, SaltPosition, UserRecord
from mqttcloud.passwords import (
    PbkdfMac,
    generate_salt,
    hash_api_secret,
    hash_password,
    verify_api_secret,
    verify_password,
)

SIMPLE = [
    (HashAlgorithm.MD5, "md5"),
    (HashAlgorithm.SHA, "sha1"),
    (HashAlgorithm.SHA256, "sha256"),
    (HashAlgorithm.SHA512, "sha512"),
]


def _record(**fields: object) -> UserRecord:
    return UserRecord.model_validate({"user_id": "u", **fields})


@pytest.mark.parametrize(("algorithm", "hashlib_name"), SIMPLE)
def test_simple_hash_prefix_salt_is_hash_of_salt_then_password(
    algorithm: HashAlgorithm, hashlib_name: str
) -> None:
    hashed = hash_password("pässword", algorithm=algorithm, salt_position=SaltPosition.PREFIX, salt="s4lt")
    expected = hashlib.new(hashlib_name, b"s4lt" + "pässword".encode()).hexdigest()
    assert hashed.password_hash == expected
    assert hashed.salt == "s4lt"


@pytest.mark.parametrize(("algorithm", "hashlib_name"), SIMPLE)
def test_simple_hash_suffix_salt_is_hash_of_password_then_salt(
    algorithm: HashAlgorithm, hashlib_name: str
) -> None:
    hashed = hash_password("pw", algorithm=algorithm, salt_position=SaltPosition.SUFFIX, salt="s4lt")
    assert hashed.password_hash == hashlib.new(hashlib_name, b"pws4lt").hexdigest()


def test_disabled_salt_hashes_password_alone_and_stores_no_salt() -> None:
    hashed = hash_password("pw", algorithm=HashAlgorithm.SHA256, salt_position=SaltPosition.DISABLE)
    assert hashed.password_hash == hashlib.sha256(b"pw").hexdigest()
    assert hashed.salt == ""


def test_known_emqx_vector_sha256_suffix() -> None:
    """sha256("public" + "salt") as an EMQX export holds it, independently of hash_password."""
    record = _record(
        password_hash=hashlib.sha256(b"publicsalt").hexdigest(),
        algorithm="sha256",
        salt="salt",
        salt_position="suffix",
    )
    assert verify_password(record, b"public")
    assert not verify_password(record, b"Public")


def test_generated_salt_is_32_hex_digits_and_random() -> None:
    first = hash_password("pw", algorithm=HashAlgorithm.SHA256)
    second = hash_password("pw", algorithm=HashAlgorithm.SHA256)
    assert len(first.salt) == 32
    int(first.salt, 16)
    assert first.salt != second.salt
    assert first.password_hash != second.password_hash
    assert len(generate_salt()) == 32


def test_plain_stores_salted_text() -> None:
    hashed = hash_password("pw", algorithm=HashAlgorithm.PLAIN, salt_position=SaltPosition.PREFIX, salt="x")
    assert hashed.password_hash == "xpw"
    assert verify_password(hashed.to_record(user_id="u"), b"pw")
    assert not verify_password(hashed.to_record(user_id="u"), b"xpw")


@pytest.mark.parametrize("mac", ["sha256", "sha512", "sha1"])
def test_pbkdf2_matches_hashlib(mac: PbkdfMac) -> None:
    hashed = hash_password(
        "pw", algorithm=HashAlgorithm.PBKDF2, salt="NaCl", pbkdf2_mac=mac, pbkdf2_iterations=1000
    )
    assert hashed.password_hash == hashlib.pbkdf2_hmac(mac, b"pw", b"NaCl", 1000).hex()
    record = hashed.to_record(user_id="u")
    assert record.pbkdf2_mac == mac
    assert record.pbkdf2_iterations == 1000
    assert verify_password(record, b"pw")
    assert not verify_password(record, b"pw2")


def test_pbkdf2_verifies_any_stored_dk_length() -> None:
    """EMQX's dk_length is not in the record: the stored hex length decides it."""
    stored = hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 10, 16).hex()
    record = _record(password_hash=stored, algorithm="pbkdf2", salt="salt", pbkdf2_iterations=10)
    assert verify_password(record, b"pw")
    explicit = hash_password(
        "pw", algorithm=HashAlgorithm.PBKDF2, salt="salt", pbkdf2_iterations=10, pbkdf2_dk_length=16
    )
    assert explicit.password_hash == stored


def test_pbkdf2_iterations_are_part_of_the_hash() -> None:
    stored = hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 10).hex()
    record = _record(password_hash=stored, algorithm="pbkdf2", salt="salt", pbkdf2_iterations=11)
    assert not verify_password(record, b"pw")


def test_bcrypt_round_trip_and_salt_field() -> None:
    hashed = hash_password("pw", algorithm=HashAlgorithm.BCRYPT, bcrypt_rounds=4)
    assert hashed.password_hash.startswith("$2b$04$")
    assert hashed.salt == hashed.password_hash[:29]
    assert bcrypt.checkpw(b"pw", hashed.password_hash.encode())
    record = hashed.to_record(user_id="u", is_superuser=True)
    assert record.is_superuser
    assert verify_password(record, b"pw")
    assert not verify_password(record, b"pW")


def test_bcrypt_with_given_salt_is_deterministic() -> None:
    salt = bcrypt.gensalt(4).decode()
    first = hash_password("pw", algorithm=HashAlgorithm.BCRYPT, salt=salt)
    assert first.password_hash == bcrypt.hashpw(b"pw", salt.encode()).decode()
    assert first == hash_password("pw", algorithm=HashAlgorithm.BCRYPT, salt=salt)
    # A full hash used as the salt (as bcrypt allows) stores only the 29-character salt part.
    again = hash_password("pw", algorithm=HashAlgorithm.BCRYPT, salt=first.password_hash)
    assert again.salt == salt
    assert again.password_hash == first.password_hash


def test_bcrypt_verifies_2y_hashes_from_php_exports() -> None:
    salt = "$2y$04$" + bcrypt.gensalt(4).decode()[7:]
    record = _record(password_hash=bcrypt.hashpw(b"pw", salt.encode()).decode(), algorithm="bcrypt")
    assert verify_password(record, b"pw")


def test_bcrypt_truncates_long_passwords_like_emqx() -> None:
    hashed = hash_password("a" * 100, algorithm=HashAlgorithm.BCRYPT, bcrypt_rounds=4)
    assert verify_password(hashed.to_record(user_id="u"), b"a" * 72 + b"different tail")


def test_upper_case_hex_imports_verify() -> None:
    record = _record(password_hash=hashlib.sha256(b"pw").hexdigest().upper(), salt_position="disable")
    assert verify_password(record, b"pw")


@pytest.mark.parametrize(
    "fields",
    [
        {"algorithm": "bcrypt", "password_hash": "not a bcrypt hash"},
        {"algorithm": "pbkdf2", "password_hash": "zz-not-hex"},
        {"algorithm": "pbkdf2", "password_hash": ""},
        {"algorithm": "pbkdf2", "password_hash": "00ff", "pbkdf2_iterations": 0},
        {"algorithm": "sha256", "password_hash": ""},
    ],
)
def test_malformed_stored_records_never_match_and_never_raise(fields: dict[str, object]) -> None:
    assert verify_password(_record(**fields), b"") is False
    assert verify_password(_record(**fields), b"pw") is False


def test_to_record_carries_every_hash_field() -> None:
    hashed = hash_password(
        "pw",
        algorithm=HashAlgorithm.SHA512,
        salt_position=SaltPosition.SUFFIX,
        salt="s",
    )
    record = hashed.to_record(user_id="dev1", kind="clientid")
    assert record.kind == "clientid"
    assert record.user_id == "dev1"
    assert (record.password_hash, record.algorithm, record.salt, record.salt_position) == (
        hashed.password_hash,
        HashAlgorithm.SHA512,
        "s",
        SaltPosition.SUFFIX,
    )


def test_pbkdf2_rejects_non_positive_iterations() -> None:
    with pytest.raises(ValueError, match="positive"):
        hash_password("pw", algorithm=HashAlgorithm.PBKDF2, pbkdf2_iterations=0)


def test_api_secret_hash_is_sha256_hex_and_verifies() -> None:
    stored = hash_api_secret("s3cret")
    assert stored == hashlib.sha256(b"s3cret").hexdigest()
    assert verify_api_secret("s3cret", stored)
    assert not verify_api_secret("s3cret!", stored)
    assert not verify_api_secret("s3cret", "")
