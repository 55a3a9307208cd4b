"""Password hashes as EMQX 5's built-in database stores them, and API secret hashes.

Both planes import this leaf module: the control plane hashes passwords when users are created or
imported, and the broker verifies CONNECT passwords against the resulting `contracts.UserRecord`.

Formats (EMQX `emqx_passwd` / `emqx_authn_password_hashing`, so users import from EMQX unchanged):
- plain, md5, sha (SHA-1), sha256, sha512: `hash(salt + password)` (salt position "prefix"),
  `hash(password + salt)` ("suffix") or `hash(password)` ("disable"); digests are lower-case hex,
  "plain" stores the salted text itself. A generated salt is 32 hex digits (16 random bytes).
- pbkdf2: hex of PBKDF2-HMAC(mac, password, salt, iterations, dk_length); dk_length defaults to the
  mac's digest size. Verification derives as many bytes as the stored hex holds, so any dk_length
  EMQX was configured with still verifies.
- bcrypt: the full modular-crypt string (`$2b$10$...`); the salt field holds its first 29 characters,
  as EMQX does. Passwords are truncated to bcrypt's 72 bytes, as EMQX's C bcrypt does silently.

Rules this module must not break:
- Every comparison of secret material is constant-time (`hmac.compare_digest` / `bcrypt.checkpw`).
- `verify_password` never raises for a malformed stored record: it answers False.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

import bcrypt

from mqttcloud.contracts import HashAlgorithm, SaltPosition, UserRecord

PbkdfMac = Literal["sha256", "sha512", "sha1"]

BCRYPT_MAX_PASSWORD = 72  # bytes bcrypt uses; the rest is ignored
BCRYPT_SALT_LENGTH = 29  # "$2b$" + 2 cost digits + "$" + 22 salt characters
DEFAULT_BCRYPT_ROUNDS = 10  # EMQX salt_rounds default
DEFAULT_PBKDF2_ITERATIONS = 4096

_SIMPLE_HASHES = {
    HashAlgorithm.MD5: "md5",
    HashAlgorithm.SHA: "sha1",
    HashAlgorithm.SHA256: "sha256",
    HashAlgorithm.SHA512: "sha512",
}


@dataclass(frozen=True, slots=True)
class HashedPassword:
    """The hash fields of a `contracts.UserRecord` (same names), ready to store."""

    password_hash: str
    algorithm: HashAlgorithm
    salt: str
    salt_position: SaltPosition
    pbkdf2_iterations: int = DEFAULT_PBKDF2_ITERATIONS
    pbkdf2_mac: PbkdfMac = "sha256"

    def to_record(
        self,
        *,
        user_id: str,
        kind: Literal["username", "clientid"] = "username",
        is_superuser: bool = False,
    ) -> UserRecord:
        """A complete user record carrying these hash fields."""
        return UserRecord(
            kind=kind,
            user_id=user_id,
            password_hash=self.password_hash,
            algorithm=self.algorithm,
            salt=self.salt,
            salt_position=self.salt_position,
            pbkdf2_iterations=self.pbkdf2_iterations,
            pbkdf2_mac=self.pbkdf2_mac,
            is_superuser=is_superuser,
        )


def generate_salt() -> str:
    """A random salt as EMQX generates it: 16 random bytes as 32 lower-case hex digits."""
    return secrets.token_hex(16)


def _salted(password: bytes, salt: bytes, position: SaltPosition) -> bytes:
    if position is SaltPosition.PREFIX:
        return salt + password
    if position is SaltPosition.SUFFIX:
        return password + salt
    return password


def _pbkdf2(password: bytes, salt: bytes, mac: str, iterations: int, dk_length: int | None) -> bytes:
    return hashlib.pbkdf2_hmac(mac, password, salt, iterations, dk_length)


def hash_password(
    password: str | bytes,
    *,
    algorithm: HashAlgorithm = HashAlgorithm.SHA256,
    salt_position: SaltPosition = SaltPosition.PREFIX,
    salt: str | None = None,
    bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS,
    pbkdf2_iterations: int = DEFAULT_PBKDF2_ITERATIONS,
    pbkdf2_mac: PbkdfMac = "sha256",
    pbkdf2_dk_length: int | None = None,
) -> HashedPassword:
    """Hash `password` the way EMQX's built-in database would.

    Args:
        password: the clear password (str is encoded as UTF-8).
        algorithm: the EMQX algorithm name.
        salt_position: where the salt goes for plain/md5/sha*; ignored (and stored as given) for
            bcrypt and pbkdf2, which always use their salt.
        salt: the salt to use; None generates one when the algorithm uses a salt (for bcrypt, a
            `$2b$NN$...` salt of `bcrypt_rounds`). With salt position "disable" the salt is "".
        bcrypt_rounds: bcrypt cost when a salt is generated (4..31).
        pbkdf2_iterations, pbkdf2_mac, pbkdf2_dk_length: PBKDF2 parameters; dk_length None = digest size.

    Raises:
        ValueError: an invalid bcrypt salt, non-positive PBKDF2 iterations / length, or (UnicodeDecodeError)
            a non-UTF-8 password for "plain", which stores the password as text.
    """
    secret = password.encode() if isinstance(password, str) else password
    if algorithm is HashAlgorithm.BCRYPT:
        bsalt = salt if salt is not None else bcrypt.gensalt(bcrypt_rounds).decode()
        digest = bcrypt.hashpw(secret[:BCRYPT_MAX_PASSWORD], bsalt.encode()).decode()
        return HashedPassword(
            password_hash=digest,
            algorithm=algorithm,
            salt=digest[:BCRYPT_SALT_LENGTH],
            salt_position=salt_position,
        )
    if algorithm is HashAlgorithm.PBKDF2:
        if pbkdf2_iterations < 1 or (pbkdf2_dk_length is not None and pbkdf2_dk_length < 1):
            raise ValueError("pbkdf2 iterations and dk_length must be positive")
        psalt = salt if salt is not None else generate_salt()
        derived = _pbkdf2(secret, psalt.encode(), pbkdf2_mac, pbkdf2_iterations, pbkdf2_dk_length)
        return HashedPassword(
            password_hash=derived.hex(),
            algorithm=algorithm,
            salt=psalt,
            salt_position=salt_position,
            pbkdf2_iterations=pbkdf2_iterations,
            pbkdf2_mac=pbkdf2_mac,
        )
    ssalt = salt if salt is not None else generate_salt()
    if salt_position is SaltPosition.DISABLE:
        ssalt = ""
    data = _salted(secret, ssalt.encode(), salt_position)
    if algorithm is HashAlgorithm.PLAIN:
        # EMQX's plain "hash" is the salted data itself; a non-UTF-8 password cannot be stored as text.
        stored = data.decode()
    else:
        stored = hashlib.new(_SIMPLE_HASHES[algorithm], data).hexdigest()
    return HashedPassword(password_hash=stored, algorithm=algorithm, salt=ssalt, salt_position=salt_position)


def verify_password(record: UserRecord, password: bytes) -> bool:
    """Whether `password` (the CONNECT password bytes) matches the stored hash, in constant time."""
    try:
        return _verify(record, password)
    except (ValueError, TypeError, UnicodeError):
        # Malformed stored material (bad bcrypt string, odd hex, unknown mac): no match.
        return False


def _verify(record: UserRecord, password: bytes) -> bool:
    algorithm = record.algorithm
    salt = record.salt.encode()
    if algorithm is HashAlgorithm.BCRYPT:
        return bcrypt.checkpw(password[:BCRYPT_MAX_PASSWORD], record.password_hash.encode())
    if algorithm is HashAlgorithm.PBKDF2:
        stored = bytes.fromhex(record.password_hash)
        # An empty hash or iterations < 1 make hashlib raise ValueError: no match.
        derived = _pbkdf2(password, salt, record.pbkdf2_mac, record.pbkdf2_iterations, len(stored))
        return hmac.compare_digest(derived, stored)
    data = _salted(password, salt, record.salt_position)
    if algorithm is HashAlgorithm.PLAIN:
        return hmac.compare_digest(data, record.password_hash.encode())
    digest = hashlib.new(_SIMPLE_HASHES[algorithm], data).hexdigest()
    # Imported hashes may be upper-case hex; EMQX writes lower-case.
    return hmac.compare_digest(digest.encode(), record.password_hash.lower().encode())


def hash_api_secret(secret: str) -> str:
    """SHA-256 hex of an API secret. Secrets are long random strings, so a fast hash is enough."""
    return hashlib.sha256(secret.encode()).hexdigest()


def verify_api_secret(secret: str, stored: str) -> bool:
    """Whether `secret` hashes to `stored` (constant-time comparison)."""
    return hmac.compare_digest(hash_api_secret(secret).encode(), stored.lower().encode())
